package proxy

import (
	"context"
	"net/http"
	"time"

	"pail/internal/httpcache"
)

// maxCoalesceWaits bounds how often one request waits for another's fetch
// before going to the origin itself (the response may not be storable, or
// may not match its Vary).
const maxCoalesceWaits = 2

// clientConditionals are the request fields the cache evaluates itself
// and so removes when it asks the origin for a full response to store.
var clientConditionals = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

// serveCacheable answers a GET or HEAD from the cache when it can (RFC
// 9111 §4), otherwise from the origin, storing what may be stored.
func (s *Server) serveCacheable(w http.ResponseWriter, r *http.Request, t *target, now time.Time) {
	reqCC := httpcache.RequestDirectives(r.Header)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// After waiting for another request's fetch: time has passed.
			now = s.now()
			setWriteDeadline(w, time.Now().Add(writeIdleTimeout))
		}
		e := httpcache.Select(s.store, t.key, r.Header)
		if e != nil {
			use, f := httpcache.Decide(e, reqCC, now)
			served := false
			switch use {
			case httpcache.UseFresh:
				served = s.serveHit(w, r, e, f, "")
			case httpcache.UseStale:
				served = s.serveHit(w, r, e, f, "; detail=max-stale")
			case httpcache.UseStaleWhileRevalidate:
				s.refreshInBackground(r, t, e)
				served = s.serveHit(w, r, e, f, "; detail=stale-while-revalidate")
			case httpcache.Revalidate:
				if reqCC.Has("only-if-cached") {
					s.onlyIfCached(w)
					return
				}
				fwd := "fwd=stale"
				if f.Fresh() {
					fwd = "fwd=request"
				}
				s.fetch(w, r, t, e, reqCC, nil, fwd, nil)
				return
			}
			if served {
				s.metrics.Hits.Add(1)
				return
			}
			// The entry was evicted between Select and Open: a miss.
		}
		// RFC 9111 §3.3-3.4: a stored 206 may answer a range inside it,
		// or be completed.
		if r.Method == http.MethodGet && !httpcache.HasConditions(r.Header) {
			if p := httpcache.SelectPartial(s.store, t.key, r.Header); p != nil && s.servePartial(w, r, t, p, reqCC, now) {
				return
			}
		}
		// RFC 9111 §5.2.1.7: nothing stored may be used: 504.
		if reqCC.Has("only-if-cached") {
			s.onlyIfCached(w)
			return
		}
		fwd := "fwd=uri-miss"
		if len(s.store.Variants(t.key)) > 0 {
			fwd = "fwd=vary-miss"
		}
		// A Range on a miss, and a HEAD, go through unchanged; a HEAD is
		// not stored, a 206 to a Range is (fetch, RFC 9111 §3.3).
		if r.Method == http.MethodHead || r.Header.Get("Range") != "" {
			s.metrics.Misses.Add(1)
			s.fetch(w, r, t, nil, reqCC, nil, fwd, nil)
			return
		}
		if attempt >= maxCoalesceWaits {
			s.fetch(w, r, t, nil, reqCC, nil, fwd, nil)
			return
		}
		fl, leader := s.flights.join(t.key)
		if !leader {
			s.metrics.Coalesced.Add(1)
			select {
			case <-fl.done:
				continue
			case <-r.Context().Done():
				return
			}
		}
		release := func() { s.flights.finish(t.key, fl) }
		s.fetch(w, r, t, nil, reqCC, release, fwd, nil)
		release()
		return
	}
}

// onlyIfCached answers 504 (RFC 9111 §5.2.1.7).
func (s *Server) onlyIfCached(w http.ResponseWriter) {
	w.Header().Set("Cache-Status", s.cfg.Name+"; fwd=miss; detail=only-if-cached")
	s.errorPage(w, http.StatusGatewayTimeout, "not in the cache (only-if-cached)")
}

// refreshInBackground revalidates e while the stale copy is served (RFC
// 5861 §3), one refresh per key at a time.
func (s *Server) refreshInBackground(r *http.Request, t *target, e *httpcache.Entry) {
	fl, leader := s.flights.join(t.key)
	if !leader {
		return
	}
	hdr := r.Header.Clone()
	for _, f := range clientConditionals {
		hdr.Del(f)
	}
	hdr.Del("Cache-Control")
	hdr.Del("Pragma")
	remote := r.RemoteAddr
	s.goBackground(func(ctx context.Context) {
		defer s.flights.finish(t.key, fl)
		req := (&http.Request{Method: http.MethodGet, URL: t.effective, Header: hdr, Host: t.effective.Host,
			ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: remote, Body: http.NoBody}).WithContext(ctx)
		s.fetch(&discardWriter{h: http.Header{}}, req, t, e, httpcache.Directives{}, nil, "fwd=stale", nil)
	})
}

// discardWriter is a ResponseWriter for background fetches: the response
// only goes into the cache.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
