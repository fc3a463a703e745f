package imapd

import (
	"slices"

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
	_, states, err := st.MessageStates(sess.srv.ctx, v.mb.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	present := map[uint32]bool{}
	var ids []int64
	var gone []uint32
	for _, m := range states {
		present[m.UID] = true
		if v.seqOf(m.UID) == 0 || !slices.Contains(m.Flags, string(imap.FlagDeleted)) {
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
	for _, u := range v.uids {
		if !present[u] {
			gone = append(gone, u)
		}
	}
	v.ghosts = false
	return sess.reportExpunged(w, gone)
}
