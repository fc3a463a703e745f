package imapd

import (
	"context"
	"slices"
	"strings"

	"pail/internal/imapwire"
	"pail/internal/store"
)

// Select opens a mailbox (RFC 9051 §6.3.2; EXAMINE §6.3.3 when read-only).
// SELECT claims the mailbox's \Recent messages for this session; EXAMINE
// shows them without claiming.
func (sess *session) Select(ctx context.Context, name string, readOnly bool) error {
	sess.sel = nil
	name, err := cleanName(name)
	if err != nil {
		return errNoMailbox
	}
	st := sess.srv.deps.Store
	mb, err := st.MailboxByName(ctx, sess.acct.ID, name)
	if err != nil {
		return sess.storeErr(err)
	}
	v := &view{mb: mb, readOnly: readOnly, flags: map[uint32][]string{}, recent: map[uint32]bool{},
		pending: map[uint32]bool{}, keywords: map[string]bool{}}
	if !v.readOnly {
		claimed, err := st.ClaimRecent(ctx, mb.ID)
		if err != nil {
			return sess.storeErr(err)
		}
		for _, u := range claimed {
			v.recent[u] = true
		}
	}
	modseq, states, err := st.MessageStates(ctx, mb.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	v.modseq = modseq
	var firstUnseen uint32
	for i, m := range states {
		v.uids = append(v.uids, m.UID)
		v.flags[m.UID] = m.Flags
		if v.readOnly && m.Recent {
			v.recent[m.UID] = true
		}
		if firstUnseen == 0 && !slices.Contains(m.Flags, `\Seen`) {
			firstUnseen = uint32(i + 1)
		}
		for _, f := range m.Flags {
			if !strings.HasPrefix(f, `\`) {
				v.keywords[f] = true
			}
		}
	}
	for u := range v.recent {
		if _, ok := v.flags[u]; !ok {
			delete(v.recent, u)
		}
	}
	uidNext := max(mb.UIDNext, v.maxUID()+1)
	sess.sel = v
	sess.writeMailboxFlags()
	w := sess.conn.Writer()
	w.Exists(uint32(len(v.uids)))
	if !sess.conn.IMAP4rev2() {
		w.Recent(uint32(len(v.recent)))
		if firstUnseen > 0 {
			// RFC 3501 §6.3.1; IMAP4rev2 dropped it.
			w.Status("", imapwire.OK, imapwire.CodeNumber("UNSEEN", uint64(firstUnseen)), "First unseen")
		}
	}
	w.Status("", imapwire.OK, imapwire.CodeNumber("UIDVALIDITY", uint64(mb.UIDValidity)), "UIDs valid")
	w.Status("", imapwire.OK, imapwire.CodeNumber("UIDNEXT", uint64(uidNext)), "Predicted next UID")
	// RFC 8474 §4.1: SELECT and EXAMINE say the mailbox's MAILBOXID.
	w.Status("", imapwire.OK, imapwire.CodeMailboxID(mb.ObjectID), "Ok")
	// RFC 7162 §3.1.2.1: every SELECT and EXAMINE of a mailbox that keeps
	// mod-sequences says its highest, CONDSTORE enabled or not. It comes
	// last: a QRESYNC resync's VANISHED and FETCH follow it (§3.2.5).
	w.Status("", imapwire.OK, imapwire.CodeNumber("HIGHESTMODSEQ", v.modseq), "Highest")
	return nil
}

// Unselect leaves the selected state (RFC 3691 UNSELECT), and CLOSE
// first removes the messages marked \Deleted, reporting nothing (RFC
// 9051 §6.4.1); in a read-only mailbox CLOSE expunges nothing.
func (sess *session) Unselect(ctx context.Context, expunge bool) error {
	defer func() { sess.sel = nil }()
	if expunge && sess.sel != nil && !sess.sel.readOnly {
		_, err := sess.expunge(ctx, nil)
		return err
	}
	return nil
}

// mailboxByName looks up a destination mailbox of COPY, MOVE or APPEND;
// a missing one is NO [TRYCREATE] (RFC 9051 §6.3.12, §6.4.7).
func (sess *session) mailboxByName(ctx context.Context, name string) (store.Mailbox, error) {
	name, err := cleanName(name)
	if err != nil {
		return store.Mailbox{}, errTryCreate
	}
	mb, err := sess.srv.deps.Store.MailboxByName(ctx, sess.acct.ID, name)
	if err != nil {
		if e := sess.storeErr(err); e == errNoMailbox {
			return store.Mailbox{}, errTryCreate
		}
		return store.Mailbox{}, sess.storeErr(err)
	}
	return mb, nil
}
