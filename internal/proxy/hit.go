package proxy

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"pail/internal/httpcache"
)

// The cache-hit path. A hit for a plain request (no Range, no
// preconditions) writes a header prepared once per stored entry and the
// body in one Write: nothing is parsed, cloned or locked per request.
// Requests with Range or preconditions take serveStored, which computes
// the same header the long way.

// hitHeader is an entry's response header as a hit sends it, prepared
// once per entry (httpcache.Entry.Memo): the stored fields, our Via, and
// Accept-Ranges and Content-Length as serveStored sets them. Only Age and
// Cache-Status vary per request; the last pair made is kept in stamp, so
// a hot entry makes a new pair about once a second. Every slice is shared
// between requests and never modified: each is clipped so that an append
// copies.
type hitHeader struct {
	fields      http.Header
	cacheStatus []string // the stored Cache-Status lines, ours goes after
	stamp       atomic.Pointer[hitStamp]
	// fast says the fast path may answer with this header (fastEligible).
	fast bool
}

// hitStamp is one request-varying pair of field values.
type hitStamp struct {
	age, ttl    int64
	detail      string
	ageValue    []string
	cacheStatus []string
	// wire is the whole answer as the fast path sends it, made on first
	// use (fastwire.go).
	wire atomic.Pointer[fastWire]
}

// prepareHit builds e's hitHeader (the Memo builder).
func (s *Server) prepareHit(e *httpcache.Entry) any {
	h := make(http.Header, len(e.Header)+4)
	for k, vs := range e.Header {
		h[k] = slices.Clip(slices.Clone(vs))
	}
	delete(h, "Age") // set per request (RFC 9111 §5.1)
	cs := h["Cache-Status"]
	delete(h, "Cache-Status")
	h["Via"] = slices.Clip(append(h["Via"], viaEntry(1, 1, s.cfg.Name)))
	if h.Get("Accept-Ranges") == "" && e.Status == http.StatusOK {
		h["Accept-Ranges"] = []string{"bytes"}
	}
	if !bodyless(e.Status) {
		h["Content-Length"] = []string{strconv.FormatInt(e.Size, 10)}
	}
	return &hitHeader{fields: h, cacheStatus: cs, fast: fastEligible(e.Status, h, e.Size)}
}

// stampFor returns the Age and Cache-Status values for a hit whose age
// and remaining freshness are f, with detail appended to "hit".
func (s *Server) stampFor(hh *hitHeader, f httpcache.Freshness, detail string) *hitStamp {
	age := int64(f.Age / time.Second)
	ttl := int64((f.Lifetime - f.Age).Seconds())
	if st := hh.stamp.Load(); st != nil && st.age == age && st.ttl == ttl && st.detail == detail {
		return st
	}
	b := make([]byte, 0, len(s.cfg.Name)+len("; hit; ttl=")+20+len(detail))
	b = append(b, s.cfg.Name...)
	b = append(b, "; hit; ttl="...)
	b = strconv.AppendInt(b, ttl, 10)
	b = append(b, detail...)
	st := &hitStamp{
		age: age, ttl: ttl, detail: detail,
		ageValue:    []string{strconv.FormatInt(age, 10)},
		cacheStatus: slices.Clip(append(slices.Clone(hh.cacheStatus), string(b))),
	}
	hh.stamp.Store(st)
	return st
}

// serveHit answers from a fresh (or acceptably stale) entry, f being its
// freshness now. It returns false, having written nothing, when the
// entry's body is gone.
func (s *Server) serveHit(w http.ResponseWriter, r *http.Request, e *httpcache.Entry, f httpcache.Freshness, detail string) bool {
	if !plainRequest(r, e) {
		ttl := "; ttl=" + strconv.FormatInt(int64((f.Lifetime-f.Age).Seconds()), 10)
		return s.serveStored(w, r, e, "hit"+ttl+detail)
	}
	body, err := s.store.Open(e)
	if err != nil {
		return false
	}
	defer body.Close()
	hh := e.Memo(s.hitBuilder).(*hitHeader)
	st := s.stampFor(hh, f, detail)
	h := w.Header()
	clear(h)
	for k, vs := range hh.fields {
		h[k] = vs
	}
	h["Age"] = st.ageValue
	h["Cache-Status"] = st.cacheStatus
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead || bodyless(e.Status) {
		return true
	}
	s.writeBody(w, body, e.Size)
	return true
}

// plainRequest reports whether a request for e needs neither a Range nor
// a precondition evaluated, so that serveHit's prepared header is the
// answer's.
func plainRequest(r *http.Request, e *httpcache.Entry) bool {
	switch e.Status {
	case http.StatusOK:
		if rng := r.Header["Range"]; len(rng) > 0 && rng[0] != "" {
			return false // RFC 9110 §14.2: Range applies to a 200
		}
		return !httpcache.HasConditions(r.Header)
	case http.StatusNoContent:
		return !httpcache.HasConditions(r.Header)
	}
	return true // serveStored evaluates neither for other codes
}

// writeBody sends a stored body of size bytes: in one Write when it is in
// memory, else streamed through a pooled buffer.
func (s *Server) writeBody(w http.ResponseWriter, body httpcache.Body, size int64) {
	if m, ok := body.(httpcache.InMemory); ok {
		n, _ := w.Write(m.Bytes()[:size])
		s.metrics.BytesFromCache.Add(int64(n))
		return
	}
	s.copyStored(w, io.NewSectionReader(body, 0, size))
}
