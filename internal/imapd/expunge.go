package imapd

import (
	"context"
	"maps"
	"slices"

	"pail/internal/imapwire"
)

// Expunge answers EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315
// §2.1): it removes the messages the client knows that have \Deleted in
// the store, durably before the reply, and reports them together with
// messages other sessions expunged. EXPUNGE in a read-only mailbox is NO.
func (sess *session) Expunge(ctx context.Context, uids *imapwire.SeqSet) error {
	if sess.sel.readOnly {
		return errReadOnly
	}
	gone, err := sess.expunge(ctx, uids)
	if err != nil {
		return err
	}
	v := sess.sel
	// Messages other sessions expunged are reported along with ours; the
	// next sync finds all of them in the store's expunged list again and
	// ignores them, since they are no longer in the view.
	for uid := range v.pending {
		if v.seqOf(uid) > 0 {
			gone = append(gone, uid)
		}
	}
	clear(v.pending)
	sess.reportExpunged(gone)
	return nil
}

// expunge removes the \Deleted messages the client knows (of uids, if
// set) and returns their UIDs.
func (sess *session) expunge(ctx context.Context, uids *imapwire.SeqSet) ([]uint32, error) {
	v := sess.sel
	if uids != nil && uids.Saved {
		s := imapwire.SetOf(slices.Clone(v.saved))
		uids = &s
	}
	st := sess.srv.deps.Store
	deleted, err := st.DeletedMessages(ctx, v.mb.ID)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	var ids []int64
	var gone []uint32
	for _, m := range deleted {
		if v.seqOf(m.UID) == 0 || v.pending[m.UID] {
			continue
		}
		if uids != nil && !uids.Contains(m.UID, v.maxUID()) {
			continue
		}
		ids = append(ids, m.ID)
		gone = append(gone, m.UID)
	}
	if err := st.Expunge(ctx, v.mb.ID, ids); err != nil {
		return nil, sess.storeErr(err)
	}
	return gone, nil
}

// reportExpunged removes uids from the view and tells the client: with
// QRESYNC enabled in one VANISHED response of their UIDs (RFC 7162
// §3.2.10), else in an EXPUNGE for each, highest sequence number first so
// that the lower ones stay valid as each is reported (RFC 9051 §7.5.1).
// UIDs not in the view are ignored. The updating searches are told
// first.
func (sess *session) reportExpunged(uids []uint32) {
	v := sess.sel
	gone := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		if v.seqOf(u) > 0 {
			gone[u] = true
		}
	}
	if len(gone) == 0 {
		return
	}
	// RFC 5267 §4.3.4: REMOVEFROM before the expunge is told, while the
	// sequence numbers hold.
	sess.contextsRemove(slices.Collect(maps.Keys(gone)))
	w := sess.conn.Writer()
	if sess.conn.QResync() {
		w.Vanished(false, imapwire.SetOf(slices.Collect(maps.Keys(gone))))
	} else {
		for i := len(v.uids) - 1; i >= 0; i-- {
			if gone[v.uids[i]] {
				w.Expunge(uint32(i + 1))
			}
		}
	}
	v.uids = slices.DeleteFunc(v.uids, func(u uint32) bool { return gone[u] })
	for u := range gone {
		delete(v.flags, u)
		delete(v.recent, u)
	}
}
