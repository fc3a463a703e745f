package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pair is two identical proxies, each with its own origin, store and
// clock, that differ only in DisableFastPath: whatever is done to both
// leaves them in the same state, so their answers can be compared byte
// for byte.
type pair struct{ fast, slow *testProxy }

func newPair(t *testing.T, mutate ...func(*Config)) pair {
	t.Helper()
	slowMut := append(mutate[:len(mutate):len(mutate)], func(c *Config) { c.DisableFastPath = true })
	return pair{fast: newTestProxy(t, mutate...), slow: newTestProxy(t, slowMut...)}
}

// prime scripts both origins and fetches path through both proxies, with
// header (name, value pairs), so that the answer is stored.
func (p pair) prime(t *testing.T, path string, header []string, body string, reqHeader ...string) {
	t.Helper()
	p.primeStatus(t, 200, path, header, body, reqHeader...)
}

// primeStatus is prime for an answer with another status.
func (p pair) primeStatus(t *testing.T, status int, path string, header []string, body string, reqHeader ...string) {
	t.Helper()
	for _, tp := range []*testProxy{p.fast, p.slow} {
		tp.origin.script(status, header, body)
		if resp, got := tp.do(t, "GET", path, append([]string{"Host", "example.test"}, reqHeader...)); resp.StatusCode != status || got != body {
			t.Fatalf("priming %s: %d %q", path, resp.StatusCode, got)
		}
	}
}

func (p pair) advance(d time.Duration) { p.fast.clk.advance(d); p.slow.clk.advance(d) }

func (p *testProxy) addr() string { return strings.TrimPrefix(p.url, "http://") }

// rawStep is one request of an exchange and the method that it uses (the
// reader must know a HEAD's answer has no body).
type rawStep struct{ req, method string }

// exchange sends steps on one new connection to p, all at once when
// pipelined, else each after the previous answer, and returns each raw
// answer and whether the server then closed the connection.
func exchange(t *testing.T, p *testProxy, pipelined bool, steps ...rawStep) (answers []string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	if pipelined {
		var all strings.Builder
		for _, s := range steps {
			all.WriteString(s.req)
		}
		io.WriteString(c, all.String())
	}
	start := 0
	for i, s := range steps {
		if !pipelined {
			io.WriteString(c, s.req)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: s.method})
		if err != nil {
			t.Fatalf("answer %d to %q: %v", i, s.req, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		end := raw.Len() - br.Buffered()
		answers = append(answers, raw.String()[start:end])
		start = end
	}
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		closed = true
	} else if err == nil {
		t.Errorf("unexpected bytes after the answers to %q", steps)
	}
	return answers, closed
}

// both runs the same exchange on both proxies and returns how many of
// the fast proxy's answers came from the fast path.
func (p pair) both(t *testing.T, pipelined bool, steps ...rawStep) (fast, slow []string, fastClosed, slowClosed bool, fastHits int64) {
	t.Helper()
	before := p.fast.fastHits.Load()
	fast, fastClosed = exchange(t, p.fast, pipelined, steps...)
	fastHits = p.fast.fastHits.Load() - before
	slow, slowClosed = exchange(t, p.slow, pipelined, steps...)
	if n := p.slow.fastHits.Load(); n != 0 {
		t.Fatalf("DisableFastPath proxy answered %d on the fast path", n)
	}
	return
}

// TestFastPathMatchesNetHTTP checks that plain hits answered by the fast
// path are byte for byte what net/http sends for them: GET and HEAD,
// HTTP/1.1 and 1.0, each Connection choice, Vary variants, queries,
// absolute-form, odd but valid spelling; and that the connection is kept
// or closed as net/http keeps or closes it (RFC 9112 §9.3).
func TestFastPathMatchesNetHTTP(t *testing.T) {
	p := newPair(t)
	hdr := []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain", "ETag", `"e1"`}
	p.prime(t, "/a", hdr, "hello, world")
	p.prime(t, "/q?x=1&y=2", hdr, "query")
	vary := []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain", "Vary", "Accept-Language"}
	p.prime(t, "/v", vary, "deutsch", "Accept-Language", "de, en")
	p.prime(t, "/v", vary, "plain")
	p.prime(t, "/t", []string{"Cache-Control", "max-age=100", "Content-Type", "text/html", "Cache-Status", "up; hit", "Via", "1.1 up"}, "<p>x</p>")
	p.prime(t, "/big", hdr, strings.Repeat("b", fastInlineBody+1000))
	p.primeStatus(t, 404, "/404", hdr, "gone")
	p.primeStatus(t, 203, "/203", hdr, "transformed")
	p.prime(t, "/empty", []string{"Cache-Control", "max-age=100"}, "")
	// Age and the ttl differ from the first second.
	p.advance(3 * time.Second)

	get := func(path, proto string, extra ...string) rawStep {
		return rawStep{"GET " + path + " " + proto + "\r\nHost: example.test\r\n" + strings.Join(extra, "") + "\r\n", "GET"}
	}
	head := func(path, proto string, extra ...string) rawStep {
		s := get(path, proto, extra...)
		return rawStep{"HEAD" + strings.TrimPrefix(s.req, "GET"), "HEAD"}
	}
	for _, tc := range []struct {
		name      string
		rawStep   rawStep
		wantClose bool
		want      string // in the answer
	}{
		{"get", get("/a", "HTTP/1.1"), false, "hello, world"},
		{"head", head("/a", "HTTP/1.1"), false, "Content-Length: 12\r\n"},
		{"get 1.0", get("/a", "HTTP/1.0"), true, "HTTP/1.0 200 OK"},
		{"head 1.0", head("/a", "HTTP/1.0"), true, "HTTP/1.0 200 OK"},
		{"get 1.0 keep-alive", get("/a", "HTTP/1.0", "Connection: keep-alive\r\n"), false, "Connection: keep-alive\r\n"},
		{"head 1.0 keep-alive", head("/a", "HTTP/1.0", "Connection: Keep-Alive\r\n"), false, "Connection: keep-alive\r\n"},
		{"get 1.0 close", get("/a", "HTTP/1.0", "Connection: close\r\n"), true, "hello"},
		{"get close", get("/a", "HTTP/1.1", "Connection: close\r\n"), true, "Connection: close\r\n"},
		{"head close", head("/a", "HTTP/1.1", "connection:close\r\n"), true, "Connection: close\r\n"},
		{"get keep-alive", get("/a", "HTTP/1.1", "Connection: keep-alive\r\n"), false, "hello"},
		{"fields", get("/a", "HTTP/1.1", "user-agent:  curl/8 \r\nAccept: */*\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=b\r\n"), false, "Age: 3\r\n"},
		{"query", get("/q?x=1&y=2", "HTTP/1.1"), false, "query"},
		{"vary de", get("/v", "HTTP/1.1", "Accept-Language: de, en\r\n"), false, "deutsch"},
		{"vary plain", get("/v", "HTTP/1.1"), false, "plain"},
		{"vary normalised", get("/v", "HTTP/1.1", "Accept-Language:   de ,en  \r\n"), false, "deutsch"},
		{"vary split", get("/v", "HTTP/1.1", "Accept-Language: de\r\naccept-language: en\r\n"), false, "deutsch"},
		{"absolute-form, same key", rawStep{"GET http://example.test/a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}, false, "hello"},
		{"stored cache-status", get("/t", "HTTP/1.1"), false, "Cache-Status: up; hit\r\nCache-Status: pail; hit; ttl=97\r\n"},
		{"big", get("/big", "HTTP/1.1"), false, "bbbbbbbbbb"},
		{"big 1.0", get("/big", "HTTP/1.0"), true, "bbbbbbbbbb"},
		{"404", get("/404", "HTTP/1.1"), false, "HTTP/1.1 404 Not Found\r\n"},
		{"404 head 1.0", head("/404", "HTTP/1.0", "Connection: keep-alive\r\n"), false, "HTTP/1.0 404 Not Found\r\n"},
		{"203", get("/203", "HTTP/1.1"), false, "transformed"},
		{"empty, no type", get("/empty", "HTTP/1.1"), false, "Content-Length: 0\r\n"},
		{"host case", rawStep{"GET /a HTTP/1.1\r\nHost: EXAMPLE.test\r\n\r\n", "GET"}, false, "hello"},
		{"host port", rawStep{"GET /a HTTP/1.1\r\nHost: example.test:80\r\n\r\n", "GET"}, false, "hello"},
		{"long head", get("/a", "HTTP/1.1", "X-Big: "+strings.Repeat("y", 3*fastHeadBytes)+"\r\n"), false, "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast, slow, fc, sc, hits := p.both(t, false, tc.rawStep)
			if hits != 1 {
				t.Errorf("%d fast-path answers, want 1", hits)
			}
			if fast[0] != slow[0] {
				t.Errorf("fast path answered\n%q\nnet/http answered\n%q", fast[0], slow[0])
			}
			if !strings.Contains(fast[0], tc.want) {
				t.Errorf("answer lacks %q:\n%q", tc.want, fast[0])
			}
			if fc != sc || fc != tc.wantClose {
				t.Errorf("closed: fast path %v, net/http %v, want %v", fc, sc, tc.wantClose)
			}
		})
	}
}

// TestFastPathAbsoluteForm checks forward-proxy hits (absolute-form
// targets, RFC 9112 §3.2.2) on the fast path: the miss goes to net/http
// (which keeps that connection), the hit on a new connection is fast.
func TestFastPathAbsoluteForm(t *testing.T) {
	// The origins listen on loopback: forwarding to them is allowed
	// explicitly (destination.go).
	p := newPair(t, func(c *Config) { c.ForwardAllow = []string{"127.0.0.1"} })
	for _, tp := range []*testProxy{p.fast, p.slow} {
		tp.origin.script(200, []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "forward")
		host := strings.TrimPrefix(tp.origin.URL, "http://")
		req := rawStep{"GET http://" + host + "/f HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "GET"}
		a, _ := exchange(t, tp, false, req, req)
		b, _ := exchange(t, tp, false, req)
		if !strings.Contains(a[0], "fwd=uri-miss") || a[1] != b[0] || !strings.Contains(b[0], "pail; hit") {
			t.Fatalf("absolute-form miss then hits: %q %q", a, b)
		}
	}
	if got := p.fast.fastHits.Load(); got != 1 {
		t.Errorf("%d fast-path answers, want 1", got)
	}
}

// TestFastPathHandsOver checks that every request that is not a plain
// fresh hit reaches net/http with all its bytes, on the same connection,
// and is answered as net/http alone answers it; and that net/http keeps
// the connection after it, pipelined or not.
func TestFastPathHandsOver(t *testing.T) {
	hdr := []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain", "ETag", `"e1"`}
	hit := rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}
	for _, tc := range []struct {
		name    string
		rawStep rawStep
		want    string
	}{
		{"range", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nRange: bytes=0-1\r\n\r\n", "GET"}, "206 Partial"},
		{"if-none-match", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nIf-None-Match: \"e1\"\r\n\r\n", "GET"}, "304 Not Modified"},
		{"if-modified-since", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nIf-Modified-Since: Fri, 02 Jan 2026 03:04:05 GMT\r\n\r\n", "GET"}, "304 Not Modified"}, // no Last-Modified: Date (RFC 9111 §4.3.2)
		{"no-cache", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nCache-Control: no-cache\r\n\r\n", "GET"}, "fwd=request"},
		{"pragma", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nPragma: no-cache\r\n\r\n", "GET"}, "fwd=request"},
		{"max-stale", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nCache-Control: max-stale\r\n\r\n", "GET"}, "200 OK"},
		{"authorization", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nAuthorization: Basic eDp5\r\n\r\n", "GET"}, "200 OK"},
		{"post", rawStep{"POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nabc", "POST"}, "fwd=request"},
		{"get with body", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nabc", "GET"}, "200 OK"},
		{"chunked get", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "GET"}, "200 OK"},
		{"expect", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\n\r\n", "GET"}, "200 OK"},
		{"upgrade", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "GET"}, "200 OK"},
		{"miss", rawStep{"GET /nothing HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}, "fwd=uri-miss"},
		{"vary miss", rawStep{"GET /v HTTP/1.1\r\nHost: example.test\r\nAccept-Language: fr\r\n\r\n", "GET"}, "fwd=vary-miss"},
		{"admin", rawStep{"GET /_pail/metrics HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}, "proxy_hits"},
		{"escaped path", rawStep{"GET /%61 HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}, "200 OK"},
		{"bare LF", rawStep{"GET /a HTTP/1.1\nHost: example.test\n\n", "GET"}, "pail; hit"},
		{"obs-fold", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nX-A: 1\r\n 2\r\n\r\n", "GET"}, "pail; hit"},
		{"obs-text", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nX-A: caf\xe9\r\n\r\n", "GET"}, "pail; hit"},
		{"options", rawStep{"OPTIONS /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "OPTIONS"}, "fwd=request"},
	} {
		for _, pipelined := range []bool{false, true} {
			name := tc.name
			if pipelined {
				name += " pipelined"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				p := newPair(t)
				p.prime(t, "/a", hdr, "hello")
				p.prime(t, "/v", append(hdr, "Vary", "Accept-Language"), "v")
				fast, slow, fc, sc, hits := p.both(t, pipelined, hit, tc.rawStep, hit)
				if hits != 1 {
					t.Errorf("%d fast-path answers, want 1 (the first)", hits)
				}
				for i := range fast {
					if i == 1 && tc.name == "admin" {
						continue // the metrics count the open connections
					}
					if f, s := dateless(fast[i]), dateless(slow[i]); f != s {
						t.Errorf("answer %d: fast path\n%q\nnet/http\n%q", i, f, s)
					}
				}
				if !strings.Contains(fast[1], tc.want) {
					t.Errorf("answer lacks %q:\n%q", tc.want, fast[1])
				}
				if fc || sc {
					t.Errorf("connection closed (fast %v, net/http %v)", fc, sc)
				}
			})
		}
	}
}

var dateLine = regexp.MustCompile(`(?m)^Date: .*\r\n`)

// dateless drops the Date field, which net/http sets from its own clock
// on the answers it makes up.
func dateless(s string) string { return dateLine.ReplaceAllString(s, "") }

// TestFastPathClosingRequests checks requests net/http answers and then
// closes: they reach it even when they follow a fast hit.
func TestFastPathClosingRequests(t *testing.T) {
	hit := rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}
	for _, tc := range []struct {
		name      string
		rawStep   rawStep
		want      string
		pipelined bool
	}{
		{"two hosts", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nHost: other.test\r\n\r\n", "GET"}, "400 Bad Request", false},
		{"no host", rawStep{"GET /a HTTP/1.1\r\n\r\n", "GET"}, "400 Bad Request", false},
		{"1.0 no host", rawStep{"GET /a HTTP/1.0\r\n\r\n", "GET"}, "400 Bad Request", false},
		{"bad version", rawStep{"GET /a HTTP/2.0\r\nHost: example.test\r\n\r\n", "GET"}, "505", false},
		{"huge head", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nX-Big: " + strings.Repeat("y", maxHeaderBytes+8192) + "\r\n\r\n", "GET"}, "431", false},
		// Malformed heads that never end: net/http answers 400 at the
		// bad line, and so must the fast path, not close in silence
		// after the head timeout.
		{"no colon", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nAccept*/*\r\r\n", "GET"}, "400 Bad Request", false},
		{"bad request line", rawStep{"GET /a\rb HTTP/1.1\r\nHost: example.test\r\n", "GET"}, "400 Bad Request", false},
		{"garbage", rawStep{"\x01\x02garbage\r\nmore", "GET"}, "400 Bad Request", false},
		{"garbage pipelined", rawStep{"\x01\x02garbage\r\nmore", "GET"}, "400 Bad Request", true},
		{"no colon pipelined", rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\nAccept*/*\r\r\n", "GET"}, "400 Bad Request", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t)
			p.prime(t, "/a", []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "hello")
			fast, slow, fc, sc, hits := p.both(t, tc.pipelined, hit, tc.rawStep)
			if hits != 1 {
				t.Errorf("%d fast-path answers, want 1", hits)
			}
			if f, s := dateless(fast[1]), dateless(slow[1]); f != s || !strings.Contains(f, tc.want) {
				t.Errorf("fast path\n%q\nnet/http\n%q\nwant %q", f, s, tc.want)
			}
			if !fc || !sc {
				t.Errorf("connection kept (fast %v, net/http %v)", !fc, !sc)
			}
		})
	}
}

// TestFastPathPipelined checks several pipelined plain hits answered in
// order by the fast path, then a handover in the middle of the batch.
func TestFastPathPipelined(t *testing.T) {
	p := newPair(t)
	hdr := []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}
	p.prime(t, "/a", hdr, "aaa")
	p.prime(t, "/b", hdr, "bbb")
	a := rawStep{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"}
	b := rawStep{"HEAD /b HTTP/1.1\r\nHost: example.test\r\n\r\n", "HEAD"}
	rng := rawStep{"GET /b HTTP/1.1\r\nHost: example.test\r\nRange: bytes=1-1\r\n\r\n", "GET"}
	fast, slow, _, _, hits := p.both(t, true, a, b, a, rng, a, b)
	if hits != 3 {
		t.Errorf("%d fast-path answers, want 3", hits)
	}
	for i := range fast {
		if fast[i] != slow[i] {
			t.Errorf("answer %d: fast\n%q\nnet/http\n%q", i, fast[i], slow[i])
		}
	}
	if !strings.HasSuffix(fast[3], "\r\n\r\nb") || !strings.HasSuffix(fast[2], "aaa") {
		t.Errorf("answers out of order: %q", fast)
	}
}

// TestFastPathStale checks that a stale entry is left to net/http, which
// revalidates it (RFC 9111 §4.3).
func TestFastPathStale(t *testing.T) {
	p := newPair(t)
	p.prime(t, "/s", []string{"Cache-Control", "max-age=10", "Content-Type", "text/plain", "ETag", `"s1"`}, "stale")
	p.advance(20 * time.Second)
	for _, tp := range []*testProxy{p.fast, p.slow} {
		tp.origin.script(304, []string{"Cache-Control", "max-age=10", "ETag", `"s1"`}, "")
	}
	fast, slow, _, _, hits := p.both(t, false, rawStep{"GET /s HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"})
	if hits != 0 || dateless(fast[0]) != dateless(slow[0]) || !strings.Contains(fast[0], "fwd=stale") {
		t.Errorf("%d fast answers; fast\n%q\nnet/http\n%q", hits, fast[0], slow[0])
	}
	if n := p.fast.origin.count(); n != 2 {
		t.Errorf("origin asked %d times, want 2", n)
	}
}

// TestFastPathMetrics checks that fast hits are counted as net/http's
// hits are: requests, hits and bytes from the cache.
func TestFastPathMetrics(t *testing.T) {
	p := newPair(t)
	p.prime(t, "/a", []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "0123456789")
	steps := []rawStep{
		{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"},
		{"HEAD /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "HEAD"},
		{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET"},
	}
	m := []*Metrics{p.fast.Metrics(), p.slow.Metrics()}
	before := [][3]int64{}
	for _, x := range m {
		before = append(before, [3]int64{x.Requests.Load(), x.Hits.Load(), x.BytesFromCache.Load()})
	}
	_, _, _, _, hits := p.both(t, false, steps...)
	if hits != 3 {
		t.Fatalf("%d fast-path answers, want 3", hits)
	}
	for i, x := range m {
		got := [3]int64{x.Requests.Load() - before[i][0], x.Hits.Load() - before[i][1], x.BytesFromCache.Load() - before[i][2]}
		if want := [3]int64{3, 3, 20}; got != want {
			t.Errorf("proxy %d: requests, hits, bytes from cache went up by %v, want %v", i, got, want)
		}
	}
	if got, want := p.fast.Metrics().HitRatio(), p.slow.Metrics().HitRatio(); got != want {
		t.Errorf("hit ratio %v, net/http's %v", got, want)
	}
}

// newTimedProxy is a test proxy with short head and idle timeouts.
func newTimedProxy(t *testing.T, head, idle time.Duration) *testProxy {
	t.Helper()
	var cfg Config
	tp := newTestProxy(t, func(c *Config) { cfg = *c })
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.headTimeout, srv.idleTimeout = head, idle
	srv.http.ReadHeaderTimeout, srv.http.IdleTimeout = head, idle
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	tp.Server, tp.url = srv, "http://"+ln.Addr().String()
	return tp
}

// closedWithin reads c until it ends and returns how long that took.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// TestFastPathSlowHeads checks the head and idle deadlines: a client that
// sends nothing, stalls in a head, or trickles it byte by byte is cut off
// after the head timeout, and an idle kept-alive one after the idle
// timeout (slowloris protection, as net/http's ReadHeaderTimeout).
func TestFastPathSlowHeads(t *testing.T) {
	const head, idle = 300 * time.Millisecond, 900 * time.Millisecond
	p := newTimedProxy(t, head, idle)
	p.origin.script(200, []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "x")
	p.do(t, "GET", "/a", []string{"Host", "example.test"})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("silent", func(t *testing.T) {
		if d := closedWithin(t, dial(), 3*time.Second); d < head-50*time.Millisecond {
			t.Errorf("closed after %v, before the head timeout", d)
		}
	})
	t.Run("stalled head", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: exa")
		closedWithin(t, c, 3*time.Second)
	})
	t.Run("trickle", func(t *testing.T) {
		c := dial()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for _, b := range []byte("GET /a HTTP/1.1\r\nHost: example.test\r\nX-Slow: " + strings.Repeat("z", 100)) {
				select {
				case <-stop:
					return
				case <-time.After(head / 5):
				}
				c.Write([]byte{b})
			}
		}()
		if d := closedWithin(t, c, 3*time.Second); d > head+500*time.Millisecond {
			t.Errorf("a trickling head kept the connection %v", d)
		}
	})
	t.Run("long stalled head", func(t *testing.T) {
		// Past the first buffer only after two thirds of the head
		// timeout: the rest still has to come within the first deadline.
		c := dial()
		start := time.Now()
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: example.test\r\n")
		time.Sleep(head * 2 / 3)
		io.WriteString(c, "X-Long: "+strings.Repeat("l", 3*fastHeadBytes))
		closedWithin(t, c, 3*time.Second)
		if d := time.Since(start); d > head+head/3 {
			t.Errorf("a long stalled head was cut after %v, want about %v", d, head)
		}
	})
	t.Run("idle then stalled", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		time.Sleep(idle / 2) // idle, but less than the idle timeout
		io.WriteString(c, "GET /a HTTP/1.1\r\n")
		start := time.Now()
		c.SetReadDeadline(start.Add(3 * time.Second))
		if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("stalled head not cut off")
		}
		if d := time.Since(start); d > head+500*time.Millisecond {
			t.Errorf("stalled head cut off after %v, want about %v", d, head)
		}
	})
	t.Run("idle", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n")
		if d := closedWithin(t, c, 3*time.Second); d < idle-100*time.Millisecond {
			t.Errorf("idle connection closed after %v, before the idle timeout", d)
		}
	})
}

// TestFastPathShutdown checks that Shutdown closes the fast path's idle
// connections and those waiting in a head, and returns promptly.
func TestFastPathShutdown(t *testing.T) {
	p := newTestProxy(t)
	p.origin.script(200, []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "x")
	p.do(t, "GET", "/a", []string{"Host", "example.test"})
	var conns []net.Conn
	for _, req := range []string{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET /a HTTP/1.1\r\nHost: exa"} {
		c, err := net.Dial("tcp", p.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond) // let the first be answered
	hits := p.fastHits.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	for i, c := range conns {
		closedWithin(t, c, time.Second)
		_ = i
	}
	if hits != 1 {
		t.Errorf("%d fast hits before Shutdown, want 1", hits)
	}
	if _, err := net.DialTimeout("tcp", p.addr(), time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestFastPathConnectionLimit checks that connections on the fast path
// and those handed to net/http both count against MaxConnections.
func TestFastPathConnectionLimit(t *testing.T) {
	p := newTestProxy(t, func(c *Config) { c.MaxConnections = 2 })
	p.origin.script(200, []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "x")
	c1, _ := exchangeKeep(t, p, "GET /nothing-cached HTTP/1.1\r\nHost: example.test\r\n\r\n") // handed over
	defer c1.Close()
	c2, _ := exchangeKeep(t, p, "GET /nothing-cached HTTP/1.1\r\nHost: example.test\r\n\r\n") // a fast hit
	defer c2.Close()
	if n := p.Metrics().OpenConnections.Load(); n != 2 {
		t.Errorf("%d open connections, want 2", n)
	}
	c3, err := net.Dial("tcp", p.addr()) // waits in the backlog
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	io.WriteString(c3, "GET /nothing-cached HTTP/1.1\r\nHost: example.test\r\n\r\n")
	c3.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c3.Read(make([]byte, 1)); err == nil {
		t.Fatal("a third connection was served past the cap of 2")
	}
	c2.Close()
	c3.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c3), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %v %v", resp, err)
	}
}

// exchangeKeep sends req on a new connection, reads the answer, and
// leaves the connection open.
func exchangeKeep(t *testing.T, p *testProxy, req string) (net.Conn, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	return c, resp
}

// TestFastEligible checks which stored answers the fast path leaves to
// net/http because net/http would change their header: a sniffed
// Content-Type, an added Date, framing and connection fields, bodyless
// statuses (RFC 9110 §15.4.5) and codes without a reason phrase.
func TestFastEligible(t *testing.T) {
	base := func(kv ...string) http.Header {
		h := http.Header{"Date": {"x"}, "Content-Type": {"text/plain"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
				continue
			}
			h[kv[i]] = []string{kv[i+1]}
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		size   int64
		want   bool
	}{
		{"plain", 200, base(), 5, true},
		{"404", 404, base(), 5, true},
		{"no type", 200, base("Content-Type", ""), 5, false},
		{"no type, empty", 200, base("Content-Type", ""), 0, true},
		{"no type, encoded", 200, base("Content-Type", "", "Content-Encoding", "gzip"), 5, true},
		{"no date", 200, base("Date", ""), 5, false},
		{"204", 204, base(), 0, false},
		{"304", 304, base(), 0, false},
		{"no reason phrase", 299, base(), 5, false},
		{"transfer-encoding", 200, base("Transfer-Encoding", "chunked"), 5, false},
		{"connection", 200, base("Connection", "close"), 5, false},
		{"trailer", 200, base("Trailer", "X"), 5, false},
		{"trailer prefix", 200, base(http.TrailerPrefix+"X", "1"), 5, false},
	} {
		if got := fastEligible(tc.status, tc.h, tc.size); got != tc.want {
			t.Errorf("%s: fastEligible = %v, want %v", tc.name, got, tc.want)
		}
	}
}
