package imapd

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"pail/internal/imapengine"
	"pail/internal/imapsort"
	"pail/internal/imapwire"
	"pail/internal/message"
	"pail/internal/store"
)

var _ imapengine.SortSession = (*session)(nil)

// sortCharset checks SORT's and THREAD's charset (RFC 5256 §3: the
// server MUST support US-ASCII and UTF-8 and answers NO [BADCHARSET]
// for others).
func sortCharset(cs string) error {
	switch strings.ToUpper(cs) {
	case "UTF-8", "US-ASCII":
		return nil
	}
	return imapengine.No("BADCHARSET (UTF-8 US-ASCII)", "Charset not supported")
}

// Sort answers SORT and UID SORT (RFC 5256 §3) from the fields kept at
// delivery (store.SortFields): no message file is read unless a search
// key needs one. With RETURN the answer is ESORT's ESEARCH (RFC 5267 §3:
// MIN, MAX, ALL, COUNT, in the sort order) with CONTEXT=SORT's PARTIAL
// and UPDATE (§4, context.go); the CONTEXT hint is accepted and ignored
// (§4.2).
func (sess *session) Sort(ctx context.Context, uid bool, a *imapwire.SortArgs) error {
	if err := sortCharset(a.Charset); err != nil {
		return err
	}
	ret := map[string]bool{}
	for _, r := range a.Return {
		ret[r] = true
	}
	if ret["UPDATE"] {
		if err := sess.checkUpdate(); err != nil {
			return err
		}
	}
	criteria := make([]imapsort.Criterion, len(a.Criteria))
	for i, c := range a.Criteria {
		criteria[i] = imapsort.Criterion{Key: imapsort.Key(c.Key), Reverse: c.Reverse}
	}
	var want store.SortWant
	for _, c := range a.Criteria {
		want |= sortWant[c.Key]
	}
	var program []imapwire.SearchKey
	if ret["UPDATE"] {
		program = fixedKeys(sess.sel, a.Keys) // RFC 5267 §4.3: numbers evaluated now
	}
	msgs, modSeq, err := sess.sortMessages(ctx, uid, a.Keys, want)
	if err != nil {
		return err
	}
	nums := imapsort.Sort(msgs, criteria)
	w := sess.conn.Writer()
	if !a.HasReturn {
		w.Sort(nums, modSeq)
		return nil
	}
	if !ret["MIN"] && !ret["MAX"] && !ret["ALL"] && !ret["COUNT"] && !ret["PARTIAL"] {
		// RFC 4731 §3.1, by RFC 5267 §3: RETURN () is ALL, and so is
		// one of only CONTEXT and UPDATE (§4.3: no interaction).
		ret["ALL"] = true
	}
	d := imapwire.ESearchData{Tag: sess.conn.Tag(), UID: uid, ModSeq: modSeq}
	if len(nums) > 0 {
		// RFC 5267 §3: MIN and MAX are the first and last in the sort
		// order, ALL lists them all in that order.
		if ret["MIN"] {
			d.Min = nums[0]
		}
		if ret["MAX"] {
			d.Max = nums[len(nums)-1]
		}
		if ret["ALL"] {
			s := orderedSet(nums)
			d.All = &s
		}
	}
	if ret["PARTIAL"] {
		d.Partial = partialOf(a.Partial, nums, false) // §4.4: in the sort order
	}
	if ret["COUNT"] {
		n := uint32(len(nums))
		d.Count = &n
	}
	w.ESearch(d)
	if ret["UPDATE"] {
		uids := nums
		if !uid {
			uids = make([]uint32, len(nums))
			for i, n := range nums {
				uids[i] = sess.sel.uids[n-1]
			}
		}
		sess.startContext(uid, program, &sortSpec{criteria: criteria, want: want}, uids)
	}
	return nil
}

// sortWant is the kept field each sort key reads (ARRIVAL and SIZE are
// always read).
var sortWant = map[string]store.SortWant{
	"DATE": store.SortDate, "SUBJECT": store.SortSubject, "FROM": store.SortFrom, "DISPLAYFROM": store.SortFrom,
	"TO": store.SortTo, "DISPLAYTO": store.SortTo, "CC": store.SortCc,
}

// orderedSet writes nums as a sequence-set in their own order: only runs
// of ascending consecutive numbers become ranges.
func orderedSet(nums []uint32) imapwire.SeqSet {
	var s imapwire.SeqSet
	for _, n := range nums {
		if k := len(s.Ranges); k > 0 && s.Ranges[k-1].Stop+1 == n {
			s.Ranges[k-1].Stop = n
			continue
		}
		s.Ranges = append(s.Ranges, imapwire.SeqRange{Start: n, Stop: n})
	}
	return s
}

// Thread answers THREAD and UID THREAD (RFC 5256 §3) by ORDEREDSUBJECT or
// REFERENCES, from the fields kept at delivery.
func (sess *session) Thread(ctx context.Context, uid bool, a *imapwire.ThreadArgs) error {
	var thread func([]imapsort.Message) []imapsort.Node
	switch a.Algorithm {
	case "ORDEREDSUBJECT":
		thread = imapsort.OrderedSubject
	case "REFERENCES":
		thread = imapsort.References
	default:
		return imapengine.Bad("CLIENTBUG", "Unknown threading algorithm "+a.Algorithm)
	}
	if err := sortCharset(a.Charset); err != nil {
		return err
	}
	// Both algorithms use the base subject and the sent date;
	// ORDEREDSUBJECT no more.
	want := store.SortDate | store.SortSubject
	if a.Algorithm == "REFERENCES" {
		want |= store.SortReferences
	}
	msgs, _, err := sess.sortMessages(ctx, uid, a.Keys, want)
	if err != nil {
		return err
	}
	roots := thread(msgs)
	out := make([]imapwire.ThreadNode, len(roots))
	for i := range roots {
		out[i] = threadNode(roots[i])
	}
	sess.conn.Writer().Thread(out)
	return nil
}

func threadNode(n imapsort.Node) imapwire.ThreadNode {
	t := imapwire.ThreadNode{Num: n.Num}
	if len(n.Children) > 0 {
		t.Children = make([]imapwire.ThreadNode, len(n.Children))
		for i := range n.Children {
			t.Children[i] = threadNode(n.Children[i])
		}
	}
	return t
}

// sortMessages returns what sorting and threading need of the messages
// the keys match, in mailbox order, named by UID or sequence number, and
// the highest mod-sequence among them when the keys have MODSEQ (RFC 7162
// §3.1.5: SORT's answer then carries it).
func (sess *session) sortMessages(ctx context.Context, uid bool, keys []imapwire.SearchKey, want store.SortWant) ([]imapsort.Message, uint64, error) {
	withModSeq := hasKey(keys, "MODSEQ")
	if withModSeq {
		sess.conn.EnableCondStore() // RFC 7162 §3.1: an enabling command
	}
	found, err := sess.matching(ctx, keys, withModSeq)
	if err != nil {
		return nil, 0, err
	}
	var top uint64
	uids, seqs := make([]uint32, len(found)), make([]uint32, len(found))
	for i, m := range found {
		uids[i], seqs[i] = m.UID, m.seq
		top = max(top, m.ModSeq)
	}
	n := len(found)
	found = nil // the rows are not needed past this point
	// A message expunged from the store meanwhile has no fields and is
	// left out.
	msgs := make([]imapsort.Message, 0, n)
	err = sess.srv.deps.Store.SortFields(ctx, sess.sel.mb.ID, uids, want, func(f *store.SortFields) {
		j, ok := slices.BinarySearch(uids, f.UID)
		if !ok {
			return
		}
		num := seqs[j]
		if uid {
			num = f.UID
		}
		msgs = append(msgs, sortMessage(num, f))
	})
	if err != nil {
		return nil, 0, sess.storeErr(err)
	}
	// Threading takes the messages in mailbox order; the few without a
	// kept summary come last.
	if !slices.IsSortedFunc(msgs, func(a, b imapsort.Message) int { return cmp.Compare(a.Num, b.Num) }) {
		slices.SortFunc(msgs, func(a, b imapsort.Message) int { return cmp.Compare(a.Num, b.Num) })
	}
	if !withModSeq || len(msgs) == 0 {
		top = 0
	}
	return msgs, top, nil
}

// sortMessage maps a message's kept fields onto the sort keys: FROM, TO
// and CC are the addr-mailbox of the field's first address (RFC 5256
// §3), DISPLAYFROM and DISPLAYTO its display name or else its
// addr-mailbox@addr-host (RFC 5957 §3).
func sortMessage(num uint32, f *store.SortFields) imapsort.Message {
	return imapsort.Message{
		Num:         num,
		Arrival:     f.InternalDate,
		Date:        f.Date,
		Size:        f.Size,
		Subject:     f.Subject,
		From:        f.From.Mailbox,
		To:          f.To.Mailbox,
		Cc:          f.Cc.Mailbox,
		DisplayFrom: display(f.From),
		DisplayTo:   display(f.To),
		MessageID:   f.MessageID,
		References:  f.References,
		InReplyTo:   f.InReplyTo,
	}
}

// display is RFC 5957 §3's sort string of an address.
func display(a message.EnvelopeAddress) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}
