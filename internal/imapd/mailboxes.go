package imapd

import (
	"github.com/emersion/go-imap/v2"

	"pail/internal/store"
)

// Create makes a mailbox and any missing parents (RFC 9051 §6.3.4), with
// an RFC 6154 special-use attribute if asked (CREATE-SPECIAL-USE).
func (sess *session) Create(name string, options *imap.CreateOptions) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	if name == store.Inbox {
		return sess.storeErr(store.ErrExists)
	}
	use := ""
	if options != nil {
		switch len(options.SpecialUse) {
		case 0:
		case 1:
			use = string(options.SpecialUse[0])
			if !isSpecialUse(use) {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("USEATTR"), Text: "Unknown special-use attribute"}
			}
		default:
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("USEATTR"), Text: "One special-use attribute per mailbox"}
		}
	}
	_, err = sess.srv.deps.Store.CreateMailboxPath(sess.srv.ctx, sess.acct.ID, name, use)
	return sess.storeErr(err)
}

func isSpecialUse(a string) bool {
	switch imap.MailboxAttr(a) {
	case imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts, imap.MailboxAttrFlagged,
		imap.MailboxAttrJunk, imap.MailboxAttrSent, imap.MailboxAttrTrash:
		return true
	}
	return false
}

// Delete removes a mailbox and its messages (RFC 9051 §6.3.5). INBOX
// cannot be deleted; children stay and their parent name becomes
// \Noselect.
func (sess *session) Delete(name string) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	return sess.storeErr(sess.srv.deps.Store.DeleteMailbox(sess.srv.ctx, sess.acct.ID, name))
}

// Rename renames a mailbox with its children (RFC 9051 §6.3.6); renaming
// INBOX moves its messages to the new mailbox.
func (sess *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	oldName, err := cleanName(oldName)
	if err != nil {
		return err
	}
	newName, err = cleanName(newName)
	if err != nil {
		return err
	}
	return sess.storeErr(sess.srv.deps.Store.RenameMailbox(sess.srv.ctx, sess.acct.ID, oldName, newName))
}

// Subscribe adds a mailbox to the subscribed list (RFC 9051 §6.3.7).
func (sess *session) Subscribe(name string) error { return sess.setSubscribed(name, true) }

// Unsubscribe removes a mailbox from the subscribed list (RFC 9051 §6.3.8).
func (sess *session) Unsubscribe(name string) error { return sess.setSubscribed(name, false) }

func (sess *session) setSubscribed(name string, on bool) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	return sess.storeErr(sess.srv.deps.Store.SetSubscribed(sess.srv.ctx, sess.acct.ID, name, on))
}

// Status reports a mailbox's counters (RFC 9051 §6.3.11).
func (sess *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	name, err := cleanName(name)
	if err != nil {
		return nil, errNoMailbox
	}
	mb, err := sess.srv.deps.Store.MailboxByName(sess.srv.ctx, sess.acct.ID, name)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	return sess.status(mb, options)
}

func (sess *session) status(mb store.Mailbox, options *imap.StatusOptions) (*imap.StatusData, error) {
	c, err := sess.srv.deps.Store.MailboxStatus(sess.srv.ctx, mb.ID)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	data := &imap.StatusData{Mailbox: mb.Name}
	if options.NumMessages {
		data.NumMessages = &c.Messages
	}
	if options.NumRecent {
		data.NumRecent = &c.Recent
	}
	if options.UIDNext {
		data.UIDNext = imap.UID(mb.UIDNext)
	}
	if options.UIDValidity {
		data.UIDValidity = mb.UIDValidity
	}
	if options.NumUnseen {
		data.NumUnseen = &c.Unseen
	}
	if options.NumDeleted {
		data.NumDeleted = &c.Deleted
	}
	if options.Size {
		data.Size = &c.Size
	}
	if options.AppendLimit {
		l := sess.AppendLimit()
		data.AppendLimit = &l
	}
	return data, nil
}
