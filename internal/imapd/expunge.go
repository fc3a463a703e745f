package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Expunge answers EXPUNGE, UID EXPUNGE (RFC 4315) and the silent expunge
// of CLOSE (RFC 9051 §6.4.3, §6.4.9, §6.4.2). It removes the messages the
// client knows that have \Deleted in the store, durably before the reply,
// and reports them together with messages other sessions expunged.
// CLOSE on a read-only mailbox expunges nothing; EXPUNGE there is NO.
func (sess *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	v := sess.sel
	if v.readOnly {
		// The library's CLOSE passes a writer that reports nothing.
		if *w == (imapserver.ExpungeWriter{}) {
			return nil
		}
		return errReadOnly
	}
	st := sess.srv.deps.Store
	deleted, err := st.DeletedMessages(sess.srv.ctx, v.mb.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	var ids []int64
	var gone []uint32
	for _, m := range deleted {
		if v.seqOf(m.UID) == 0 || v.pending[m.UID] {
			continue
		}
		if uids != nil && !uids.Contains(imap.UID(m.UID)) {
			continue
		}
		ids = append(ids, m.ID)
		gone = append(gone, m.UID)
	}
	if err := st.Expunge(sess.srv.ctx, v.mb.ID, ids); err != nil {
		return sess.storeErr(err)
	}
	// Messages other sessions expunged are reported along with ours; the
	// next sync finds all of them in the store's expunged list again and
	// ignores them, since they are no longer in the view.
	for uid := range v.pending {
		if v.seqOf(uid) > 0 {
			gone = append(gone, uid)
		}
	}
	clear(v.pending)
	return sess.reportExpunged(w, gone)
}
