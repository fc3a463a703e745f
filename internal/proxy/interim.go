package proxy

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
)

// withInterim returns ctx set up so that the informational (1xx)
// responses the origin sends before its final response are passed on to
// the client: RFC 9110 §15.2 says a proxy MUST forward them, except to an
// HTTP/1.0 client, which cannot receive them. (100 Continue is the
// transport's own business and 101 is not relayed.) They are never
// stored: the cache sees only the final response (RFC 9111 §3).
func withInterim(ctx context.Context, w http.ResponseWriter, r *http.Request) context.Context {
	if !r.ProtoAtLeast(1, 1) {
		return ctx
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			// The ResponseWriter sends its header map with a 1xx and
			// keeps it: send only the interim fields, then put back
			// whatever the final response had set.
			h := w.Header()
			saved := h.Clone()
			clear(h)
			for k, vs := range header {
				h[k] = vs
			}
			w.WriteHeader(code)
			clear(h)
			for k, vs := range saved {
				h[k] = vs
			}
			return nil
		},
	})
}
