package imapd

import (
	"context"
	"slices"
	"strings"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// listOptions are LIST's selection and return options (RFC 5258 §3, RFC
// 6154 §5.1, RFC 5819).
type listOptions struct {
	selectSubscribed, selectSpecialUse, recursive bool
	returnSubscribed, returnStatus                bool
}

// parseListOptions checks LIST's options: RFC 5258 §3 answers BAD to an
// unknown selection option and to RECURSIVEMATCH alone (or with REMOTE
// only); unknown return options are BAD too (§3: the server MUST).
func parseListOptions(a *imapwire.ListArgs) (listOptions, error) {
	var o listOptions
	other := false
	for _, s := range a.Select {
		switch s {
		case "SUBSCRIBED":
			o.selectSubscribed, other = true, true
		case "SPECIAL-USE":
			o.selectSpecialUse, other = true, true
		case "RECURSIVEMATCH":
			o.recursive = true
		case "REMOTE": // RFC 5258 §3: no remote mailboxes here
		default:
			return o, imapengine.Bad("CLIENTBUG", "Unknown LIST selection option "+s)
		}
	}
	if o.recursive && !other {
		return o, imapengine.Bad("CLIENTBUG", "RECURSIVEMATCH needs another selection option")
	}
	for _, r := range a.Return {
		switch r {
		case "SUBSCRIBED":
			o.returnSubscribed = true
		case "STATUS":
			o.returnStatus = true
		case "CHILDREN", "SPECIAL-USE": // always returned
		default:
			return o, imapengine.Bad("CLIENTBUG", "Unknown LIST return option "+r)
		}
	}
	// RFC 5258 §3: SUBSCRIBED selection implies the return option.
	o.returnSubscribed = o.returnSubscribed || o.selectSubscribed
	return o, nil
}

// listEntry is a name LIST may show: a mailbox, a parent name of
// mailboxes that has none of its own, or a subscribed name.
type listEntry struct {
	mb         store.Mailbox
	exists     bool
	subscribed bool
}

// List answers LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.8-9, RFC
// 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS).
//
// A name is listed when it matches a pattern and meets the selection
// (every name when none is given). A name that does not meet it is still
// listed when one of its descendants does but matches no pattern, so that
// a "%" that stops at it shows the client there is more below: as
// \Noselect by plain LIST (a parent left by DELETE, RFC 3501 §6.3.8) and
// LSUB (a non-subscribed parent of a subscribed child, §6.3.9), with
// CHILDINFO by LIST (SUBSCRIBED RECURSIVEMATCH) (RFC 5258 §3.5, §4).
// Subscribed names with no mailbox are \NonExistent (RFC 5258 §3.4).
func (sess *session) List(ctx context.Context, a *imapwire.ListArgs) error {
	o, err := parseListOptions(a)
	if err != nil {
		return err
	}
	if a.Lsub {
		o = listOptions{selectSubscribed: true}
	}
	mbs, err := sess.srv.deps.Store.Mailboxes(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	entries := map[string]*listEntry{}
	entry := func(n string) *listEntry {
		e := entries[n]
		if e == nil {
			e = &listEntry{}
			entries[n] = e
		}
		return e
	}
	addParents := func(n string) {
		for i := strings.IndexByte(n, delim); i >= 0; {
			entry(n[:i])
			j := strings.IndexByte(n[i+1:], delim)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	for _, mb := range mbs {
		e := entry(mb.Name)
		e.mb, e.exists, e.subscribed = mb, true, mb.Subscribed
		addParents(mb.Name)
	}
	if o.selectSubscribed || o.returnSubscribed {
		lone, err := sess.srv.deps.Store.LoneSubscriptions(ctx, sess.acct.ID)
		if err != nil {
			return sess.storeErr(err)
		}
		for _, n := range lone {
			entry(n).subscribed = true
			addParents(n)
		}
	}
	selected := func(e *listEntry) bool {
		switch {
		case o.selectSubscribed:
			return e.subscribed && (!o.selectSpecialUse || e.mb.SpecialUse != "")
		case o.selectSpecialUse:
			return e.exists && e.mb.SpecialUse != ""
		}
		return e.exists
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
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
	// below reports whether name has a descendant that exists, and one
	// that meets the selection without matching any pattern.
	below := func(i int) (children, hidden bool) {
		p := names[i] + string(delim)
		for _, m := range names[i+1:] {
			if !strings.HasPrefix(m, p) {
				if names[i] == store.Inbox {
					continue // INBOX sorts first, its children later
				}
				break
			}
			e := entries[m]
			children = children || e.exists
			if !hidden && selected(e) && !matchAny(m, a.Reference, a.Patterns) {
				hidden = true
			}
		}
		return children, hidden
	}
	w := sess.conn.Writer()
	for i, name := range names {
		if !matchAny(name, a.Reference, a.Patterns) {
			continue
		}
		e := entries[name]
		children, hidden := below(i)
		sel := selected(e)
		if !sel && !hidden {
			continue
		}
		d := imapwire.ListData{Lsub: a.Lsub, Delimiter: delim, Name: name}
		switch {
		case !e.exists && a.Extended:
			// RFC 5258 §3.4: \NonExistent implies \Noselect.
			d.Attrs = append(d.Attrs, `\NonExistent`)
		case !e.exists || (a.Lsub && !sel):
			d.Attrs = append(d.Attrs, `\Noselect`)
		}
		if !a.Lsub {
			// RFC 5258 §4 (CHILDREN): whether mailboxes exist below,
			// subscribed or not; given whether asked or not (RFC 3348).
			if children {
				d.Attrs = append(d.Attrs, `\HasChildren`)
			} else {
				d.Attrs = append(d.Attrs, `\HasNoChildren`)
			}
			if o.returnSubscribed && e.subscribed {
				d.Attrs = append(d.Attrs, `\Subscribed`)
			}
		}
		if e.exists && e.mb.SpecialUse != "" {
			// RFC 6154 §2: returned by plain LIST too, which clients
			// such as Thunderbird rely on.
			d.Attrs = append(d.Attrs, e.mb.SpecialUse)
		}
		if o.recursive && o.selectSubscribed && hidden {
			// RFC 5258 §4: CHILDINFO names the selection criteria a
			// descendant the pattern did not reach meets.
			d.ChildInfo = []string{"SUBSCRIBED"}
		}
		w.List(d)
		if e.exists && o.returnStatus {
			// RFC 5819 §2: STATUS follows the mailbox's LIST, for
			// selectable mailboxes only.
			items, err := sess.status(ctx, e.mb, a.Status)
			if err != nil {
				return err
			}
			w.StatusResponse(e.mb.Name, items)
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
