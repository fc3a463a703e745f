package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"pail/internal/httpcache"
)

// outbound builds the request to the origin: the client's header without
// hop-by-hop fields (RFC 9110 §7.6.1), without forwarding fields unless
// the client is a trusted proxy, with our Via (§7.6.3, with the comment
// that detects loops: loop.go) and X-Forwarded-For added.
func (s *Server) outbound(ctx context.Context, r *http.Request, t *target) *http.Request {
	up := t.upstream()
	out := (&http.Request{
		Method:     r.Method,
		URL:        up,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     r.Header.Clone(),
		Host:       up.Host,
	}).WithContext(ctx)
	httpcache.RemoveHopByHop(out.Header)
	out.Header.Add("Via", s.requestVia(r.ProtoMajor, r.ProtoMinor))
	s.forwardingHeader(out.Header, r.RemoteAddr, t)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // do not let Go add its own
	}
	return out
}

// forwardingFields are the request fields by which proxies tell an origin
// about the client: its address, and the host, scheme, port or path it
// asked for. Origins build links and redirects from them, yet they are
// not part of the cache key (RFC 9111 §4.1 keys on the URI and Vary), so
// a client that sets one could make a reflecting origin's answer,
// cached, say what the client chose to everyone (cache poisoning). They
// are removed unless the client is a trusted proxy. Read only.
var forwardingFields = []string{
	"Forwarded", // RFC 7239
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Scheme", "X-Forwarded-Ssl",
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "X-Host", "X-Original-Host",
	"X-Original-Url", "X-Rewrite-Url",
}

// forwardingHeader sets the forwarding fields of a request to the origin
// from a client at remote ("ip:port"). From an untrusted client they are
// the proxy's alone: X-Forwarded-For is the client's address and, when
// reverse proxying (the origin gets its own Host), X-Forwarded-Host and
// X-Forwarded-Proto are the host and scheme of the effective request URI,
// which the cache key holds. From a trusted proxy its fields are kept and
// the client's address appended to X-Forwarded-For.
func (s *Server) forwardingHeader(h http.Header, remote string, t *target) {
	peer, err := netip.ParseAddrPort(remote)
	trusted := err == nil && s.trustedPeer(peer.Addr())
	if !trusted {
		for _, f := range forwardingFields {
			delete(h, f)
		}
	}
	if err == nil {
		ip := peer.Addr().Unmap().String()
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h["X-Forwarded-For"] = []string{ip}
	}
	if t.origin != nil {
		if _, ok := h["X-Forwarded-Host"]; !ok {
			h["X-Forwarded-Host"] = []string{t.effective.Host}
		}
		if _, ok := h["X-Forwarded-Proto"]; !ok {
			h["X-Forwarded-Proto"] = []string{t.effective.Scheme}
		}
	}
}

// trustedPeer reports whether ip is a configured trusted proxy.
func (s *Server) trustedPeer(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parsePrefixes reads CIDRs and single addresses.
func parsePrefixes(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// viaEntry renders one Via member: received-protocol and pseudonym (RFC
// 9110 §7.6.3); the protocol name is omitted for HTTP.
func viaEntry(major, minor int, name string) string {
	return string(rune('0'+major)) + "." + string(rune('0'+minor)) + " " + name
}

// responseHeader copies an origin response header for the client: no
// hop-by-hop fields, a Date when the origin sent none (RFC 9110 §6.6.1),
// and our Via.
func (s *Server) responseHeader(dst, src http.Header, resp *http.Response) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	httpcache.RemoveHopByHop(dst)
	dst.Add("Via", viaEntry(resp.ProtoMajor, resp.ProtoMinor, s.cfg.Name))
}

// ensureDate adds Date to a response that lacks a valid one (RFC 9110
// §6.6.1: a recipient with a clock MUST, before caching or forwarding).
func ensureDate(h http.Header, now time.Time) {
	if _, err := httpcache.ParseHTTPDate(h.Get("Date")); err != nil || len(h.Values("Date")) == 0 {
		h.Set("Date", now.UTC().Format(http.TimeFormat))
	}
}

// originReader reads an origin's body, cancelling the fetch if it stalls
// for originIdleTimeout.
type originReader struct {
	r    io.Reader
	idle *idleTimer
}

func newOriginReader(r io.Reader, cancel func()) *originReader {
	return &originReader{r: r, idle: newIdleTimer(originIdleTimeout, cancel)}
}

func (o *originReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.idle.reset()
	return n, err
}

// clientWriter writes to a client, renewing the write deadline as writes
// progress so a slow but moving client is served and a stalled one is not
// waited for. The first write renews it, later ones at most once per
// deadlineSlack (renewing re-arms a runtime timer), so each write still
// has at least writeIdleTimeout - deadlineSlack.
type clientWriter struct {
	w       http.ResponseWriter
	renewed time.Time
	n       int64
	err     error
}

// deadlineSlack is how stale a write deadline may be before it is renewed.
const deadlineSlack = time.Second

func newClientWriter(w http.ResponseWriter) *clientWriter {
	return &clientWriter{w: w}
}

func (c *clientWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if now := time.Now(); now.Sub(c.renewed) >= deadlineSlack {
		setWriteDeadline(c.w, now.Add(writeIdleTimeout))
		c.renewed = now
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// relay sends an origin response to the client, teeing the body into sink
// when it is not nil. It returns whether the whole body arrived from the
// origin (the client may have gone away meanwhile: the cache still fills).
// status is the Cache-Status parameters; override, when not nil, replaces
// the status code with a bodiless one (304 or 412 from the client's own
// preconditions) while the body still fills the cache.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, resp *http.Response, sink httpcache.Writer, status string, override *int) bool {
	// The origin may have been slow: the deadline ServeHTTP set is renewed.
	setWriteDeadline(w, time.Now().Add(writeIdleTimeout))
	h := w.Header()
	s.responseHeader(h, resp.Header, resp)
	ensureDate(h, s.now())
	h.Add("Cache-Status", s.cfg.Name+"; "+status)
	code := resp.StatusCode
	if override != nil {
		code = *override
	}
	client := io.Writer(newClientWriter(w))
	if override != nil || r.Method == http.MethodHead || bodyless(code) {
		if override != nil || code == http.StatusNotModified {
			h.Del("Content-Length")
		}
		client = io.Discard
	}
	w.WriteHeader(code)
	buf := s.getBuffer()
	complete, n := copyBody(client, resp.Body, sink, resp.ContentLength, *buf)
	s.bufs.Put(buf)
	if r.Method != http.MethodHead {
		s.metrics.BytesFromOrigin.Add(n)
	}
	return complete
}

// bodyless reports status codes that never have content (RFC 9110 §6.4.1).
func bodyless(code int) bool {
	return code == http.StatusNoContent || code == http.StatusNotModified || code < 200
}

// copyBody streams src to client and sink. A failing client stops the
// client copy only; a failing sink (object too large) stops caching only;
// the copy goes on while either still wants bytes. complete is true when
// src ended cleanly with the announced length.
func copyBody(client io.Writer, src io.Reader, sink httpcache.Writer, length int64, buf []byte) (complete bool, n int64) {
	clientOK := client != io.Discard
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n += int64(k)
			if sink != nil {
				if _, werr := sink.Write(buf[:k]); werr != nil {
					sink.Abort()
					sink = nil
				}
			}
			if clientOK {
				if _, werr := client.Write(buf[:k]); werr != nil {
					clientOK = false
				}
			}
			if !clientOK && sink == nil {
				return false, n
			}
		}
		if err == io.EOF {
			return length < 0 || n == length, n
		}
		if err != nil {
			return false, n
		}
	}
}
