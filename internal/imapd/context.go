package imapd

import (
	"context"
	"slices"

	"pail/internal/imapengine"
	"pail/internal/imapsort"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// Updating searches: CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4.3).
// SEARCH, UID SEARCH, SORT or UID SORT with RETURN (UPDATE) leaves a
// context tagged with the command's tag: its search program and the
// results the client was told of. Poll, which already brings the view up
// to date after every command and in IDLE, re-matches the messages that
// changed (new, flags or mod-sequence changed) against each context's
// program and tells the client how the results moved: "* ESEARCH (TAG
// "t") [UID] REMOVEFROM (pos set) ADDTO (pos set)". Expunged results are
// removed right before the EXPUNGE (or VANISHED) that reports them, while
// their sequence numbers are still valid (§4.3.4); additions of new
// messages come after their EXISTS (§4.3.3). The contexts belong to the
// view, so that SELECT, EXAMINE, CLOSE and UNSELECT end them (§4.3).
//
// SEARCH contexts keep their results as a set and report at position 0
// in mailbox order. SORT contexts keep the results in sort order and
// report positions; as the sort keys never change once a message is
// stored, a change only inserts or removes, and an insertion re-reads the
// kept sort fields of the context's results (store.SortFields) to place
// the new ones.
//
// Sequence numbers and "$" in the program are turned into the UIDs they
// named when the command ran (§4.3: they are evaluated then), and "*" in
// a UID set into the highest UID then. OLDER and YOUNGER (RFC 5032) are
// matched again only when a message changes, not as time passes.

// Bounds on the updating searches of one session, with their reasons.
const (
	// maxContexts: RFC 5267 §4.3.1, at least one per client, beyond
	// the server's limit an untagged NO [NOUPDATE]; each context is
	// matched against every change, so they are few.
	maxContexts = 10
	// maxSortContexts: of those, SORT's, each of which reads the sort
	// fields of all its results when messages join it (§4.3.1: refusing
	// SORT contexts need not refuse SEARCH ones).
	maxSortContexts = 3
)

// liveSearch is one updating search.
type liveSearch struct {
	tag string
	uid bool // results are UIDs (UID SEARCH, UID SORT), else sequence numbers
	// keys is the search program, sequence numbers resolved to UIDs.
	keys []imapwire.SearchKey
	// sorted: a SORT context, with its criteria and the kept fields
	// they read.
	sorted   bool
	criteria []imapsort.Criterion
	want     store.SortWant
	members  map[uint32]bool // the results, by UID
	order    []uint32        // SORT: the results' UIDs in sort order
}

var _ imapengine.ContextSession = (*session)(nil)

// context returns the updating search with tag, or nil.
func (v *view) context(tag string) *liveSearch {
	for _, c := range v.contexts {
		if c.tag == tag {
			return c
		}
	}
	return nil
}

// checkUpdate refuses RETURN (UPDATE) with the tag of a live updating
// search (RFC 5267 §4.3: BAD, and the command has no effect).
func (sess *session) checkUpdate() error {
	if sess.sel.context(sess.conn.Tag()) != nil {
		return imapengine.Bad("CLIENTBUG", "Tag reuse: an updating search already has this tag")
	}
	return nil
}

// sortSpec is what a SORT context needs to place new results: the
// criteria and the kept fields they read.
type sortSpec struct {
	criteria []imapsort.Criterion
	want     store.SortWant
}

// startContext adds an updating search with the command's tag, its
// program (keys, as fixedKeys made them) and the results found (UIDs; for
// SORT, sort is set and they are in sort order), unless the session holds
// as many as it may, which an untagged NO [NOUPDATE] says (RFC 5267
// §4.3.1; the command's other results stand).
func (sess *session) startContext(uid bool, keys []imapwire.SearchKey, sort *sortSpec, results []uint32) {
	v := sess.sel
	tag := sess.conn.Tag()
	sorts := 0
	for _, c := range v.contexts {
		if c.sorted {
			sorts++
		}
	}
	if len(v.contexts) >= maxContexts || (sort != nil && sorts >= maxSortContexts) {
		sess.conn.Writer().Status("", imapwire.NO, imapwire.CodeNoUpdate(tag), "Too many updating searches")
		return
	}
	c := &liveSearch{tag: tag, uid: uid, keys: keys, members: make(map[uint32]bool, len(results))}
	if sort != nil {
		c.sorted, c.criteria, c.want = true, sort.criteria, sort.want
		c.order = results
	}
	for _, u := range results {
		c.members[u] = true
	}
	if len(v.contexts) == 0 {
		// The results are those of the view's mod-sequence or later:
		// what changes after it is matched again (which finds nothing
		// to tell for what the results hold already).
		v.ctxModSeq = v.modseq
	}
	v.contexts = append(v.contexts, c)
}

// CancelUpdate answers CANCELUPDATE (RFC 5267 §4.3.5). A tag that names
// no updating search is NO, and then none is cancelled.
func (sess *session) CancelUpdate(_ context.Context, tags []string) error {
	v := sess.sel
	for _, t := range tags {
		if v.context(t) == nil {
			return imapengine.No("CLIENTBUG", "No updating search has the tag "+t)
		}
	}
	v.contexts = slices.DeleteFunc(v.contexts, func(c *liveSearch) bool { return slices.Contains(tags, c.tag) })
	return nil
}

// fixedKeys copies a search program for a context, with what names
// messages by their place in the mailbox now turned into UIDs: sequence
// sets and "$" (RFC 5267 §4.3: "evaluated at the time the command is
// received"), and "*" in UID sets.
func fixedKeys(v *view, keys []imapwire.SearchKey) []imapwire.SearchKey {
	out := make([]imapwire.SearchKey, len(keys))
	for i, k := range keys {
		switch {
		case k.Name == "SEQSET" || (k.Name == "UID" && k.Set.Saved):
			s := imapwire.SetOf(v.resolve(*k.Set, false)) // "$" resolves to the saved UIDs
			k = imapwire.SearchKey{Name: "UID", Set: &s}
		case k.Name == "UID":
			top := v.maxUID()
			var s imapwire.SeqSet
			for _, r := range k.Set.Ranges {
				if r.Start == 0 {
					r.Start = top
				}
				if r.Stop == 0 {
					r.Stop = top
				}
				if r.Start != 0 && r.Stop != 0 {
					s.Ranges = append(s.Ranges, r)
				}
			}
			k.Set = &s
		case len(k.Keys) > 0:
			k.Keys = fixedKeys(v, k.Keys)
		}
		out[i] = k
	}
	return out
}

// contextNum is how a context names a message: its UID or its sequence
// number in the view.
func (sess *session) contextNum(c *liveSearch, u uint32) uint32 {
	if c.uid {
		return u
	}
	return sess.sel.seqOf(u)
}

// contextsRemove takes messages about to be expunged out of every
// context's results, and tells the client (RFC 5267 §4.3.4: before the
// expunge is reported, while their sequence numbers hold). UIDs that are
// no result are ignored.
func (sess *session) contextsRemove(uids []uint32) {
	v := sess.sel
	if v == nil || len(v.contexts) == 0 || len(uids) == 0 {
		return
	}
	for _, c := range v.contexts {
		gone := map[uint32]bool{}
		for _, u := range uids {
			if c.members[u] {
				gone[u] = true
			}
		}
		if len(gone) == 0 {
			continue
		}
		sess.writeUpdate(c, []imapwire.ContextUpdate{sess.removeResults(c, gone)})
	}
}

// removeResults takes gone out of c's results and returns the
// REMOVEFROM that says so.
func (sess *session) removeResults(c *liveSearch, gone map[uint32]bool) imapwire.ContextUpdate {
	u := imapwire.ContextUpdate{Remove: true}
	for g := range gone {
		delete(c.members, g)
	}
	if !c.sorted {
		nums := make([]uint32, 0, len(gone))
		for g := range gone {
			nums = append(nums, sess.contextNum(c, g))
		}
		u.Pairs = []imapwire.ContextPair{{Pos: 0, Set: imapwire.SetOf(nums)}}
		return u
	}
	// Runs of neighbouring results, the last run first: the client
	// applies the pairs in order (§4.3.2), and removing from the end
	// leaves the earlier positions as they were.
	for i := len(c.order) - 1; i >= 0; {
		if !gone[c.order[i]] {
			i--
			continue
		}
		j := i
		for j > 0 && gone[c.order[j-1]] {
			j--
		}
		nums := make([]uint32, 0, i-j+1)
		for _, g := range c.order[j : i+1] {
			nums = append(nums, sess.contextNum(c, g))
		}
		u.Pairs = append(u.Pairs, imapwire.ContextPair{Pos: uint32(j + 1), Set: orderedSet(nums)})
		i = j - 1
	}
	c.order = slices.DeleteFunc(c.order, func(g uint32) bool { return gone[g] })
	return u
}

// writeUpdate writes an updating search's ESEARCH.
func (sess *session) writeUpdate(c *liveSearch, us []imapwire.ContextUpdate) {
	sess.conn.Writer().ESearch(imapwire.ESearchData{Tag: c.tag, UID: c.uid, Updates: us})
}

// contextsChanged matches the messages of the view that changed (uids,
// in ascending order) against every context and tells the client of
// those that joined or left its results.
func (sess *session) contextsChanged(ctx context.Context, uids []uint32) error {
	v := sess.sel
	if len(v.contexts) == 0 || len(uids) == 0 {
		return nil
	}
	for _, c := range v.contexts {
		found, err := sess.matchingIn(ctx, c.keys, false, uids)
		if err != nil {
			return err
		}
		now := make(map[uint32]bool, len(found))
		for _, m := range found {
			now[m.UID] = true
		}
		var adds []uint32
		gone := map[uint32]bool{}
		for _, u := range uids {
			switch {
			case now[u] && !c.members[u]:
				adds = append(adds, u)
			case !now[u] && c.members[u]:
				gone[u] = true
			}
		}
		var us []imapwire.ContextUpdate
		if c.sorted && len(adds) > 0 {
			var err error
			if us, err = sess.addSorted(ctx, c, gone, adds); err != nil {
				return err
			}
		} else {
			if len(gone) > 0 {
				us = append(us, sess.removeResults(c, gone))
			}
			if len(adds) > 0 {
				nums := make([]uint32, len(adds))
				for i, u := range adds {
					c.members[u] = true
					nums[i] = sess.contextNum(c, u)
				}
				us = append(us, imapwire.ContextUpdate{Pairs: []imapwire.ContextPair{{Pos: 0, Set: imapwire.SetOf(nums)}}})
			}
		}
		if len(us) > 0 {
			sess.writeUpdate(c, us)
		}
	}
	return nil
}

// addSorted removes gone from a SORT context and inserts adds where the
// sort order puts them: the kept sort fields of all the results are read
// and sorted again. A result the store no longer has (expunged, not yet
// reported) is removed with gone.
func (sess *session) addSorted(ctx context.Context, c *liveSearch, gone map[uint32]bool, adds []uint32) ([]imapwire.ContextUpdate, error) {
	all := make([]uint32, 0, len(c.order)+len(adds))
	for _, u := range c.order {
		if !gone[u] {
			all = append(all, u)
		}
	}
	all = append(all, adds...)
	slices.Sort(all)
	msgs := make([]imapsort.Message, 0, len(all))
	err := sess.srv.deps.Store.SortFields(ctx, sess.sel.mb.ID, all, c.want, func(f *store.SortFields) {
		msgs = append(msgs, sortMessage(f.UID, f))
	})
	if err != nil {
		return nil, sess.storeErr(err)
	}
	final := imapsort.Sort(msgs, c.criteria)
	have := make(map[uint32]bool, len(final))
	for _, u := range final {
		have[u] = true
	}
	for _, u := range c.order {
		if !have[u] {
			gone[u] = true
		}
	}
	var us []imapwire.ContextUpdate
	if len(gone) > 0 {
		us = append(us, sess.removeResults(c, gone))
	}
	// What is left of the old order is a subsequence of final; inserting
	// the new results from the first to the last puts each at its final
	// position, as everything before it is in place already. Runs of new
	// neighbours go in one pair.
	add := imapwire.ContextUpdate{}
	for i := 0; i < len(final); {
		if c.members[final[i]] {
			i++
			continue
		}
		j := i
		for j+1 < len(final) && !c.members[final[j+1]] {
			j++
		}
		nums := make([]uint32, 0, j-i+1)
		for _, u := range final[i : j+1] {
			nums = append(nums, sess.contextNum(c, u))
		}
		add.Pairs = append(add.Pairs, imapwire.ContextPair{Pos: uint32(i + 1), Set: orderedSet(nums)})
		i = j + 1
	}
	for _, u := range final {
		c.members[u] = true
	}
	c.order = final
	if len(add.Pairs) > 0 {
		us = append(us, add)
	}
	return us, nil
}

// partialOf returns the results of nums (in the requested order) that a
// PARTIAL range names (RFC 5267 §4.4: counted from 1; a range past the
// end gives what there is, maybe none); ordered says whether nums are in
// mailbox order, which makes the shortest set.
func partialOf(p *imapwire.PartialRange, nums []uint32, ordered bool) *imapwire.ESearchPartial {
	out := &imapwire.ESearchPartial{Range: *p}
	lo, hi := p.Bounds()
	n := uint32(len(nums))
	if lo > n {
		return out
	}
	part := slices.Clone(nums[lo-1 : min(hi, n)])
	if ordered {
		out.Set = imapwire.SetOf(part)
	} else {
		out.Set = orderedSet(part)
	}
	return out
}
