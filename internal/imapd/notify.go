package imapd

import (
	"context"
	"slices"
	"strings"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// NOTIFY (RFC 5465). The client's event groups are kept, and with them
// what it has been told of each mailbox; a wake-up (any event of the
// account, see Watch) compares the store with that picture and writes
// the difference. Events are hints that may be dropped (store.Event), so
// the comparison, not the event, says what changed.

// maxNotifyChanges bounds the mailboxes one round of notifications may
// report on: past it the client is better off re-reading everything,
// which NOTIFICATIONOVERFLOW tells it (RFC 5465 §5.8).
const maxNotifyChanges = 1000

// supportedEvents are the events pail sends, for BADEVENT (RFC 5465 §5:
// the code lists them). No annotations or metadata (RFC 5257, 5464).
const supportedEvents = "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"

// notifyState is what NOTIFY SET asked for and what the client knows.
type notifyState struct {
	groups   []imapwire.NotifyGroup // the groups of other mailboxes, in order
	selected *imapwire.NotifyGroup  // SELECTED or SELECTED-DELAYED, or nil
	seen     map[int64]notifySeen   // by mailbox ID
}

// notifySeen is what the client was told of one mailbox.
type notifySeen struct {
	name                 string
	subscribed           bool
	uidValidity, uidNext uint32
	modseq               uint64
	messages, unseen     uint32
}

func hasEvent(g *imapwire.NotifyGroup, ev string) bool {
	return g != nil && slices.Contains(g.Events, ev)
}

// messageEvents reports whether the group asks for message events (RFC
// 5465 §5.2-5.3: MessageNew and MessageExpunge come together).
func messageEvents(g *imapwire.NotifyGroup) bool { return hasEvent(g, "MessageNew") }

// Notifying reports whether NOTIFY SET is in force.
func (sess *session) Notifying() bool { return sess.ntf != nil }

// Notify runs NOTIFY SET and NOTIFY NONE (RFC 5465 §3).
func (sess *session) Notify(ctx context.Context, a *imapwire.NotifyArgs) error {
	if a.None {
		sess.ntf = nil
		return nil
	}
	n := &notifyState{seen: map[int64]notifySeen{}}
	for i := range a.Groups {
		g := a.Groups[i]
		for _, ev := range g.Events {
			switch ev {
			case "AnnotationChange", "MailboxMetadataChange", "ServerMetadataChange":
				// RFC 5465 §5: an event the server does not
				// support is NO [BADEVENT], the NOTIFY in force
				// unchanged.
				return &imapengine.Error{Status: imapwire.NO, Code: "BADEVENT", Arg: supportedEvents,
					Text: ev + " is not supported"}
			}
		}
		// RFC 5465 §5.2, §5.3: MessageNew and MessageExpunge together,
		// FlagChange only with them.
		if hasEvent(&g, "MessageNew") != hasEvent(&g, "MessageExpunge") {
			return imapengine.Bad("CLIENTBUG", "MessageNew and MessageExpunge go together")
		}
		if hasEvent(&g, "FlagChange") && !hasEvent(&g, "MessageNew") {
			return imapengine.Bad("CLIENTBUG", "FlagChange needs MessageNew and MessageExpunge")
		}
		switch g.Filter {
		case "SELECTED", "SELECTED-DELAYED":
			if n.selected != nil {
				return imapengine.Bad("CLIENTBUG", "SELECTED given twice")
			}
			n.selected = &g
			continue
		}
		if len(g.Fetch) > 0 {
			// RFC 5465 §5.2: fetch attributes only for the
			// selected mailbox.
			return imapengine.Bad("CLIENTBUG", "MessageNew fetch attributes are for SELECTED only")
		}
		for j, m := range g.Mailboxes {
			name, err := cleanName(m)
			if err != nil {
				return err
			}
			g.Mailboxes[j] = name
		}
		n.groups = append(n.groups, g)
	}
	mbs, err := sess.srv.deps.Store.Mailboxes(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	w := sess.conn.Writer()
	for _, mb := range mbs {
		s := notifySeen{name: mb.Name, subscribed: mb.Subscribed,
			uidValidity: mb.UIDValidity, uidNext: mb.UIDNext, modseq: mb.ModSeq}
		g := n.group(mb.Name, mb.Subscribed)
		if messageEvents(g) && !sess.isSelected(mb.ID) {
			items, c, err := sess.notifyStatus(ctx, mb, g)
			if err != nil {
				return err
			}
			s.messages, s.unseen = c.Messages, c.Unseen
			if a.Status {
				// RFC 5465 §3: SET STATUS starts with the STATUS
				// of each mailbox the message events cover.
				w.StatusResponse(mb.Name, items)
			}
		}
		n.seen[mb.ID] = s
	}
	sess.ntf = n
	return w.Err()
}

// isSelected reports whether mailbox id is the one selected.
func (sess *session) isSelected(id int64) bool { return sess.sel != nil && sess.sel.mb.ID == id }

// group returns the first group whose filter takes the mailbox (RFC
// 5465 §6), or nil.
func (n *notifyState) group(name string, subscribed bool) *imapwire.NotifyGroup {
	for i := range n.groups {
		g := &n.groups[i]
		switch g.Filter {
		case "PERSONAL":
			return g // one personal namespace (RFC 2342), every mailbox
		case "INBOXES":
			// §6.3: the mailboxes mail is delivered to; pail's
			// delivery goes to INBOX (Sieve fileinto aside).
			if name == store.Inbox {
				return g
			}
		case "SUBSCRIBED":
			if subscribed {
				return g
			}
		case "MAILBOXES":
			if slices.Contains(g.Mailboxes, name) {
				return g
			}
		case "SUBTREE":
			for _, m := range g.Mailboxes {
				if name == m || strings.HasPrefix(name, m+string(delim)) {
					return g
				}
			}
		}
	}
	return nil
}

// notifyStatus gives the STATUS items of a notification (RFC 5465 §5.2,
// §5.3): MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and HIGHESTMODSEQ for
// FlagChange when CONDSTORE is on (RFC 7162 §3.1).
func (sess *session) notifyStatus(ctx context.Context, mb store.Mailbox, g *imapwire.NotifyGroup) ([]imapwire.StatusItem, store.MailboxCounts, error) {
	c, err := sess.srv.deps.Store.MailboxStatus(ctx, mb.ID)
	if err != nil {
		return nil, c, sess.storeErr(err)
	}
	items := []imapwire.StatusItem{
		{Name: "MESSAGES", Value: uint64(c.Messages)},
		{Name: "UIDNEXT", Value: uint64(mb.UIDNext)},
		{Name: "UIDVALIDITY", Value: uint64(mb.UIDValidity)},
		{Name: "UNSEEN", Value: uint64(c.Unseen)},
	}
	if sess.conn.CondStore() && hasEvent(g, "FlagChange") {
		items = append(items, imapwire.StatusItem{Name: "HIGHESTMODSEQ", Value: mb.ModSeq})
	}
	return items, c, nil
}

// notification is one response a round of Notifications owes.
type notification struct {
	list   *imapwire.ListData
	status store.Mailbox // with g, when list is nil
	g      *imapwire.NotifyGroup
}

// Notifications writes what changed since the client was last told
// (RFC 5465 §5): the selected mailbox's changes as Poll writes them
// (EXPUNGE held back under SELECTED-DELAYED, §6.1), with MessageNew's
// fetch attributes for new messages (§5.2); STATUS for other mailboxes
// (§5.2, §5.3); LIST for created, renamed (OLDNAME) and deleted
// (\NonExistent) mailboxes (§5.4) and for subscription changes (§5.5).
func (sess *session) Notifications(ctx context.Context) error {
	n := sess.ntf
	if n == nil {
		return nil
	}
	if messageEvents(n.selected) && sess.sel != nil {
		top := sess.sel.maxUID()
		if err := sess.Poll(ctx, n.selected.Filter == "SELECTED"); err != nil {
			return err
		}
		if len(n.selected.Fetch) > 0 && sess.sel.maxUID() > top {
			a := &imapwire.FetchArgs{Items: n.selected.Fetch,
				Set: imapwire.SeqSet{Ranges: []imapwire.SeqRange{{Start: top + 1, Stop: sess.sel.maxUID()}}}}
			if err := sess.Fetch(ctx, true, a); err != nil {
				return err
			}
		}
	}
	mbs, err := sess.srv.deps.Store.Mailboxes(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	var out []notification
	now := make(map[int64]bool, len(mbs))
	for _, mb := range mbs {
		now[mb.ID] = true
		prev, known := n.seen[mb.ID]
		g := n.group(mb.Name, mb.Subscribed)
		if known && prev.name != mb.Name && g == nil {
			g = n.group(prev.name, prev.subscribed) // renamed out of the filter
		}
		s := prev
		s.name, s.subscribed = mb.Name, mb.Subscribed
		switch {
		case !known && hasEvent(g, "MailboxName"):
			out = append(out, notification{list: sess.notifyList(mb, "")})
		case known && prev.name != mb.Name && hasEvent(g, "MailboxName"):
			out = append(out, notification{list: sess.notifyList(mb, prev.name)})
		case known && prev.subscribed != mb.Subscribed && hasEvent(g, "SubscriptionChange"):
			out = append(out, notification{list: sess.notifyList(mb, "")})
		}
		if !known {
			// A new mailbox: its LIST says it is there, and its
			// STATUS comes when its messages change (it is made
			// empty, RFC 9051 §6.3.4).
			s = notifySeen{name: mb.Name, subscribed: mb.Subscribed,
				uidValidity: mb.UIDValidity, uidNext: mb.UIDNext, modseq: mb.ModSeq}
		}
		if messageEvents(g) && !sess.isSelected(mb.ID) &&
			(s.uidNext != mb.UIDNext || s.modseq != mb.ModSeq || s.uidValidity != mb.UIDValidity) {
			out = append(out, notification{status: mb, g: g})
			// The counts are read when it is written.
		} else {
			s.uidNext, s.modseq, s.uidValidity = mb.UIDNext, mb.ModSeq, mb.UIDValidity
		}
		n.seen[mb.ID] = s
	}
	for id, prev := range n.seen {
		if now[id] {
			continue
		}
		delete(n.seen, id)
		if hasEvent(n.group(prev.name, prev.subscribed), "MailboxName") {
			out = append(out, notification{list: &imapwire.ListData{
				Attrs: []string{`\NonExistent`}, Delimiter: delim, Name: prev.name}})
		}
	}
	w := sess.conn.Writer()
	if len(out) > sess.srv.notifyMax {
		// RFC 5465 §5.8: too much to tell; from here as NOTIFY NONE.
		w.Status("", imapwire.OK, imapwire.NewCode("NOTIFICATIONOVERFLOW"), "Too many changes, notifications stopped")
		sess.ntf = nil
		return w.Err()
	}
	for _, o := range out {
		if o.list != nil {
			w.List(*o.list)
			continue
		}
		if err := sess.notifyMailbox(ctx, o.status, o.g); err != nil {
			return err
		}
	}
	return w.Err()
}

// notifyMailbox writes the STATUS of a mailbox whose counters moved,
// if what changed is what the group asked for: MESSAGES, UIDNEXT or
// UIDVALIDITY for MessageNew/MessageExpunge, UNSEEN or HIGHESTMODSEQ for
// FlagChange (RFC 5465 §5.2, §5.3).
func (sess *session) notifyMailbox(ctx context.Context, mb store.Mailbox, g *imapwire.NotifyGroup) error {
	n := sess.ntf
	prev := n.seen[mb.ID]
	items, c, err := sess.notifyStatus(ctx, mb, g)
	if err != nil {
		return err
	}
	news := c.Messages != prev.messages || mb.UIDNext != prev.uidNext || mb.UIDValidity != prev.uidValidity
	flags := hasEvent(g, "FlagChange") && (c.Unseen != prev.unseen || (sess.conn.CondStore() && mb.ModSeq != prev.modseq))
	if news || flags {
		sess.conn.Writer().StatusResponse(mb.Name, items)
	}
	prev.messages, prev.unseen = c.Messages, c.Unseen
	prev.uidNext, prev.modseq, prev.uidValidity = mb.UIDNext, mb.ModSeq, mb.UIDValidity
	n.seen[mb.ID] = prev
	return nil
}

// notifyList is the LIST of a mailbox's name (RFC 5465 §5.4, §5.5): its
// attributes with \Subscribed when it is (as LIST RETURN (SUBSCRIBED)
// would give them) and OLDNAME after a rename (RFC 9051 §7.3.1).
func (sess *session) notifyList(mb store.Mailbox, oldName string) *imapwire.ListData {
	d := &imapwire.ListData{Delimiter: delim, Name: mb.Name, OldName: oldName}
	if mb.Subscribed {
		d.Attrs = append(d.Attrs, `\Subscribed`)
	}
	if mb.SpecialUse != "" {
		d.Attrs = append(d.Attrs, mb.SpecialUse)
	}
	return d
}

var _ imapengine.Notifier = (*session)(nil)
