package imapd

import (
	"context"
	"math"
	"slices"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
)

// QRESYNC (RFC 7162 §3.2). The store keeps the UID and mod-sequence of
// every message expunged from a mailbox for as long as the mailbox
// exists (store.ExpungedSince), so VANISHED (EARLIER) is exact: it names
// exactly the UIDs expunged after the client's mod-sequence, never a
// superset, and seq-match-data (§3.2.5.2), which lets a server that
// forgot old expunges narrow its answer, has nothing to narrow and is
// only checked.

var _ imapengine.ResyncSession = (*session)(nil)

// Resync answers SELECT's and EXAMINE's QRESYNC parameter once the
// mailbox is selected (RFC 7162 §3.2.5.1): with the mailbox's UIDVALIDITY,
// VANISHED (EARLIER) for the known UIDs expunged after the client's
// mod-sequence, then FETCH (UID FLAGS MODSEQ) for the known messages
// changed after it, new ones included. Known UIDs are those the client
// listed, or 1:UIDNEXT-1 when it listed none (§3.2.5: only those are
// reported). VANISHED comes first, as §3.2.6 requires of UID FETCH, so
// that the sequence numbers of the FETCHes are those of the mailbox the
// client then has.
func (sess *session) Resync(ctx context.Context, q *imapwire.QResyncParams) error {
	v := sess.sel
	if q.UIDValidity != v.mb.UIDValidity {
		// §3.2.5: "ignore the remaining parameters": a plain SELECT,
		// and the client resynchronizes from scratch.
		return nil
	}
	known := func(uid uint32) bool { return q.KnownUIDs == nil || q.KnownUIDs.Contains(uid, 0) }
	st := sess.srv.deps.Store
	_, changed, expunged, err := st.ChangesSince(ctx, v.mb.ID, q.ModSeq)
	if err != nil {
		return sess.storeErr(err)
	}
	// A UID still in the view was expunged after Select read the
	// mailbox: the next Poll reports it as VANISHED, without EARLIER.
	gone := slices.DeleteFunc(expunged, func(u uint32) bool { return !known(u) || v.seqOf(u) > 0 })
	w := sess.conn.Writer()
	if len(gone) > 0 {
		w.Vanished(true, imapwire.SetOf(gone))
	}
	for _, m := range changed {
		seq := v.seqOf(m.UID)
		if seq == 0 || !known(m.UID) {
			// Not in the view: delivered after Select read the
			// mailbox; the next Poll tells of it with EXISTS.
			continue
		}
		v.flags[m.UID] = m.Flags
		sess.writeFlags(seq, m.UID, m.Flags, m.ModSeq)
	}
	return w.Err()
}

// HighestModSeq is the mod-sequence the view reflects: the client has
// been told of every change up to it.
func (sess *session) HighestModSeq() uint64 {
	if sess.sel == nil {
		return 0
	}
	return sess.sel.modseq
}

// fetchVanished answers UID FETCH's VANISHED modifier (RFC 7162 §3.2.6):
// VANISHED (EARLIER) for the UIDs of the set expunged after CHANGEDSINCE's
// mod-sequence, before any FETCH. It is BAD on FETCH without UID, without
// CHANGEDSINCE, or when the client has not enabled QRESYNC. "*" in the set
// stands for every UID above the range's start, since an expunged UID may
// be above the last one left. UIDs still in the view are left to the
// VANISHED that the command's end reports.
func (sess *session) fetchVanished(ctx context.Context, uid bool, a *imapwire.FetchArgs) error {
	switch {
	case !sess.conn.QResync():
		return imapengine.Bad("CLIENTBUG", "VANISHED needs ENABLE QRESYNC first")
	case !uid:
		return imapengine.Bad("CLIENTBUG", "VANISHED is for UID FETCH only")
	case !a.HasChangedSince:
		return imapengine.Bad("CLIENTBUG", "VANISHED needs CHANGEDSINCE")
	}
	v := sess.sel
	set := a.Set
	if set.Saved {
		set = imapwire.SetOf(slices.Clone(v.saved))
	}
	expunged, err := sess.srv.deps.Store.ExpungedSince(ctx, v.mb.ID, a.ChangedSince)
	if err != nil {
		return sess.storeErr(err)
	}
	gone := slices.DeleteFunc(expunged, func(u uint32) bool { return !set.Contains(u, math.MaxUint32) || v.seqOf(u) > 0 })
	if len(gone) > 0 {
		sess.conn.Writer().Vanished(true, imapwire.SetOf(gone))
	}
	return nil
}
