package proxy

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"pail/internal/httpcache"
)

// fetch asks the origin and answers the client. stored, when not nil, is
// the entry being revalidated (RFC 9111 §4.3.1): its validators go with
// the request, a 304 refreshes it (§4.3.4), as does a 200 to a HEAD
// (§4.3.5), and an origin failure may serve it stale where
// stale-if-error allows (RFC 5861 §4) or, when the origin cannot be
// reached at all, where no directive forbids it (§4.2.4). release, when
// not nil, is called as soon as it is known whether the response will be
// stored, so that coalesced requests stop waiting. part, when not nil, is
// a stored 206 to complete (RFC 9111 §3.4): the origin is asked for the
// rest of it, and a 206 that may be combined with it is (combine); any
// other answer is handled as a miss.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request, t *target, stored *httpcache.Entry, reqCC httpcache.Directives, release func(), fwd string, part *httpcache.Entry) {
	if release == nil {
		release = func() {}
	}
	passRange := stored == nil && part == nil && r.Header.Get("Range") != ""
	// RFC 9111 §3.3: the 206 to a GET with a Range and no preconditions
	// may be stored; the Range (and If-Range) go to the origin as sent.
	storeRange := passRange && r.Method == http.MethodGet && !httpcache.HasConditions(r.Header)
	wantStore := r.Method == http.MethodGet && (!passRange || storeRange) || stored != nil
	ctx := r.Context()
	if wantStore {
		// The cache fill goes on if the client leaves.
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx, stopInterim := s.interim(ctx, w, r)
	out := s.outbound(ctx, r, t)
	// A HEAD checking a stored GET response stays a HEAD: no body is
	// sent either way, and a 200 updates the stored response (RFC 9111
	// §4.3.5) as a 304 would (§4.3.4).
	headCheck := stored != nil && r.Method == http.MethodHead
	if wantStore && !storeRange {
		for _, f := range clientConditionals {
			out.Header.Del(f)
		}
	}
	var partRange httpcache.Part
	if part != nil {
		// Ask for the rest, only if it is still the representation
		// part belongs to (RFC 9110 §13.1.5).
		partRange, _ = httpcache.PartOf(part)
		missing, _ := partRange.Missing()
		out.Header.Set("Range", missing)
		out.Header.Set("If-Range", httpcache.StrongValidator(part.Header))
	}
	if stored != nil {
		// RFC 9111 §4.3.1: send the stored validators.
		if etag := stored.Header.Get("ETag"); etag != "" {
			out.Header.Set("If-None-Match", etag)
		}
		if lm := stored.Header.Get("Last-Modified"); lm != "" {
			out.Header.Set("If-Modified-Since", lm)
		}
	}
	reqTime := s.now()
	resp, err := s.roundTrip(t, out)
	stopInterim()
	respTime := s.now()
	if err != nil {
		release()
		if stored != nil && httpcache.StaleIfError(stored, reqCC, respTime) && s.serveStored(w, r, stored, "fwd=stale; detail=stale-if-error") {
			s.metrics.StaleErrors.Add(1)
			return
		}
		// RFC 9111 §4.2.4: the origin is unreachable: a disconnected
		// cache may serve the stale copy where no directive forbids it.
		if stored != nil && httpcache.StaleWhenDisconnected(stored, reqCC, respTime) && s.serveStored(w, r, stored, "fwd=stale; detail=origin-unreachable") {
			s.metrics.StaleErrors.Add(1)
			return
		}
		s.originError(w, t, err)
		return
	}
	defer resp.Body.Close()
	body := newOriginReader(resp.Body, cancel)
	defer body.idle.stop()
	resp.Body = struct {
		*originReader
		closer
	}{body, closer{resp.Body}}

	// RFC 5861 §4: a 5xx may be replaced by the stale copy.
	if stored != nil && resp.StatusCode >= 500 && httpcache.StaleIfError(stored, reqCC, respTime) &&
		s.serveStored(w, r, stored, "fwd=stale; fwd-status="+strconv.Itoa(resp.StatusCode)+"; detail=stale-if-error") {
		release()
		s.metrics.StaleErrors.Add(1)
		return
	}
	ensureDate(resp.Header, respTime)

	if stored != nil && resp.StatusCode == http.StatusNotModified {
		release()
		s.refreshed(w, r, t, stored, resp, reqCC, reqTime, respTime, fwd)
		return
	}
	if part != nil && resp.StatusCode == http.StatusPartialContent {
		release()
		s.combine(w, r, t, part, partRange, resp, reqCC, reqTime, respTime, fwd)
		return
	}
	if headCheck && resp.StatusCode == http.StatusOK {
		release()
		if s.freshenFromHead(w, r, stored, resp, reqTime, respTime, fwd) {
			return
		}
	}
	s.metrics.Misses.Add(1)
	// A 206 is stored only as the answer to a Range pail sent, and the
	// answer to a Range only when it is a 206 or the whole 200 (a 416,
	// say, does not stand for the URL).
	asked := out.Header.Get("Range") != ""
	storable := out.Method == http.MethodGet && wantStore &&
		storableAnswer(resp.StatusCode, asked, storeRange) &&
		httpcache.Storable(http.MethodGet, reqCC, r.Header.Get("Authorization") != "", resp.StatusCode, resp.Header)
	var sink httpcache.Writer
	if storable {
		e := &httpcache.Entry{
			Key: t.key, Status: resp.StatusCode, Header: httpcache.StoredHeader(resp.Header),
			VaryRequest: httpcache.VaryRequest(resp.Header, r.Header), RequestTime: reqTime, ResponseTime: respTime,
			Size: max(resp.ContentLength, 0), // the announced length, a hint
		}
		if sink, err = s.store.Create(e); err != nil {
			s.log.Warn("proxy: cannot store", "url", t.key, "err", err)
			sink = nil
		}
	}
	if sink == nil {
		release()
	}
	status := fwd + "; fwd-status=" + strconv.Itoa(resp.StatusCode)
	if sink != nil {
		status += "; stored"
	}
	var override *int
	if wantStore && resp.StatusCode == http.StatusOK {
		// The client's own preconditions were removed from the origin
		// request; evaluate them here (RFC 9110 §13.2.1).
		switch httpcache.Evaluate(r.Header, resp.Header) {
		case httpcache.NotModified:
			override = ptr(http.StatusNotModified)
		case httpcache.Failed:
			override = ptr(http.StatusPreconditionFailed)
		}
	}
	complete := s.relay(w, r, resp, sink, status, override)
	if sink == nil {
		return
	}
	if !complete {
		// RFC 9111 §3.3: an incomplete response is not stored as complete.
		sink.Abort()
		return
	}
	e, err := sink.Commit()
	if err != nil {
		s.log.Debug("proxy: not stored", "url", t.key, "err", err)
		return
	}
	if p, ok := httpcache.PartOf(e); e.Status == http.StatusPartialContent && (!ok || p.Length != e.Size) {
		// RFC 9111 §3.3: a part whose body is not its Content-Range is
		// not a part of anything.
		s.store.Delete(e)
		return
	}
	s.metrics.Stored.Add(1)
	httpcache.Supersede(s.store, e, r.Header)
}

// refreshed handles a 304 to a revalidation (RFC 9111 §4.3.4): when its
// validators agree with the stored response, the stored header is updated
// and the stored response served; otherwise the stored response is wrong
// and a full request is made.
func (s *Server) refreshed(w http.ResponseWriter, r *http.Request, t *target, stored *httpcache.Entry, resp *http.Response, reqCC httpcache.Directives, reqTime, respTime time.Time, fwd string) {
	if etag := resp.Header.Get("ETag"); etag != "" && etag != stored.Header.Get("ETag") {
		s.store.Delete(stored)
		s.fetch(w, r, t, nil, reqCC, nil, fwd, nil)
		return
	}
	ne := stored.Clone()
	ne.Header = httpcache.Refresh(stored.Header, resp.Header)
	ne.RequestTime, ne.ResponseTime = reqTime, respTime
	updated, err := s.store.Update(stored, ne)
	if err != nil {
		s.fetch(w, r, t, nil, reqCC, nil, fwd, nil)
		return
	}
	s.metrics.Revalidations.Add(1)
	if !s.serveStored(w, r, updated, fwd+"; fwd-status=304") {
		s.fetch(w, r, t, nil, reqCC, nil, fwd, nil)
	}
}

// storableAnswer says whether a response with status code may stand for
// the URL: asked says pail's request had a Range, storeRange that it was
// the client's, to be stored (RFC 9111 §3.3).
func storableAnswer(code int, asked, storeRange bool) bool {
	switch {
	case code == http.StatusOK:
		return true
	case code == http.StatusPartialContent:
		return storeRange
	}
	return !asked
}

type closer struct{ c interface{ Close() error } }

func (c closer) Close() error { return c.c.Close() }

func ptr[T any](v T) *T { return &v }
