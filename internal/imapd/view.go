package imapd

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"

	"pail/internal/imapwire"
	"pail/internal/store"
)

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
	saved    []uint32        // SEARCHRES "$" (RFC 5182), UIDs in order
	keywords map[string]bool // keywords the client was told of in FLAGS
	// contexts are the updating searches (RFC 5267 §4.3, context.go),
	// which end with the view.
	contexts []*liveSearch
	// ctxModSeq is the store modseq up to which the contexts have been
	// matched against changes; it trails modseq when the session's own
	// STORE moved the view on (followed).
	ctxModSeq uint64
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

// Exists is the number of messages the client has been told of.
func (sess *session) Exists() uint32 {
	if sess.sel == nil {
		return 0
	}
	return uint32(len(sess.sel.uids))
}

// flagList is what FETCH FLAGS says for uid: its flags plus \Recent for
// IMAP4rev1 sessions.
func (sess *session) flagList(uid uint32, flags []string) []string {
	if sess.sel != nil && sess.sel.recent[uid] && !sess.conn.IMAP4rev2() {
		return append(slices.Clip(flags), `\Recent`)
	}
	return flags
}

// writeFlags writes "* n FETCH (UID u FLAGS (...))", announcing keywords
// the client has not been told of first; with CONDSTORE enabled it adds
// the message's MODSEQ (RFC 7162 §3.1.4: every untagged FETCH for a flag
// change carries it).
func (sess *session) writeFlags(seq, uid uint32, flags []string, modseq uint64) {
	sess.announce(flags)
	w := sess.conn.Writer()
	w.BeginFetch(seq)
	w.FetchNumber("UID", uint64(uid))
	w.FetchFlags(sess.flagList(uid, flags))
	if sess.conn.CondStore() {
		writeModSeq(w, modseq)
	}
	w.EndFetch()
}

// writeModSeq writes the FETCH item "MODSEQ (n)" (RFC 7162 §3.1.4.1).
func writeModSeq(w *imapwire.Writer, modseq uint64) {
	w.FetchNumber("MODSEQ", modseq)
}

// followed lets the view's mod-sequence follow a flag change the session
// made itself, when the view was current before it: the caller puts the
// new flags in the view, so Poll need not read them back (STORE 1:* on a
// large mailbox would read every message again).
func (sess *session) followed(res store.FlagsResult) {
	if v := sess.sel; v != nil && res.Before == v.modseq {
		v.modseq = res.After
	}
}

// announce tells the client of keywords it has not seen in this mailbox
// with FLAGS and OK [PERMANENTFLAGS] before any FETCH shows them (RFC 9051
// §7.3.5: FLAGS lists the flags defined in the mailbox).
func (sess *session) announce(flags []string) {
	v := sess.sel
	fresh := false
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) && !v.keywords[f] {
			v.keywords[f] = true
			fresh = true
		}
	}
	if fresh {
		sess.writeMailboxFlags()
	}
}

// systemFlags are the flags every mailbox defines (RFC 9051 §2.3.2).
var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

// writeMailboxFlags writes FLAGS and OK [PERMANENTFLAGS] (RFC 9051 §7.3.5,
// §7.1).
func (sess *session) writeMailboxFlags() {
	v := sess.sel
	flags := slices.Clone(systemFlags)
	flags = append(flags, slices.Sorted(maps.Keys(v.keywords))...)
	w := sess.conn.Writer()
	w.FlagsResponse(flags)
	if v.readOnly {
		w.Status("", imapwire.OK, imapwire.CodePermanentFlags(nil), "No permanent flags in a read-only mailbox")
	} else {
		// RFC 9051 §7.1: \* means clients may create keywords.
		w.Status("", imapwire.OK, imapwire.CodePermanentFlags(append(flags, `\*`)), "Flags permitted")
	}
}

// resolve turns a sequence or UID set into the UIDs of the view it names,
// in ascending order. "*" is the last message (RFC 9051 §9 seq-number);
// UIDs the mailbox does not hold are ignored (the engine has refused
// sequence numbers past the end).
func (v *view) resolve(set imapwire.SeqSet, uid bool) []uint32 {
	if set.Saved {
		return slices.Clone(v.saved)
	}
	var out []uint32
	if !uid {
		n := uint32(len(v.uids))
		for _, r := range set.Ranges {
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
	} else {
		top := v.maxUID()
		for _, r := range set.Ranges {
			start, stop := r.Start, r.Stop
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

// Poll brings the view up to date with the store and tells the client
// (RFC 9051 §7: EXPUNGE only where allowed, i.e. not during FETCH, STORE
// or SEARCH, §7.5.1; EXISTS and FETCH FLAGS at any command end). It reads
// only what changed since the view's modseq.
func (sess *session) Poll(ctx context.Context, allowExpunge bool) error {
	v := sess.sel
	if v == nil {
		return nil
	}
	st := sess.srv.deps.Store
	// With updating searches the changes since the contexts were last
	// matched are read; what the view already holds of them is not told
	// again (equal flags, UIDs not above the view's last).
	since := v.modseq
	if len(v.contexts) > 0 {
		since = min(since, v.ctxModSeq)
	}
	modseq, changed, expunged, err := st.ChangesSince(ctx, v.mb.ID, since)
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
	if modseq == v.modseq && since == v.modseq && !(len(v.pending) > 0 && allowExpunge) {
		return nil
	}
	for _, uid := range expunged {
		if v.seqOf(uid) > 0 {
			v.pending[uid] = true
		}
	}
	w := sess.conn.Writer()
	if allowExpunge && len(v.pending) > 0 {
		sess.reportExpunged(slices.Collect(maps.Keys(v.pending)))
		clear(v.pending)
	}
	// Flag changes of messages the client knows, then new messages: UIDs
	// only grow, so new ones are above the view's last.
	top := v.maxUID()
	added := false
	var touched []uint32 // for the contexts: changed messages in the view, ascending
	for _, m := range changed {
		if m.UID > top {
			sess.announce(m.Flags)
			v.uids = append(v.uids, m.UID)
			v.flags[m.UID] = m.Flags
			added = true
			touched = append(touched, m.UID)
			continue
		}
		seq := v.seqOf(m.UID)
		if seq == 0 || v.pending[m.UID] {
			continue
		}
		touched = append(touched, m.UID)
		if slices.Equal(m.Flags, v.flags[m.UID]) {
			continue
		}
		v.flags[m.UID] = m.Flags
		sess.writeFlags(seq, m.UID, m.Flags, m.ModSeq)
	}
	if added {
		if !v.readOnly {
			claimed, err := st.ClaimRecent(ctx, v.mb.ID)
			if err != nil {
				return sess.storeErr(err)
			}
			for _, u := range claimed {
				if v.seqOf(u) > 0 {
					v.recent[u] = true
				}
			}
		}
		w.Exists(uint32(len(v.uids)))
		if !sess.conn.IMAP4rev2() {
			// RFC 3501 §7.3.2; never more than EXISTS: recent holds
			// only messages in the view.
			w.Recent(uint32(len(v.recent)))
		}
	}
	// RFC 5267 §4.3.3: ADDTO of new messages after their EXISTS.
	if err := sess.contextsChanged(ctx, touched); err != nil {
		return err
	}
	v.ctxModSeq = modseq
	v.modseq = modseq
	return w.Err()
}
