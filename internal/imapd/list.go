package imapd

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"pail/internal/store"
)

// List answers LIST and LSUB (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED,
// RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS). A name that only exists as
// the parent of others (after its DELETE) is listed as \Noselect.
func (sess *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	// RFC 9051 §6.3.9: LIST "" "" returns the delimiter and root.
	if len(patterns) == 1 && patterns[0] == "" {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim, Mailbox: ""})
	}
	mbs, err := sess.srv.deps.Store.Mailboxes(sess.srv.ctx, sess.acct.ID)
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
	for _, name := range names {
		if !matchAny(name, ref, patterns) {
			continue
		}
		mb, ok := real[name]
		if options.SelectSubscribed && (!ok || !mb.Subscribed) {
			continue
		}
		if options.SelectSpecialUse && (!ok || mb.SpecialUse == "") {
			continue
		}
		data := &imap.ListData{Delim: delim, Mailbox: name}
		if !ok {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		if hasChildren(name) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if ok && mb.SpecialUse != "" {
			// RFC 6154 §2: returned by plain LIST too, which clients
			// such as Thunderbird rely on.
			data.Attrs = append(data.Attrs, imap.MailboxAttr(mb.SpecialUse))
		}
		if ok && mb.Subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if ok && options.ReturnStatus != nil {
			st, err := sess.status(mb, options.ReturnStatus)
			if err != nil {
				return err
			}
			data.Status = st
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// matchAny reports whether name matches one of the LIST patterns. INBOX
// matches case-insensitively (RFC 9051 §5.1).
func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, delim, ref, p) {
			return true
		}
		if name == store.Inbox && ref == "" && strings.EqualFold(p, store.Inbox) {
			return true
		}
	}
	return false
}
