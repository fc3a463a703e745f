package imapd

import (
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"pail/internal/store"
)

// idleRecheck is how often an IDLE session looks at its mailbox even
// without an event. Store events (including those the change watcher raises
// for other processes' commits) already wake it, and a dropped event only
// happens while another one is pending, so this is a safety net; it is long
// so that thousands of idle sessions cost no CPU.
const idleRecheck = 2 * time.Minute

// view is a session's picture of its selected mailbox: what the client has
// been told. Sequence number n is uids[n-1].
type view struct {
	mb       store.Mailbox
	readOnly bool
	uids     []uint32
	flags    map[uint32][]string
	recent   map[uint32]bool // \Recent in this session (RFC 3501 §2.3.2)
	modseq   uint64          // store modseq the view reflects
	pending  map[uint32]bool // expunged in the store, not yet reported (RFC 9051 §7.5.1)
	saved    imap.UIDSet     // SEARCHRES "$" (RFC 5182)
}

// seqOf returns the sequence number of uid, or 0.
func (v *view) seqOf(uid uint32) uint32 {
	i, ok := slices.BinarySearch(v.uids, uid)
	if !ok {
		return 0
	}
	return uint32(i + 1)
}

func (v *view) maxUID() uint32 {
	if len(v.uids) == 0 {
		return 0
	}
	return v.uids[len(v.uids)-1]
}

// flagList is what FETCH FLAGS says for uid: its flags plus \Recent for
// IMAP4rev1 sessions.
func (sess *session) flagList(uid uint32, flags []string) []imap.Flag {
	out := make([]imap.Flag, 0, len(flags)+1)
	for _, f := range flags {
		out = append(out, imap.Flag(f))
	}
	if sess.sel != nil && sess.sel.recent[uid] && !sess.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		out = append(out, imap.Flag(`\Recent`))
	}
	return out
}

// resolve turns a sequence or UID set into the UIDs of the view it names,
// in ascending order. "*" is the last message (RFC 9051 §9 seq-number);
// numbers beyond the mailbox are ignored.
func (v *view) resolve(numSet imap.NumSet) []uint32 {
	if imap.IsSearchRes(numSet) {
		numSet = v.saved
	}
	var out []uint32
	switch set := numSet.(type) {
	case imap.SeqSet:
		n := uint32(len(v.uids))
		for _, r := range set {
			start, stop := r.Start, r.Stop
			if start == 0 {
				start = n
			}
			if stop == 0 {
				stop = n
			}
			if start > stop {
				start, stop = stop, start
			}
			for s := max(start, 1); s <= min(stop, n); s++ {
				out = append(out, v.uids[s-1])
			}
		}
	case imap.UIDSet:
		top := v.maxUID()
		for _, r := range set {
			start, stop := uint32(r.Start), uint32(r.Stop)
			if start == 0 {
				start = top
			}
			if stop == 0 {
				stop = top
			}
			if start > stop {
				start, stop = stop, start
			}
			lo := sort.Search(len(v.uids), func(i int) bool { return v.uids[i] >= start })
			for i := lo; i < len(v.uids) && v.uids[i] <= stop; i++ {
				out = append(out, v.uids[i])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// updates is what a session may write between commands.
type updates interface {
	WriteExpunge(seqNum uint32) error
	WriteNumMessages(n uint32) error
	WriteNumRecent(n uint32) error
	WriteMessageFlags(seqNum uint32, uid imap.UID, flags []imap.Flag) error
}

var _ updates = (*imapserver.UpdateWriter)(nil)

// sync brings the view up to date with the store and tells the client
// (RFC 9051 §7: EXPUNGE only where allowed, i.e. not during FETCH, STORE
// or SEARCH, §7.5.1; EXISTS and FETCH FLAGS at any command end). It reads
// only what changed since the view's modseq.
func (sess *session) sync(w updates, allowExpunge bool) error {
	v := sess.sel
	if v == nil {
		return nil
	}
	st := sess.srv.deps.Store
	ctx := sess.srv.ctx
	modseq, changed, expunged, err := st.ChangesSince(ctx, v.mb.ID, v.modseq)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted by another session: every message is gone.
		for _, uid := range v.uids {
			v.pending[uid] = true
		}
		modseq, err = v.modseq, nil
	}
	if err != nil {
		return sess.storeErr(err)
	}
	if modseq == v.modseq && !(len(v.pending) > 0 && allowExpunge) {
		return nil
	}
	for _, uid := range expunged {
		if v.seqOf(uid) > 0 {
			v.pending[uid] = true
		}
	}
	// Expunges, highest sequence number first so that the lower ones
	// stay valid as each is reported.
	if allowExpunge && len(v.pending) > 0 {
		for i := len(v.uids) - 1; i >= 0; i-- {
			uid := v.uids[i]
			if !v.pending[uid] {
				continue
			}
			if err := w.WriteExpunge(uint32(i + 1)); err != nil {
				return err
			}
			v.uids = slices.Delete(v.uids, i, i+1)
			delete(v.flags, uid)
			delete(v.recent, uid)
		}
		clear(v.pending)
	}
	// Flag changes of messages the client knows, then new messages: UIDs
	// only grow, so new ones are above the view's last.
	top := v.maxUID()
	added := false
	for _, m := range changed {
		if m.UID > top {
			v.uids = append(v.uids, m.UID)
			v.flags[m.UID] = m.Flags
			added = true
			continue
		}
		seq := v.seqOf(m.UID)
		if seq == 0 || v.pending[m.UID] || slices.Equal(m.Flags, v.flags[m.UID]) {
			continue
		}
		v.flags[m.UID] = m.Flags
		if err := w.WriteMessageFlags(seq, imap.UID(m.UID), sess.flagList(m.UID, m.Flags)); err != nil {
			return err
		}
	}
	if added {
		if !v.readOnly {
			claimed, err := st.ClaimRecent(ctx, v.mb.ID)
			if err != nil {
				return sess.storeErr(err)
			}
			for _, u := range claimed {
				v.recent[u] = true
			}
		}
		if err := w.WriteNumMessages(uint32(len(v.uids))); err != nil {
			return err
		}
		if err := w.WriteNumRecent(uint32(len(v.recent))); err != nil {
			return err
		}
	}
	v.modseq = modseq
	return nil
}

// Poll reports changes at the end of a command.
func (sess *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	return sess.sync(w, allowExpunge)
}

// Idle reports changes as they happen until stop is closed (RFC 2177,
// RFC 9051 §6.3.13). Store events wake it; it also looks every idleRecheck.
func (sess *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if err := sess.sync(w, true); err != nil {
		return err
	}
	t := time.NewTicker(idleRecheck)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-sess.srv.ctx.Done():
			return nil
		case <-sess.sub.C:
			// Any event of the account: an event for this mailbox may
			// have been dropped while others were pending, and a sync
			// that finds nothing changed is one indexed read.
		case <-t.C:
		}
		if err := sess.sync(w, true); err != nil {
			return err
		}
	}
}
