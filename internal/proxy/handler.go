package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pail/internal/httpcache"
)

// ServeHTTP handles one client request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.metrics.Requests.Add(1)
	defer func() {
		// A panic in one request must not take the server down; net/http
		// would recover too, but this logs it with our context. The
		// connection is closed by re-panicking with ErrAbortHandler.
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			s.log.Error("proxy: panic", "panic", v, "url", r.URL.String())
			panic(http.ErrAbortHandler)
		}
	}()
	// One clock reading per request: it sets the write deadline (net/http
	// clears it after every request) and, with the real clock, is the
	// cache's "now" for this request.
	wall := time.Now()
	setWriteDeadline(w, wall.Add(writeIdleTimeout))
	// RFC 9110 §7.6.3: a request carrying our own Via has come back to
	// us; it is answered before it can route, look up or wait (loop.go).
	if vs := r.Header["Via"]; len(vs) > 0 && s.looped(vs) {
		s.loopDetected(w)
		return
	}
	if r.Method == http.MethodConnect {
		s.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() && strings.HasPrefix(r.URL.Path, AdminPrefix) {
		s.admin(w, r)
		return
	}
	t, code, msg := s.route(r)
	if t == nil {
		s.errorPage(w, code, msg)
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		now := wall
		if !s.realClock {
			now = s.now()
		}
		s.serveCacheable(w, r, t, now)
		return
	}
	s.pass(w, r, t)
}

// setWriteDeadline bounds the writes of one response (a streamed body
// renews it as it goes: clientWriter). net/http's own ResponseWriter has
// the method; anything else goes through a ResponseController.
func setWriteDeadline(w http.ResponseWriter, t time.Time) {
	if d, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(t)
		return
	}
	http.NewResponseController(w).SetWriteDeadline(t)
}

// errorPage answers with a short plain-text error that is never cached.
func (s *Server) errorPage(w http.ResponseWriter, code int, msg string) {
	// It may follow a long wait for an origin: renew the write deadline.
	setWriteDeadline(w, time.Now().Add(writeIdleTimeout))
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s: %s\n", code, http.StatusText(code), msg)
}

// originError answers a failed origin fetch: 504 when the origin was too
// slow (RFC 9110 §15.6.5), 502 otherwise (§15.6.3).
func (s *Server) originError(w http.ResponseWriter, t *target, err error) {
	if re := refusal(err); re != nil {
		s.refuse(w, re)
		return
	}
	s.metrics.OriginErrors.Add(1)
	s.log.Debug("proxy: origin failed", "url", t.upstream().String(), "err", err)
	code := http.StatusBadGateway
	var timeout interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &timeout) && timeout.Timeout()) {
		code = http.StatusGatewayTimeout
	}
	w.Header().Set("Cache-Status", s.cfg.Name+"; fwd=miss; detail=origin-error")
	s.errorPage(w, code, "the origin server did not answer")
}

// refuse answers a forward-proxy request to a destination the rules
// refuse (destination.go): 403 with the reason (RFC 9110 §15.5.4).
func (s *Server) refuse(w http.ResponseWriter, re *RefusedError) {
	s.metrics.Refused.Add(1)
	s.errorPage(w, http.StatusForbidden, re.Reason)
}

// transportFor returns the client that reaches t's origin: the
// destination-checking one when forward proxying.
func (s *Server) transportFor(t *target) http.RoundTripper {
	if t.origin == nil {
		return s.forward
	}
	return s.transport
}

// pass forwards a request whose method the cache does not store, then
// invalidates what an unsafe method changed (RFC 9111 §4.4).
func (s *Server) pass(w http.ResponseWriter, r *http.Request, t *target) {
	s.metrics.Passes.Add(1)
	ctx, stopInterim := s.interim(r.Context(), w, r)
	out := s.outbound(ctx, r, t)
	out.Body = &bodyReader{r: r.Body, rc: http.NewResponseController(w)}
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = nil
	}
	reqTime := s.now()
	resp, err := s.roundTrip(t, out)
	stopInterim() // w is the handler's alone again
	if err != nil {
		s.originError(w, t, err)
		return
	}
	defer resp.Body.Close()
	if !safeMethod(r.Method) && resp.StatusCode >= 200 && resp.StatusCode < 400 {
		s.invalidate(t, resp.Header)
	}
	var sink httpcache.Writer
	if r.Method == http.MethodPost && s.postStorable(r, t, resp) {
		ensureDate(resp.Header, s.now())
		e := &httpcache.Entry{
			Key: t.key, Status: resp.StatusCode, Header: httpcache.StoredHeader(resp.Header),
			VaryRequest: httpcache.VaryRequest(resp.Header, r.Header), RequestTime: reqTime, ResponseTime: s.now(),
			Size: max(resp.ContentLength, 0),
		}
		if sink, err = s.store.Create(e); err != nil {
			sink = nil
		}
	}
	status := "fwd=request"
	if sink != nil {
		status += "; stored"
	}
	complete := s.relay(w, r, resp, sink, status, nil)
	if sink == nil {
		return
	}
	if !complete {
		sink.Abort() // RFC 9111 §3.3
		return
	}
	e, err := sink.Commit()
	if err != nil {
		return
	}
	s.metrics.Stored.Add(1)
	httpcache.Supersede(s.store, e, r.Header)
}

// postStorable reports whether the response to the POST r may answer
// later GETs of its target (RFC 9110 §9.3.3, RFC 9111 §4.4): explicit
// freshness, and a Content-Location that is the target URI itself. The
// invalidation of that URI (invalidate) comes first, so the entry stored
// is the one the POST made.
func (s *Server) postStorable(r *http.Request, t *target, resp *http.Response) bool {
	cl := resp.Header["Content-Location"]
	if len(cl) != 1 {
		return false
	}
	ref, err := url.Parse(cl[0])
	if err != nil || cacheKey(t.effective.ResolveReference(ref)) != t.key {
		return false
	}
	return httpcache.PostStorable(httpcache.RequestDirectives(r.Header), r.Header.Get("Authorization") != "", resp.StatusCode, resp.Header)
}

// safeMethod reports the methods RFC 9110 §9.2.1 defines as safe.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// invalidate removes the target URI and the same-origin URIs in Location
// and Content-Location after an unsafe request succeeded (RFC 9111 §4.4).
func (s *Server) invalidate(t *target, h http.Header) {
	n := s.store.DeleteKey(t.key)
	for _, f := range []string{"Location", "Content-Location"} {
		v := h.Get(f)
		if v == "" {
			continue
		}
		ref, err := url.Parse(v)
		if err != nil {
			continue
		}
		u := t.effective.ResolveReference(ref)
		if sameOrigin(u, t.effective) {
			n += s.store.DeleteKey(cacheKey(u))
		}
	}
	s.metrics.Purged.Add(int64(n))
}

// bodyReader reads a client's request body, renewing the read deadline on
// each read so that a slow but moving upload is not cut off while a
// stalled one is.
type bodyReader struct {
	r  interface{ Read([]byte) (int, error) }
	rc *http.ResponseController
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(readBodyIdleTimeout))
	return b.r.Read(p)
}

func (b *bodyReader) Close() error { return nil }
