package proxy

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"

	"pail/internal/httpcache"
)

// The informational (1xx) responses an origin sends before its final
// response are passed on to the client: RFC 9110 §15.2 says a proxy MUST
// forward them, except to an HTTP/1.0 client, which cannot receive them.
// (100 Continue is the transport's own business and 101 is not relayed.)
// They are never stored: the cache sees only the final response (RFC 9111
// §3). A forwarded 1xx loses its hop-by-hop fields (RFC 9110 §7.6.1) and
// gains our Via (§7.6.3), as a final response does.

// interimRelay forwards the 1xx responses of one origin request. The
// transport calls it from its own goroutine; the handler owns w again as
// soon as stop returns.
type interimRelay struct {
	w   http.ResponseWriter
	via string // our Via member, or "" to add none

	mu      sync.Mutex
	stopped bool // no 1xx may be written any more
}

// interim returns ctx set up to forward to w the 1xx responses that the
// origin sends for r, and a stop function that the caller MUST call once
// RoundTrip has returned, before touching w: the transport may still be
// calling back when RoundTrip returns early (a cancelled context, a
// failed request body), and stop waits for such a call and disables any
// later one, so that the header map is never used by two goroutines.
func (s *Server) interim(ctx context.Context, w http.ResponseWriter, r *http.Request) (context.Context, func()) {
	// The origin answers over HTTP/1.1: the transport dials its own
	// connections, so it does not attempt HTTP/2.
	return relayInterim(ctx, w, r, viaEntry(1, 1, s.cfg.Name))
}

func relayInterim(ctx context.Context, w http.ResponseWriter, r *http.Request, via string) (context.Context, func()) {
	if !r.ProtoAtLeast(1, 1) {
		return ctx, func() {}
	}
	ir := &interimRelay{w: w, via: via}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: ir.forward}), ir.stop
}

// stop disables the relay, waiting for a 1xx being written.
func (ir *interimRelay) stop() {
	ir.mu.Lock()
	ir.stopped = true
	ir.mu.Unlock()
}

// forward writes one 1xx response to the client, unless stopped.
func (ir *interimRelay) forward(code int, header textproto.MIMEHeader) error {
	h := http.Header(header).Clone()
	httpcache.RemoveHopByHop(h)
	if ir.via != "" {
		h.Add("Via", ir.via)
	}
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if ir.stopped {
		return nil
	}
	// The ResponseWriter sends its header map with a 1xx and keeps it:
	// send only the interim fields, then put back whatever the final
	// response had set.
	wh := ir.w.Header()
	saved := wh.Clone()
	clear(wh)
	for k, vs := range h {
		wh[k] = vs
	}
	ir.w.WriteHeader(code)
	clear(wh)
	for k, vs := range saved {
		wh[k] = vs
	}
	return nil
}
