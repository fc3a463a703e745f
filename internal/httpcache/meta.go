package httpcache

import (
	"sync/atomic"
	"time"
)

// entryMeta is what the cache derives from an entry's header: parsed once,
// the first time the entry is used, so that answering a hit parses
// nothing. It is sound because an entry never changes once committed (a
// refresh after a 304 makes a new entry).
type entryMeta struct {
	// cc is the response's Cache-Control (RFC 9111 §5.2.2), or its
	// CDN-Cache-Control when that applies (RFC 9213).
	cc Directives
	// lifetime is freshness_lifetime (RFC 9111 §4.2.1); heuristic says it
	// came from §4.2.2.
	lifetime  time.Duration
	heuristic bool
	// initialAge is corrected_initial_age (RFC 9111 §4.2.3): current_age
	// is initialAge plus the time resident since ResponseTime.
	initialAge time.Duration
	// date is date_value, for choosing the most recent variant (§4.1).
	date time.Time
	// vary is the field names listed by Vary (RFC 9110 §12.5.5).
	vary []string
	// varySeen[i] is the last single-line request value of vary[i] that
	// matched the stored one after normalising (VaryMatches).
	varySeen []atomic.Pointer[string]
	// memo is the value Memo keeps for the layer above.
	memo atomic.Pointer[memoBox]
}

type memoBox struct{ v any }

// meta returns e's derived metadata, computing it on first use.
func (e *Entry) meta() *entryMeta {
	if m := e.m.Load(); m != nil {
		return m
	}
	m := newMeta(e)
	if e.m.CompareAndSwap(nil, m) {
		return m
	}
	return e.m.Load()
}

func newMeta(e *Entry) *entryMeta {
	cc, targeted := ResponseDirectives(e.Header)
	m := &entryMeta{cc: cc, date: dateOf(e.Header, e.ResponseTime), vary: varyFields(e.Header)}
	m.varySeen = make([]atomic.Pointer[string], len(m.vary))
	m.lifetime, m.heuristic = lifetime(e.Status, e.Header, m.cc, targeted, m.date)
	apparent := max(0, e.ResponseTime.Sub(m.date))
	delay := max(0, e.ResponseTime.Sub(e.RequestTime))
	m.initialAge = max(apparent, AgeValue(e.Header)+delay)
	return m
}

// Memo returns the value build computes from e, computing it once per
// entry (concurrent first callers may each build; one result is kept). It
// lets the layer above keep state derived from an entry, such as the
// entry's response header rendered for clients, that lives and dies with
// the entry. build must depend only on e and on fixed configuration.
func (e *Entry) Memo(build func(*Entry) any) any {
	m := e.meta()
	if b := m.memo.Load(); b != nil {
		return b.v
	}
	b := &memoBox{v: build(e)}
	if m.memo.CompareAndSwap(nil, b) {
		return b.v
	}
	return m.memo.Load().v
}

// Date returns e's date_value: its Date field, or the time it was received
// when Date is missing or invalid (RFC 9110 §6.6.1).
func (e *Entry) Date() time.Time { return e.meta().date }

// Directives returns e's parsed response directives (ResponseDirectives).
// The map is shared: callers must not modify it.
func (e *Entry) Directives() Directives { return e.meta().cc }
