package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/httpcache"
)

// clock is a settable test clock shared by the proxy and the origin.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin is a scriptable origin server: each request gets the response
// currently scripted, and is recorded.
type origin struct {
	*httptest.Server
	clk *clock

	mu       sync.Mutex
	status   int
	header   []string // name, value pairs; "@N" values become now+N seconds
	body     string
	requests []*http.Request
	// ranged makes the origin answer a single Range from body with a 206,
	// honouring If-Range unless ignoreIfRange; te makes it answer with
	// that Transfer-Encoding and the body up to the close.
	ranged, ignoreIfRange bool
	te                    string
}

func newOrigin(t *testing.T, clk *clock) *origin {
	o := &origin{clk: clk}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests = append(o.requests, r.Clone(r.Context()))
	status, header, body := o.status, o.header, o.body
	ranged, ignoreIfRange, te := o.ranged, o.ignoreIfRange, o.te
	o.mu.Unlock()
	io.Copy(io.Discard, r.Body)
	h := w.Header()
	hasDate := false
	for i := 0; i+1 < len(header); i += 2 {
		name, v := header[i], expandDate(header[i+1], o.clk.now())
		if strings.EqualFold(name, "Date") {
			hasDate = true
		}
		h[http.CanonicalHeaderKey(name)] = append(h[http.CanonicalHeaderKey(name)], v)
	}
	if !hasDate {
		h.Set("Date", o.clk.now().UTC().Format(http.TimeFormat))
	} else if h.Get("Date") == "-" {
		h["Date"] = nil // suppress Go's automatic Date
	}
	if status == disconnect {
		// The origin closes the connection without answering.
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	if status == 0 {
		status = 200
	}
	if ir := r.Header.Get("If-Range"); ranged && status == 200 && r.Header.Get("Range") != "" &&
		(ignoreIfRange || ir == "" || ir == h.Get("ETag") || ir == h.Get("Last-Modified")) {
		if rs, _ := httpcache.ParseRange(r.Header.Get("Range"), int64(len(body))); len(rs) == 1 {
			h.Set("Content-Range", rs[0].ContentRange(int64(len(body))))
			status, body = http.StatusPartialContent, body[rs[0].Start:rs[0].Start+rs[0].Length]
		}
	}
	if te != "" {
		// RFC 9112 §6.3 item 4: a coding other than chunked last; the
		// body ends at the close.
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
		h.Set("Transfer-Encoding", te)
		h.Write(brw)
		brw.WriteString("\r\n" + body)
		brw.Flush()
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

func (o *origin) script(status int, header []string, body string) {
	o.mu.Lock()
	o.status, o.header, o.body = status, header, body
	o.mu.Unlock()
}

// mode sets the origin's range and transfer-coding behaviour (origin.ranged).
func (o *origin) mode(ranged, ignoreIfRange bool, te string) {
	o.mu.Lock()
	o.ranged, o.ignoreIfRange, o.te = ranged, ignoreIfRange, te
	o.mu.Unlock()
}

func (o *origin) count() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.requests) }

func (o *origin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[len(o.requests)-1]
}

// disconnect, as a scripted status, makes the origin drop the connection
// instead of answering.
const disconnect = -1

// expandDate turns "@N" into an HTTP date N seconds from now.
func expandDate(v string, now time.Time) string {
	if n, err := strconv.Atoi(strings.TrimPrefix(v, "@")); err == nil && strings.HasPrefix(v, "@") {
		return now.Add(time.Duration(n) * time.Second).UTC().Format(http.TimeFormat)
	}
	return v
}

// testProxy is a proxy in reverse-proxy mode in front of an origin.
type testProxy struct {
	*Server
	url    string
	origin *origin
	clk    *clock
	store  httpcache.Store
}

func newTestProxy(t *testing.T, mutate ...func(*Config)) *testProxy {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	o := newOrigin(t, clk)
	ou, _ := url.Parse(o.URL)
	st := httpcache.NewMemoryStore(64<<20, 8<<20)
	cfg := Config{Origin: ou, Forward: true, Store: st, Now: clk.now, AdminToken: "sekrit"}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testProxy{Server: srv, url: "http://" + ln.Addr().String(), origin: o, clk: clk, store: st}
}

// do sends one request through the proxy.
func (p *testProxy) do(t *testing.T, method, path string, header []string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], expandDate(header[i+1], p.clk.now()))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
