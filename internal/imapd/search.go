package imapd

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"pail/internal/store"
)

// flagCriteria reports whether criteria use only flags, sequence numbers
// and UIDs, which the session's view holds.
func flagCriteria(c *imap.SearchCriteria) bool {
	if !c.Since.IsZero() || !c.Before.IsZero() || !c.SentSince.IsZero() || !c.SentBefore.IsZero() ||
		len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 || c.Larger != 0 || c.Smaller != 0 || c.ModSeq != nil {
		return false
	}
	for i := range c.Not {
		if !flagCriteria(&c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !flagCriteria(&c.Or[i][0]) || !flagCriteria(&c.Or[i][1]) {
			return false
		}
	}
	return true
}

// Search answers SEARCH and UID SEARCH (RFC 9051 §6.4.4, with ESEARCH
// RFC 4731 and SEARCHRES RFC 5182 results). Flags, dates, sizes and number
// sets are matched from the index; the message file is read only for
// header and text keys.
func (sess *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	v := sess.sel
	var msgs []store.Message
	if flagCriteria(criteria) {
		// Flags and numbers only (SEARCH UNSEEN and the like): the view
		// has all that is needed.
		msgs = make([]store.Message, 0, len(v.uids))
		for _, uid := range v.uids {
			if !v.pending[uid] {
				msgs = append(msgs, store.Message{UID: uid, Flags: v.flags[uid]})
			}
		}
	} else {
		var err error
		msgs, err = sess.srv.deps.Store.MessagesByUID(sess.srv.ctx, v.mb.ID, v.uids)
		if err != nil {
			return nil, sess.storeErr(err)
		}
	}
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for _, m := range msgs {
		seq := v.seqOf(m.UID)
		if seq == 0 {
			continue
		}
		c := &candidate{sess: sess, m: m, seq: seq}
		if !c.match(criteria) {
			continue
		}
		uids.AddNum(imap.UID(m.UID))
		num := seq
		if kind == imapserver.NumKindUID {
			num = m.UID
		} else {
			seqs.AddNum(seq)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if data.All == nil || isEmpty(data.All) {
		if kind == imapserver.NumKindUID {
			data.All = imap.UIDSet{}
		} else {
			data.All = imap.SeqSet{}
		}
	}
	if options.ReturnSave {
		v.saved = uids
	}
	return data, nil
}

func isEmpty(s imap.NumSet) bool {
	switch s := s.(type) {
	case imap.SeqSet:
		return len(s) == 0
	case imap.UIDSet:
		return len(s) == 0
	}
	return true
}

// candidate is one message being matched, with its bytes loaded on first
// need.
type candidate struct {
	sess   *session
	m      store.Message
	seq    uint32
	loaded bool
	raw    []byte
	header mail.Header
}

func (c *candidate) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	f, err := c.sess.srv.deps.Store.OpenMessage(c.m)
	if err != nil {
		return
	}
	defer f.Close()
	c.raw, _ = io.ReadAll(io.LimitReader(f, c.m.Size+1))
	if e, err := gomessage.Read(bytes.NewReader(c.raw)); e != nil || err == nil {
		if e != nil {
			c.header = mail.Header{Header: e.Header}
		}
	}
}

func (c *candidate) hasFlag(f imap.Flag) bool {
	if strings.EqualFold(string(f), `\Recent`) {
		return c.sess.sel.recent[c.m.UID]
	}
	for _, g := range c.m.Flags {
		if strings.EqualFold(g, string(f)) {
			return true
		}
	}
	return false
}

// match evaluates the criteria; all listed keys must hold (RFC 9051 §6.4.4).
func (c *candidate) match(cr *imap.SearchCriteria) bool {
	v := c.sess.sel
	for _, set := range cr.SeqNum {
		if !v.contains(set, c.seq, c.m.UID) {
			return false
		}
	}
	for _, set := range cr.UID {
		if !v.contains(set, c.seq, c.m.UID) {
			return false
		}
	}
	for _, f := range cr.Flag {
		if !c.hasFlag(f) {
			return false
		}
	}
	for _, f := range cr.NotFlag {
		if c.hasFlag(f) {
			return false
		}
	}
	// SINCE/BEFORE/ON compare the internal date's day, ignoring time and
	// zone (RFC 9051 §6.4.4).
	if !matchDay(c.m.InternalDate, cr.Since, cr.Before) {
		return false
	}
	if cr.Larger != 0 && c.m.Size <= cr.Larger {
		return false
	}
	if cr.Smaller != 0 && c.m.Size >= cr.Smaller {
		return false
	}
	if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		c.load()
		t, err := c.header.Date()
		if err != nil || !matchDay(t, cr.SentSince, cr.SentBefore) {
			return false
		}
	}
	for _, h := range cr.Header {
		c.load()
		if !matchHeader(c.header.FieldsByKey(h.Key), h.Value) {
			return false
		}
	}
	for _, s := range cr.Body {
		c.load()
		if !c.bodyContains(s) {
			return false
		}
	}
	for _, s := range cr.Text {
		c.load()
		if !matchHeader(c.header.Fields(), s) && !c.bodyContains(s) {
			return false
		}
	}
	for i := range cr.Not {
		if c.match(&cr.Not[i]) {
			return false
		}
	}
	for i := range cr.Or {
		if !c.match(&cr.Or[i][0]) && !c.match(&cr.Or[i][1]) {
			return false
		}
	}
	return true
}

// contains reports whether the message (seq, uid) is in a number set,
// with "*" meaning the last message (RFC 9051 §9 seq-range).
func (v *view) contains(set imap.NumSet, seq, uid uint32) bool {
	if imap.IsSearchRes(set) {
		return v.saved.Contains(imap.UID(uid))
	}
	in := func(start, stop, top, n uint32) bool {
		if start == 0 {
			start = top
		}
		if stop == 0 {
			stop = top
		}
		if start > stop {
			start, stop = stop, start
		}
		return n >= start && n <= stop
	}
	switch set := set.(type) {
	case imap.SeqSet:
		for _, r := range set {
			if in(r.Start, r.Stop, uint32(len(v.uids)), seq) {
				return true
			}
		}
	case imap.UIDSet:
		for _, r := range set {
			if in(uint32(r.Start), uint32(r.Stop), v.maxUID(), uid) {
				return true
			}
		}
	}
	return false
}

func matchDay(t, since, before time.Time) bool {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && day.Before(since) {
		return false
	}
	if !before.IsZero() && !day.Before(before) {
		return false
	}
	return true
}

// matchHeader: an empty value matches any message with the field (RFC
// 9051 §6.4.4 HEADER); otherwise a case-insensitive substring of the
// decoded value.
func matchHeader(fields gomessage.HeaderFields, value string) bool {
	if value == "" {
		return fields.Len() > 0
	}
	value = strings.ToLower(value)
	for fields.Next() {
		t, err := fields.Text()
		if err != nil {
			t = fields.Value()
		}
		if strings.Contains(strings.ToLower(t), value) {
			return true
		}
	}
	return false
}

// bodyContains looks for s, case-insensitively, in the decoded text parts
// of the message and, failing that, in the raw body.
func (c *candidate) bodyContains(s string) bool {
	needle := bytes.ToLower([]byte(s))
	if e, err := gomessage.Read(bytes.NewReader(c.raw)); e != nil && (err == nil || gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err)) {
		if entityContains(e, needle, 0) {
			return true
		}
	}
	if i := bytes.Index(c.raw, []byte("\r\n\r\n")); i >= 0 {
		return bytes.Contains(bytes.ToLower(c.raw[i+4:]), needle)
	}
	return false
}

// maxDepth bounds MIME nesting during search.
const maxDepth = 20

func entityContains(e *gomessage.Entity, needle []byte, depth int) bool {
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
	return bytes.Contains(bytes.ToLower(b), needle)
}
