package imapd

import (
	"context"
	"slices"
	"strings"

	"pail/internal/imapwire"
	"pail/internal/store"
)

// listOptions are LIST's selection and return options (RFC 5258 §3, RFC
// 6154 §5.1, RFC 5819).
type listOptions struct {
	selectSubscribed, selectSpecialUse bool
	returnSubscribed, returnStatus     bool
}

func parseListOptions(a *imapwire.ListArgs) listOptions {
	var o listOptions
	for _, s := range a.Select {
		switch s {
		case "SUBSCRIBED":
			o.selectSubscribed = true
		case "SPECIAL-USE":
			o.selectSpecialUse = true
		}
	}
	for _, r := range a.Return {
		switch r {
		case "SUBSCRIBED":
			o.returnSubscribed = true
		case "STATUS":
			o.returnStatus = true
		}
	}
	return o
}

// List answers LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9, RFC 5258
// LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS). A name that
// only exists as the parent of others (after its DELETE) is listed as
// \Noselect. LSUB lists the subscribed mailboxes.
func (sess *session) List(ctx context.Context, a *imapwire.ListArgs) error {
	o := parseListOptions(a)
	if a.Lsub {
		o = listOptions{selectSubscribed: true}
	}
	mbs, err := sess.srv.deps.Store.Mailboxes(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	real := map[string]store.Mailbox{}
	all := map[string]bool{}
	for _, mb := range mbs {
		real[mb.Name] = mb
		all[mb.Name] = true
		parts := strings.Split(mb.Name, string(delim))
		for i := 1; i < len(parts); i++ {
			all[strings.Join(parts[:i], string(delim))] = true
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		// INBOX first, then by name.
		if (a == store.Inbox) != (b == store.Inbox) {
			if a == store.Inbox {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	hasChildren := func(n string) bool {
		p := n + string(delim)
		for m := range all {
			if strings.HasPrefix(m, p) {
				return true
			}
		}
		return false
	}
	w := sess.conn.Writer()
	for _, name := range names {
		if !matchAny(name, a.Reference, a.Patterns) {
			continue
		}
		mb, ok := real[name]
		if o.selectSubscribed && (!ok || !mb.Subscribed) {
			continue
		}
		if o.selectSpecialUse && (!ok || mb.SpecialUse == "") {
			continue
		}
		d := imapwire.ListData{Lsub: a.Lsub, Delimiter: delim, Name: name}
		if !ok {
			d.Attrs = append(d.Attrs, `\Noselect`)
		}
		if !a.Lsub {
			if hasChildren(name) {
				d.Attrs = append(d.Attrs, `\HasChildren`)
			} else {
				d.Attrs = append(d.Attrs, `\HasNoChildren`)
			}
		}
		if ok && mb.SpecialUse != "" {
			// RFC 6154 §2: returned by plain LIST too, which clients
			// such as Thunderbird rely on.
			d.Attrs = append(d.Attrs, mb.SpecialUse)
		}
		if !a.Lsub && ok && mb.Subscribed && (o.returnSubscribed || o.selectSubscribed) {
			d.Attrs = append(d.Attrs, `\Subscribed`)
		}
		w.List(d)
		if ok && o.returnStatus {
			// RFC 5819 §2: STATUS follows the mailbox's LIST.
			items, err := sess.status(ctx, mb, a.Status)
			if err != nil {
				return err
			}
			w.StatusResponse(mb.Name, items)
		}
	}
	return nil
}

// matchAny reports whether name matches one of the LIST patterns. INBOX
// matches case-insensitively (RFC 9051 §5.1).
func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if matchList(name, ref, p) {
			return true
		}
		if name == store.Inbox && ref == "" && strings.EqualFold(p, store.Inbox) {
			return true
		}
	}
	return false
}
