package imapd

import (
	"context"
	"strings"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// Create makes a mailbox and any missing parents (RFC 9051 §6.3.4), with
// an RFC 6154 special-use attribute if asked (CREATE-SPECIAL-USE), and
// answers its MAILBOXID (RFC 8474 §4.1).
func (sess *session) Create(ctx context.Context, a *imapwire.CreateArgs) (*imapwire.Code, error) {
	name, err := cleanName(a.Mailbox)
	if err != nil {
		return nil, err
	}
	if name == store.Inbox {
		return nil, sess.storeErr(store.ErrExists)
	}
	use := ""
	switch len(a.SpecialUse) {
	case 0:
	case 1:
		use = specialUse(a.SpecialUse[0])
		if use == "" {
			return nil, imapengine.No("USEATTR", "Unknown special-use attribute")
		}
	default:
		return nil, imapengine.No("USEATTR", "One special-use attribute per mailbox")
	}
	mb, err := sess.srv.deps.Store.CreateMailboxPath(ctx, sess.acct.ID, name, use)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	// RFC 8474 §4.1: CREATE's OK carries the new mailbox's MAILBOXID.
	return imapwire.CodeMailboxID(mb.ObjectID), nil
}

// specialUse returns the canonical spelling of an RFC 6154 attribute, or
// "".
func specialUse(a string) string {
	for _, u := range []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`} {
		if strings.EqualFold(a, u) {
			return u
		}
	}
	return ""
}

// Delete removes a mailbox and its messages (RFC 9051 §6.3.5). INBOX
// cannot be deleted; children stay and their parent name becomes
// \Noselect.
func (sess *session) Delete(ctx context.Context, name string) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	return sess.storeErr(sess.srv.deps.Store.DeleteMailbox(ctx, sess.acct.ID, name))
}

// Rename renames a mailbox with its children (RFC 9051 §6.3.6); renaming
// INBOX moves its messages to the new mailbox.
func (sess *session) Rename(ctx context.Context, oldName, newName string) error {
	oldName, err := cleanName(oldName)
	if err != nil {
		return err
	}
	newName, err = cleanName(newName)
	if err != nil {
		return err
	}
	return sess.storeErr(sess.srv.deps.Store.RenameMailbox(ctx, sess.acct.ID, oldName, newName))
}

// Subscribe adds a mailbox to the subscribed list or removes it (RFC 9051
// §6.3.7, §6.3.8).
func (sess *session) Subscribe(ctx context.Context, name string, on bool) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	return sess.storeErr(sess.srv.deps.Store.SetSubscribed(ctx, sess.acct.ID, name, on))
}

// Status reports a mailbox's counters (RFC 9051 §6.3.11).
func (sess *session) Status(ctx context.Context, a *imapwire.StatusArgs) error {
	name, err := cleanName(a.Mailbox)
	if err != nil {
		return errNoMailbox
	}
	mb, err := sess.srv.deps.Store.MailboxByName(ctx, sess.acct.ID, name)
	if err != nil {
		return sess.storeErr(err)
	}
	items, err := sess.status(ctx, mb, a.Items)
	if err != nil {
		return err
	}
	sess.conn.Writer().StatusResponse(mb.Name, items)
	return nil
}

// status gives the STATUS items asked for: RFC 9051 §6.3.11 (with
// DELETED, the messages with \Deleted), SIZE (RFC 8438: the sum of their
// RFC822.SIZE), APPENDLIMIT (RFC 7889 §4), HIGHESTMODSEQ (RFC 7162
// §3.1.6), MAILBOXID (RFC 8474 §4.2). The counts are one SQL query over
// the mailbox's rows (store.MailboxStatus).
func (sess *session) status(ctx context.Context, mb store.Mailbox, names []string) ([]imapwire.StatusItem, error) {
	c, err := sess.srv.deps.Store.MailboxStatus(ctx, mb.ID)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	items := make([]imapwire.StatusItem, 0, len(names))
	for _, n := range names {
		var v uint64
		switch n {
		case "MESSAGES":
			v = uint64(c.Messages)
		case "RECENT":
			v = uint64(c.Recent)
		case "UIDNEXT":
			v = uint64(mb.UIDNext)
		case "UIDVALIDITY":
			v = uint64(mb.UIDValidity)
		case "UNSEEN":
			v = uint64(c.Unseen)
		case "DELETED":
			v = uint64(c.Deleted)
		case "SIZE":
			v = uint64(c.Size)
		case "APPENDLIMIT":
			v = uint64(sess.srv.appendLimit())
		case "HIGHESTMODSEQ":
			v = mb.ModSeq
			sess.conn.EnableCondStore() // RFC 7162 §3.1: an enabling command
		case "MAILBOXID":
			items = append(items, imapwire.StatusItem{Name: n, ID: mb.ObjectID})
			continue
		default:
			return nil, imapengine.Bad("CLIENTBUG", "Unknown STATUS item "+n)
		}
		items = append(items, imapwire.StatusItem{Name: n, Value: v})
	}
	return items, nil
}
