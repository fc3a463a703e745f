package imapd

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/message"
	"pail/internal/store"
)

// viewOnly reports whether keys use only flags, sequence numbers and
// UIDs, which the session's view holds.
func viewOnly(keys []imapwire.SearchKey) bool {
	for _, k := range keys {
		switch k.Name {
		case "ALL", "ANSWERED", "DELETED", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN", "UNANSWERED",
			"UNDELETED", "UNFLAGGED", "UNSEEN", "DRAFT", "UNDRAFT", "KEYWORD", "UNKEYWORD", "SEQSET", "UID":
		case "NOT", "OR", "AND":
			if !viewOnly(k.Keys) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Search answers SEARCH and UID SEARCH (RFC 9051 §6.4.4, with ESEARCH
// RFC 4731 and SEARCHRES RFC 5182 results). The top-level flags, dates,
// save dates (RFC 8514), WITHIN intervals (RFC 5032), EMAILID and
// THREADID (RFC 8474), sizes and UID sets are one SQL query
// (store.SearchUIDs); the keys left are matched per message, the header
// keys against the fields kept at delivery (store.MessageInfos); the
// message file is read only for BODY, TEXT and other header fields.
// Strings match by the substring operation of i;unicode-casemap, as
// I18NLEVEL=1 has it (RFC 5255 §4; contains).
func (sess *session) Search(ctx context.Context, uid bool, a *imapwire.SearchArgs) error {
	if cs := strings.ToUpper(a.Charset); cs != "" && cs != "UTF-8" && cs != "US-ASCII" {
		// RFC 9051 §6.4.4: NO [BADCHARSET] with the charsets supported.
		return imapengine.No("BADCHARSET (UTF-8 US-ASCII)", "Charset not supported")
	}
	v := sess.sel
	ret := map[string]bool{}
	for _, r := range a.Return {
		ret[r] = true
	}
	if ret["UPDATE"] {
		if err := sess.checkUpdate(); err != nil {
			return err
		}
	}
	// RFC 7162 §3.1.5: with a MODSEQ key the result carries the highest
	// mod-sequence of the messages it returns, so they are read.
	wantModSeq := hasKey(a.Keys, "MODSEQ")
	if wantModSeq {
		sess.conn.EnableCondStore() // RFC 7162 §3.1: an enabling command
	}
	var program []imapwire.SearchKey
	if ret["UPDATE"] {
		// RFC 5267 §4.3: sequence numbers are evaluated now, before SAVE
		// below changes "$".
		program = fixedKeys(v, a.Keys)
	}
	found, err := sess.matching(ctx, a.Keys, wantModSeq)
	if err != nil {
		return err
	}
	nums, uids := make([]uint32, 0, len(found)), make([]uint32, 0, len(found))
	modseqs := make([]uint64, 0, len(found)) // of nums, for MODSEQ
	for _, m := range found {
		uids = append(uids, m.UID)
		modseqs = append(modseqs, m.ModSeq)
		if uid {
			nums = append(nums, m.UID)
		} else {
			nums = append(nums, m.seq)
		}
	}
	if ret["SAVE"] {
		v.saved = uids
	}
	w := sess.conn.Writer()
	esearch := a.HasReturn || sess.conn.IMAP4rev2()
	if !esearch {
		var top uint64
		if wantModSeq && len(modseqs) > 0 {
			top = slices.Max(modseqs)
		}
		w.Search(nums, top)
		return nil
	}
	// RFC 4731 §3.1: RETURN () is ALL; so is a RETURN of only the
	// CONTEXT hint and UPDATE (RFC 5267 §4.3: no interaction with the
	// result options), but SAVE alone returns no ESEARCH (RFC 5182
	// §2.4).
	results := ret["MIN"] || ret["MAX"] || ret["ALL"] || ret["COUNT"] || ret["PARTIAL"]
	if !results && !ret["SAVE"] {
		ret["ALL"] = true
	}
	if results || !ret["SAVE"] {
		d := imapwire.ESearchData{Tag: sess.conn.Tag(), UID: uid}
		if len(nums) > 0 {
			if ret["MIN"] {
				d.Min = slices.Min(nums)
			}
			if ret["MAX"] {
				d.Max = slices.Max(nums)
			}
			if ret["ALL"] {
				s := imapwire.SetOf(slices.Clone(nums))
				d.All = &s
			}
		}
		if ret["PARTIAL"] {
			d.Partial = partialOf(a.Partial, nums, true)
		}
		if ret["COUNT"] {
			n := uint32(len(nums))
			d.Count = &n
		}
		if wantModSeq && len(nums) > 0 {
			d.ModSeq = esearchModSeq(ret, a.Partial, nums, modseqs)
		}
		w.ESearch(d)
	}
	if ret["UPDATE"] {
		sess.startContext(uid, program, nil, uids)
	}
	return nil
}

// matched is a message the keys of SEARCH, SORT or THREAD hold for, in
// the selected mailbox: its store row (UID and ModSeq always; the rest
// only when the keys needed the row) and its sequence number.
type matched struct {
	store.Message
	seq uint32
}

// matching returns the messages of the selected mailbox the client has
// been told of for which all keys hold (RFC 9051 §6.4.4), in mailbox
// order. With withModSeq every one has its ModSeq.
func (sess *session) matching(ctx context.Context, keys []imapwire.SearchKey, withModSeq bool) ([]matched, error) {
	return sess.matchingIn(ctx, keys, withModSeq, nil)
}

// matchingIn is matching among the messages with the UIDs of among
// (ascending) when among is not nil: an updating search's changed
// messages (contextsChanged), which are few beside the mailbox.
func (sess *session) matchingIn(ctx context.Context, keys []imapwire.SearchKey, withModSeq bool, among []uint32) ([]matched, error) {
	v := sess.sel
	var msgs []store.Message
	infos := map[uint32]*message.Info{}
	if viewOnly(keys) {
		// Flags and numbers only (SEARCH UNSEEN and the like): the view
		// has all that is needed.
		from := v.uids
		if among != nil {
			from = among
		}
		msgs = make([]store.Message, 0, len(from))
		for _, u := range from {
			if !v.pending[u] {
				msgs = append(msgs, store.Message{UID: u, Flags: v.flags[u]})
			}
		}
	} else {
		st := sess.srv.deps.Store
		if among != nil {
			// First, so that the SQL query takes it (sqlQuery: one UID
			// set; a UID key of the program is then matched per
			// message).
			set := imapwire.SetOf(slices.Clone(among))
			keys = append([]imapwire.SearchKey{{Name: "UID", Set: &set}}, keys...)
		}
		q, rest := sqlQuery(keys, v.maxUID())
		keys = rest
		// Only what the client has been told of is searched: with no
		// SQL condition that is the view, without a query that reads
		// every row.
		var found []uint32
		if q.Empty() {
			found = make([]uint32, 0, len(v.uids))
			for _, u := range v.uids {
				if !v.pending[u] {
					found = append(found, u)
				}
			}
		} else {
			var err error
			if found, err = st.SearchUIDs(ctx, v.mb.ID, q); err != nil {
				return nil, sess.storeErr(err)
			}
			found = slices.DeleteFunc(found, func(u uint32) bool { return v.seqOf(u) == 0 || v.pending[u] })
		}
		var err error
		if found, err = narrowByText(ctx, st, v.mb.ID, keys, found); err != nil {
			return nil, sess.storeErr(err)
		}
		if len(keys) == 0 && !withModSeq {
			msgs = make([]store.Message, len(found))
			for i, u := range found {
				msgs[i] = store.Message{UID: u}
			}
		} else if len(found) > 0 {
			// Only the candidates' rows and summaries are read.
			if msgs, infos, err = st.SearchCandidates(ctx, v.mb.ID, found, usesKept(keys)); err != nil {
				return nil, sess.storeErr(err)
			}
		}
	}
	out := make([]matched, 0, len(msgs))
	for _, m := range msgs {
		seq := v.seqOf(m.UID)
		if seq == 0 {
			continue
		}
		c := &candidate{ctx: ctx, sess: sess, m: m, seq: seq, info: infos[m.UID]}
		if !c.matchAll(keys) {
			continue
		}
		out = append(out, matched{Message: m, seq: seq})
	}
	return out, nil
}

// esearchModSeq is ESEARCH's MODSEQ (RFC 4731 §3.2, RFC 7162 §3.1.5):
// the highest mod-sequence of all the matches when ALL or COUNT is
// returned, else of just the messages MIN, MAX and PARTIAL (RFC 5267
// §4.4, nums in mailbox order) name.
func esearchModSeq(ret map[string]bool, partial *imapwire.PartialRange, nums []uint32, modseqs []uint64) uint64 {
	if ret["ALL"] || ret["COUNT"] {
		return slices.Max(modseqs)
	}
	var top uint64
	lo, hi := slices.Min(nums), slices.Max(nums)
	for i, n := range nums {
		if (ret["MIN"] && n == lo) || (ret["MAX"] && n == hi) {
			top = max(top, modseqs[i])
		}
	}
	if partial != nil {
		from, to := partial.Bounds()
		for i := int(from) - 1; i < len(nums) && i < int(to); i++ {
			top = max(top, modseqs[i])
		}
	}
	return top
}

// hasKey reports whether keys use the key name, at any depth.
func hasKey(keys []imapwire.SearchKey, name string) bool {
	for _, k := range keys {
		if k.Name == name || hasKey(k.Keys, name) {
			return true
		}
	}
	return false
}

// candidate is one message being matched, with its bytes loaded on first
// need.
type candidate struct {
	ctx    context.Context // the command's, for opening the body
	sess   *session
	m      store.Message
	seq    uint32
	info   *message.Info // the kept summary, nil when none
	loaded bool
	raw    []byte
	header mail.Header
}

func (c *candidate) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	body, err := c.sess.srv.deps.Store.OpenBody(c.ctx, c.m)
	if err != nil {
		return
	}
	defer body.Close()
	c.raw, _ = readBody(body)
	if e, err := gomessage.Read(bytes.NewReader(c.raw)); e != nil || err == nil {
		if e != nil {
			c.header = mail.Header{Header: e.Header}
		}
	}
}

func (c *candidate) hasFlag(f string) bool {
	if strings.EqualFold(f, `\Recent`) {
		return c.sess.sel.recent[c.m.UID]
	}
	for _, g := range c.m.Flags {
		if strings.EqualFold(g, f) {
			return true
		}
	}
	return false
}

// matchAll: all keys must hold (RFC 9051 §6.4.4).
func (c *candidate) matchAll(keys []imapwire.SearchKey) bool {
	for i := range keys {
		if !c.match(&keys[i]) {
			return false
		}
	}
	return true
}

// flagKeys are the search keys that test one flag, and whether it is set.
var flagKeys = map[string]struct {
	flag string
	set  bool
}{
	"ANSWERED": {`\Answered`, true}, "DELETED": {`\Deleted`, true}, "FLAGGED": {`\Flagged`, true},
	"SEEN": {`\Seen`, true}, "DRAFT": {`\Draft`, true}, "RECENT": {`\Recent`, true},
	"UNANSWERED": {`\Answered`, false}, "UNDELETED": {`\Deleted`, false}, "UNFLAGGED": {`\Flagged`, false},
	"UNSEEN": {`\Seen`, false}, "UNDRAFT": {`\Draft`, false}, "OLD": {`\Recent`, false},
}

// headerKeys are the keys that look in one header field.
var headerKeys = map[string]string{"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc", "SUBJECT": "Subject"}

func (c *candidate) match(k *imapwire.SearchKey) bool {
	v := c.sess.sel
	if fk, ok := flagKeys[k.Name]; ok {
		return c.hasFlag(fk.flag) == fk.set
	}
	if field, ok := headerKeys[k.Name]; ok {
		if c.info != nil {
			return matchKept(c.info, field, k.Value)
		}
		c.load()
		return matchHeader(c.header.FieldsByKey(field), k.Value)
	}
	switch k.Name {
	case "ALL":
		return true
	case "NEW":
		return c.hasFlag(`\Recent`) && !c.hasFlag(`\Seen`)
	case "KEYWORD":
		return c.hasFlag(k.Value)
	case "UNKEYWORD":
		return !c.hasFlag(k.Value)
	case "SEQSET":
		if k.Set.Saved {
			_, ok := slices.BinarySearch(v.saved, c.m.UID)
			return ok
		}
		return k.Set.Contains(c.seq, uint32(len(v.uids)))
	case "UID":
		if k.Set.Saved {
			_, ok := slices.BinarySearch(v.saved, c.m.UID)
			return ok
		}
		return k.Set.Contains(c.m.UID, v.maxUID())
	case "NOT":
		return !c.match(&k.Keys[0])
	case "OR":
		return c.match(&k.Keys[0]) || c.match(&k.Keys[1])
	case "AND":
		return c.matchAll(k.Keys)
	case "BEFORE", "ON", "SINCE":
		// They compare the internal date's day, ignoring time and zone
		// (RFC 9051 §6.4.4).
		return matchDay(c.m.InternalDate, k.Name, k.Date)
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		if c.info != nil {
			t := c.info.Envelope.Date
			return !t.IsZero() && matchDay(t, strings.TrimPrefix(k.Name, "SENT"), k.Date)
		}
		c.load()
		t, err := c.header.Date()
		return err == nil && matchDay(t, strings.TrimPrefix(k.Name, "SENT"), k.Date)
	case "MODSEQ":
		// RFC 7162 §3.1.5: a mod-sequence at least the one given.
		return c.m.ModSeq >= k.Number
	case "SAVEDATESUPPORTED":
		return true // RFC 8514 §5: every mailbox keeps save dates
	case "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		return matchDay(savedOrInternal(c.m), strings.TrimPrefix(k.Name, "SAVED"), k.Date)
	case "OLDER", "YOUNGER":
		from, until := within(k, time.Now())
		d := c.m.InternalDate
		return !d.Before(from) && (until.IsZero() || d.Before(until))
	case "EMAILID":
		return c.m.EmailID == k.Value // RFC 8474 §6: exactly the id given
	case "THREADID":
		return c.m.ThreadID != "" && c.m.ThreadID == k.Value
	case "LARGER":
		return uint64(c.m.Size) > k.Number
	case "SMALLER":
		return uint64(c.m.Size) < k.Number
	case "HEADER":
		if field, ok := keptField(k.Field); ok && c.info != nil && k.Value != "" {
			return matchKept(c.info, field, k.Value)
		}
		c.load()
		return matchHeader(c.header.FieldsByKey(k.Field), k.Value)
	case "BODY":
		c.load()
		return c.bodyContains(k.Value)
	case "TEXT":
		c.load()
		return matchHeader(c.header.Fields(), k.Value) || c.bodyContains(k.Value)
	}
	return false
}

// savedOrInternal is the date SAVEDBEFORE, SAVEDON and SAVEDSINCE look
// at: the save date, or for a message without one its internal date
// (RFC 8514 §4.2), as store.Query has it.
func savedOrInternal(m store.Message) time.Time {
	if m.SaveDate.IsZero() {
		return m.InternalDate
	}
	return m.SaveDate
}

// within turns WITHIN's OLDER n and YOUNGER n (RFC 5032 §3: internal
// date more than, or at most, n seconds before now) into a range of
// internal dates: [from, until), a zero bound open.
func within(k *imapwire.SearchKey, now time.Time) (from, until time.Time) {
	edge := now.Add(-time.Duration(min(k.Number, maxInterval)) * time.Second)
	if k.Name == "YOUNGER" {
		return edge, time.Time{}
	}
	return time.Time{}, edge
}

// maxInterval bounds a WITHIN interval in seconds: the largest
// nz-number (RFC 9051 §9: 32 bits), about 136 years, which a
// time.Duration holds without overflow.
const maxInterval = 1<<32 - 1

// matchDay compares t's day with d's: BEFORE, ON or SINCE.
func matchDay(t time.Time, op string, d time.Time) bool {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	switch op {
	case "BEFORE":
		return day.Before(d)
	case "ON":
		return day.Equal(d)
	}
	return !day.Before(d)
}

// matchHeader: an empty value matches any message with the field (RFC
// 9051 §6.4.4 HEADER); otherwise a substring of the decoded value by
// i;unicode-casemap (contains).
func matchHeader(fields gomessage.HeaderFields, value string) bool {
	if value == "" {
		return fields.Len() > 0
	}
	value = message.Casemap(value)
	for fields.Next() {
		t, err := fields.Text()
		if err != nil {
			t = fields.Value()
		}
		if contains(t, value) {
			return true
		}
	}
	return false
}

// bodyContains looks for s, by i;unicode-casemap (contains), in the
// decoded text parts of the message, or in the raw body of a message that
// does not parse as MIME (the full-text index holds the same: decoded
// text, and every message it could not read is a candidate).
func (c *candidate) bodyContains(s string) bool {
	needle := message.Casemap(s)
	if e, err := gomessage.Read(bytes.NewReader(c.raw)); e != nil && (err == nil || gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err)) {
		return entityContains(e, needle, 0)
	}
	if i := bytes.Index(c.raw, []byte("\r\n\r\n")); i >= 0 {
		return contains(string(c.raw[i+4:]), needle)
	}
	return false
}

// contains is the substring operation of the i;unicode-casemap comparator
// (RFC 5051 §2), the default of SEARCH at I18NLEVEL=1 (RFC 5255 §4): the
// folded needle (message.Casemap) is a substring of the folded text.
func contains(text, folded string) bool {
	return strings.Contains(message.Casemap(text), folded)
}

// maxDepth bounds MIME nesting during search.
const maxDepth = 20

// entityContains looks for the folded needle in the text leaves of e.
func entityContains(e *gomessage.Entity, needle string, depth int) bool {
	if depth > maxDepth {
		return false
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err != nil {
				return false
			}
			if entityContains(p, needle, depth+1) {
				return true
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, _ := io.ReadAll(e.Body)
	return contains(string(b), needle)
}

// keptField returns the canonical name of a header field whose decoded
// value the kept summary holds (headerKeys' fields).
func keptField(name string) (string, bool) {
	for _, f := range headerKeys {
		if strings.EqualFold(f, name) {
			return f, true
		}
	}
	return "", false
}

// usesKept reports whether keys have a header or SENT* key, which are
// matched against the kept summary.
func usesKept(keys []imapwire.SearchKey) bool {
	for _, k := range keys {
		if _, ok := headerKeys[k.Name]; ok {
			return true
		}
		switch k.Name {
		case "HEADER", "SENTBEFORE", "SENTON", "SENTSINCE":
			return true
		}
		if usesKept(k.Keys) {
			return true
		}
	}
	return false
}

// matchKept matches a header key against the decoded fields kept at
// delivery: a substring by i;unicode-casemap (RFC 9051 §6.4.4, RFC 5255
// §4) of the
// subject, or of an address of the list as the envelope has it (RFC 9051
// "the envelope structure's FROM field"): its display name, its
// mailbox@host, both as "Name <mailbox@host>", or a group's name. The
// address was parsed with its comments taken out (a comment with no
// display name is the name), so "zoe@x.org (Zoe)" matches "zoe@x.org".
func matchKept(info *message.Info, field, value string) bool {
	value = message.Casemap(value)
	has := func(s string) bool { return contains(s, value) }
	var list []message.EnvelopeAddress
	switch field {
	case "Subject":
		return has(info.Envelope.Subject)
	case "From":
		list = info.Envelope.From
	case "To":
		list = info.Envelope.To
	case "Cc":
		list = info.Envelope.Cc
	case "Bcc":
		list = info.Envelope.Bcc
	}
	for _, a := range list {
		if a.IsGroupEnd() {
			continue
		}
		spec := a.Mailbox
		if a.Host != "" {
			spec += "@" + a.Host
		}
		if has(a.Name) || has(spec) || a.Name != "" && has(a.Name+" <"+spec+">") {
			return true
		}
	}
	return false
}

// sqlQuery moves the top-level keys that store.Query can hold into one
// (RFC 9051 §6.4.4: the keys are a conjunction) and returns the rest,
// matched per message. A key whose Query field is already taken stays
// in the rest. maxUID is what "*" stands for in a UID set.
func sqlQuery(keys []imapwire.SearchKey, maxUID uint32) (store.Query, []imapwire.SearchKey) {
	var q store.Query
	var rest []imapwire.SearchKey
	for _, k := range keys {
		if !addKey(&q, k, maxUID) {
			rest = append(rest, k)
		}
	}
	return q, rest
}

// addKey puts k into q if q can hold it and the field it needs is free.
func addKey(q *store.Query, k imapwire.SearchKey, maxUID uint32) bool {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	if fk, ok := flagKeys[k.Name]; ok {
		if fk.flag == `\Recent` {
			return false // a session's, not the store's
		}
		if fk.set {
			q.Flags = append(q.Flags, fk.flag)
		} else {
			q.NotFlags = append(q.NotFlags, fk.flag)
		}
		return true
	}
	switch k.Name {
	case "ALL":
		return true
	case "KEYWORD":
		q.Flags = append(q.Flags, k.Value)
		return true
	case "UNKEYWORD":
		q.NotFlags = append(q.NotFlags, k.Value)
		return true
	case "UID":
		if k.Set.Saved || len(k.Set.Ranges) == 0 || q.UIDs != nil {
			return false
		}
		for _, r := range k.Set.Ranges {
			lo, hi := r.Start, r.Stop
			if lo == 0 {
				lo = maxUID
			}
			if hi == 0 {
				hi = maxUID
			}
			q.UIDs = append(q.UIDs, store.UIDRange{Lo: min(lo, hi), Hi: max(lo, hi)})
		}
		return true
	case "SINCE", "BEFORE", "ON":
		return dayRange(k.Name, day(k.Date), &q.Since, &q.Before)
	case "SENTSINCE", "SENTBEFORE", "SENTON":
		return dayRange(k.Name, day(k.Date), &q.SentSince, &q.SentBefore)
	case "SAVEDATESUPPORTED":
		return true // RFC 8514 §5: all messages of a mailbox with save dates
	case "SAVEDSINCE", "SAVEDBEFORE", "SAVEDON":
		return dayRange(k.Name, day(k.Date), &q.SavedSince, &q.SavedBefore)
	case "OLDER", "YOUNGER":
		from, until := within(&k, time.Now())
		if !from.IsZero() && q.From.IsZero() {
			q.From = from
			return true
		}
		if !until.IsZero() && q.Until.IsZero() {
			q.Until = until
			return true
		}
		return false
	case "EMAILID", "THREADID":
		f := &q.EmailID
		if k.Name == "THREADID" {
			f = &q.ThreadID
		}
		if *f != "" {
			return false
		}
		*f = k.Value
		return true
	case "MODSEQ":
		if q.ModSeq != 0 {
			return false
		}
		q.ModSeq = k.Number // 0 matches every message, as it should
		return true
	case "LARGER":
		if q.Larger != 0 || k.Number == 0 || k.Number > 1<<62 {
			return false
		}
		q.Larger = int64(k.Number)
		return true
	case "SMALLER":
		if q.Smaller != 0 || k.Number == 0 || k.Number > 1<<62 {
			return false
		}
		q.Smaller = int64(k.Number)
		return true
	}
	return false
}

// narrowByText keeps of found the UIDs that the full-text index names as
// candidates of each top-level key it can narrow (a conjunction, RFC 9051
// §6.4.4; see textCandidates). The keys are still confirmed per message,
// since the index gives a superset.
func narrowByText(ctx context.Context, st Store, mailboxID int64, keys []imapwire.SearchKey, found []uint32) ([]uint32, error) {
	for i := range keys {
		if len(found) == 0 {
			break
		}
		cands, narrowed, err := textCandidates(ctx, st, mailboxID, &keys[i])
		if err != nil {
			return nil, err
		}
		if !narrowed {
			continue
		}
		found = slices.DeleteFunc(found, func(u uint32) bool {
			_, ok := slices.BinarySearch(cands, u)
			return !ok
		})
	}
	return found, nil
}

// textCandidates returns, ascending, a superset of the UIDs for which k
// holds, from the full-text index (store.SearchText), or narrowed false
// when the index cannot tell: BODY, TEXT, SUBJECT, FROM, TO, CC, BCC and
// HEADER with a needle the index can look up (three characters or more;
// for the address fields a run of three letters or digits), an OR of two
// such keys (the union) and a parenthesised list with at least one (the
// intersection). A NOT is never narrowed: the complement of a superset is
// not one.
func textCandidates(ctx context.Context, st Store, mailboxID int64, k *imapwire.SearchKey) ([]uint32, bool, error) {
	switch k.Name {
	case "BODY", "TEXT", "SUBJECT", "FROM", "TO", "CC", "BCC":
		return st.SearchText(ctx, mailboxID, k.Name, k.Value)
	case "HEADER":
		field := k.Field
		if f, ok := keptField(field); ok {
			field = strings.ToUpper(f) // matched as FROM etc. are
		} else if u := strings.ToUpper(field); u == "TEXT" || u == "BODY" {
			return nil, false, nil // a field so named is not SearchText's TEXT or BODY
		}
		return st.SearchText(ctx, mailboxID, field, k.Value)
	case "OR":
		a, ok, err := textCandidates(ctx, st, mailboxID, &k.Keys[0])
		if err != nil || !ok {
			return nil, false, err
		}
		b, ok, err := textCandidates(ctx, st, mailboxID, &k.Keys[1])
		if err != nil || !ok {
			return nil, false, err
		}
		u := append(slices.Clone(a), b...)
		slices.Sort(u)
		return slices.Compact(u), true, nil
	case "AND":
		var out []uint32
		narrowed := false
		for i := range k.Keys {
			c, ok, err := textCandidates(ctx, st, mailboxID, &k.Keys[i])
			if err != nil {
				return nil, false, err
			}
			if !ok {
				continue
			}
			if !narrowed {
				out, narrowed = c, true
				continue
			}
			out = slices.DeleteFunc(out, func(u uint32) bool {
				_, ok := slices.BinarySearch(c, u)
				return !ok
			})
		}
		return out, narrowed, nil
	}
	return nil, false, nil
}

// dayRange sets the query's range [*since, *before) for a SINCE, BEFORE or
// ON key (or its SENT and SAVED forms) on day d: SINCE from d, BEFORE up to
// d, ON the day itself. It reports false, setting nothing, when the range
// is already set (a second date key is then checked per message).
func dayRange(name string, d time.Time, since, before *time.Time) bool {
	if !since.IsZero() || !before.IsZero() {
		return false
	}
	switch {
	case strings.HasSuffix(name, "SINCE"):
		*since = d
	case strings.HasSuffix(name, "BEFORE"):
		*before = d
	default: // ON
		*since, *before = d, d.AddDate(0, 0, 1)
	}
	return true
}
