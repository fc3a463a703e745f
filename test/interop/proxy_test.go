//go:build interop

package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/testnet"
)

// proxyOrigin is the origin behind `pail proxy`: /obj is cacheable with an
// ETag, /short expires at once and must be revalidated.
func proxyOrigin(t *testing.T) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	var hits, notModified atomic.Int32
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("ETag", `"v1"`)
		switch r.URL.Path {
		case "/short":
			w.Header().Set("Cache-Control", "max-age=0")
		default:
			w.Header().Set("Cache-Control", "max-age=600")
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "0123456789 origin body\n")
	}))
	t.Cleanup(o.Close)
	return o, &hits, &notModified
}

// startPailProxy runs `pail proxy --listen ADDR --origin URL [args]` and
// waits until it listens.
func startPailProxy(t *testing.T, origin string, args ...string) string {
	t.Helper()
	addr := testnet.Addr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, pailBin, append([]string{"proxy", "--listen", addr, "--origin", origin, "--admin-token", "tok"}, args...)...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("pail proxy did not start")
	}
	return addr
}

// curl runs curl with args and returns the response head and body.
func curl(t *testing.T, args ...string) (head, body string) {
	t.Helper()
	bin := needPeer(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-sS", "-D", "-", "--max-time", "10"}, args...)...)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, outb)
	}
	out := strings.ReplaceAll(string(outb), "\r\n", "\n")
	head, body, _ = strings.Cut(out, "\n\n")
	return head, body
}

func headerLine(head, name string) string {
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestProxyReverseWithCurl(t *testing.T) {
	o, hits, notModified := proxyOrigin(t)
	addr := startPailProxy(t, o.URL)
	base := "http://" + addr

	head, body := curl(t, "-H", "Host: www.example.test", base+"/obj")
	if !strings.Contains(headerLine(head, "Cache-Status"), "fwd=uri-miss") || !strings.Contains(body, "origin body") {
		t.Errorf("first request: want a miss\n%s\n%s", head, body)
	}
	head, body = curl(t, "-H", "Host: www.example.test", base+"/obj")
	if cs := headerLine(head, "Cache-Status"); !strings.HasPrefix(cs, "pail; hit") || !strings.Contains(body, "origin body") {
		t.Errorf("second request: want a hit, got Cache-Status %q", cs)
	}
	if hits.Load() != 1 {
		t.Errorf("origin saw %d requests, want 1", hits.Load())
	}

	// Conditional revalidation: max-age=0 makes the copy stale at once; the
	// origin answers the proxy's If-None-Match with 304.
	curl(t, base+"/short")
	head, body = curl(t, base+"/short")
	if notModified.Load() != 1 || !strings.Contains(headerLine(head, "Cache-Status"), "fwd-status=304") || !strings.Contains(body, "origin body") {
		t.Errorf("revalidation: 304s at origin %d\n%s\n%s", notModified.Load(), head, body)
	}

	// A Range request served from the cached full response.
	head, body = curl(t, "-H", "Host: www.example.test", "-r", "0-3", base+"/obj")
	if !strings.HasPrefix(head, "HTTP/1.1 206") || body != "0123" || headerLine(head, "Content-Range") != "bytes 0-3/23" {
		t.Errorf("range: %q\n%s", body, head)
	}

	// The client's own conditional request is answered from the cache.
	head, _ = curl(t, "-H", "Host: www.example.test", "-H", `If-None-Match: "v1"`, base+"/obj")
	if !strings.HasPrefix(head, "HTTP/1.1 304") {
		t.Errorf("conditional: %s", head)
	}

	// Purge needs the token, then empties the entry.
	head, _ = curl(t, "-X", "POST", base+"/_pail/purge?url=http://www.example.test/obj")
	if !strings.HasPrefix(head, "HTTP/1.1 401") {
		t.Errorf("purge without token: %s", head)
	}
	_, body = curl(t, "-X", "POST", "-H", "Authorization: Bearer tok", base+"/_pail/purge?url=http://www.example.test/obj")
	if strings.TrimSpace(body) != "purged 1" {
		t.Errorf("purge: %q", body)
	}
	_, body = curl(t, base+"/_pail/metrics")
	if !strings.Contains(body, "proxy_hits ") || !strings.Contains(body, "proxy_hit_ratio") {
		t.Errorf("metrics: %s", body)
	}
}

func TestProxyForwardWithCurl(t *testing.T) {
	o, hits, _ := proxyOrigin(t)
	// With --forward the quick start forward-proxies absolute-form
	// requests for hosts other than its origin (point it at an unrelated
	// one); the test origin is on loopback, so it is allowed explicitly.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	addr := startPailProxy(t, other.URL, "--forward", "--forward-allow", "127.0.0.1")

	for i, want := range []string{"fwd=uri-miss", "hit"} {
		head, body := curl(t, "-x", "http://"+addr, o.URL+"/obj")
		if !strings.Contains(headerLine(head, "Cache-Status"), want) || !strings.Contains(body, "origin body") {
			t.Errorf("forward request %d: want %s\n%s", i, want, head)
		}
		if !strings.Contains(headerLine(head, "Via"), "pail") {
			t.Errorf("no Via: %s", head)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("origin saw %d requests, want 1", hits.Load())
	}
	// CONNECT to a port that is not allowed is refused.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("CONNECT to port 25: %v %v", resp, err)
	}
}

// TestProxyForwardRefusedWithCurl reproduces the open proxy: `curl -x
// PROXY http://127.0.0.1:PORT/login` reached a loopback-only service
// (the webmail) through the quick start. Forwarding is off by default;
// with --forward, loopback is refused with the reason; only
// --forward-allow reaches it.
func TestProxyForwardRefusedWithCurl(t *testing.T) {
	var hits atomic.Int32
	webmail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "webmail login page\n")
	}))
	defer webmail.Close()
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	for _, tc := range []struct {
		args       []string
		status     string
		wantInBody string
	}{
		{nil, "403", "forward proxying is disabled"},
		{[]string{"--forward"}, "403", "127.0.0.1 is a loopback address"},
		{[]string{"--forward", "--forward-allow", "127.0.0.0/8"}, "200", "webmail login page"},
	} {
		addr := startPailProxy(t, other.URL, tc.args...)
		head, body := curl(t, "-x", "http://"+addr, webmail.URL+"/login")
		if !strings.HasPrefix(head, "HTTP/1.1 "+tc.status) || !strings.Contains(body, tc.wantInBody) {
			t.Errorf("pail proxy %v: curl -x got\n%s\n%s", tc.args, head, body)
		}
		// POST bodies into another protocol's port are refused too.
		head, _ = curl(t, "-x", "http://"+addr, "--data", "MAIL FROM:<a@b>", "http://127.0.0.1:25/")
		if !strings.HasPrefix(head, "HTTP/1.1 403") {
			t.Errorf("pail proxy %v: POST to port 25: %s", tc.args, head)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("the loopback service saw %d requests, want 1 (the allowed one)", hits.Load())
	}
}

// TestProxyPartialWithCurl drives the real `pail proxy` with curl's -r
// against an origin that serves ranges (net/http's ServeContent, strong
// ETag): a 206 is stored and a smaller range answered from it; a whole GET
// completes it with a Range for the rest and the combined 200 is stored
// (RFC 9111 §3.3-3.4); an origin answering with an unknown transfer coding
// is read to the close (RFC 9112 §6.3).
func TestProxyPartialWithCurl(t *testing.T) {
	const content = "0123456789abcdefghij"
	var hits atomic.Int32
	var mu sync.Mutex
	var ranges []string // the Range of each origin request
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if r.URL.Path == "/coded" {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Type: text/plain\r\nTransfer-Encoding: x-unknown\r\n\r\ncoded body")
			brw.Flush()
			return
		}
		w.Header().Set("ETag", `"p1"`)
		w.Header().Set("Cache-Control", "max-age=600")
		http.ServeContent(w, r, "obj.txt", time.Time{}, strings.NewReader(content))
	}))
	t.Cleanup(o.Close)
	base := "http://" + startPailProxy(t, o.URL)

	head, body := curl(t, "-r", "0-9", base+"/obj")
	if !strings.Contains(head, " 206") || body != content[:10] || !strings.Contains(headerLine(head, "Cache-Status"), "stored") {
		t.Fatalf("first range: %s\n%q", head, body)
	}
	head, body = curl(t, "-r", "2-5", base+"/obj")
	if !strings.Contains(head, " 206") || body != content[2:6] || headerLine(head, "Content-Range") != "bytes 2-5/20" || hits.Load() != 1 {
		t.Errorf("range inside the stored part: %s\n%q (origin asked %d times)", head, body, hits.Load())
	}
	head, body = curl(t, base+"/obj")
	if !strings.Contains(head, " 200") || body != content || !strings.Contains(headerLine(head, "Cache-Status"), "fwd=partial") {
		t.Errorf("completion: %s\n%q", head, body)
	}
	mu.Lock()
	got := ranges[len(ranges)-1]
	mu.Unlock()
	if got != "bytes=10-19" {
		t.Errorf("the completion asked the origin for Range %q, want bytes=10-19", got)
	}
	head, body = curl(t, base+"/obj")
	if body != content || !strings.Contains(headerLine(head, "Cache-Status"), "hit") || hits.Load() != 2 {
		t.Errorf("combined response: %s\n%q (origin asked %d times)", head, body, hits.Load())
	}

	head, body = curl(t, base+"/coded")
	if !strings.Contains(head, " 200") || body != "coded body" {
		t.Errorf("unknown transfer coding: %s\n%q", head, body)
	}
	head, body = curl(t, base+"/coded")
	if body != "coded body" || !strings.Contains(headerLine(head, "Cache-Status"), "hit") {
		t.Errorf("unknown transfer coding, stored: %s\n%q", head, body)
	}
}

// TestProxyVaryIMSAndPostWithCurl drives `pail proxy` with curl through
// the rest of issue 20's cache cases: a response that varies on
// Accept-Language is reused for a request whose list differs only in
// order, case and white space (RFC 9111 §4.1: normalised before
// matching) and not for another language; a fresh stored response without
// Last-Modified answers If-Modified-Since with 304 when its Date is not
// later (RFC 9110 §13.1.3, RFC 9111 §4.3.2); a POST response with
// Content-Location naming its own URL is stored and answers the next GET
// of that URL (RFC 9111 §4.4, RFC 9110 §9.3.3).
func TestProxyVaryIMSAndPostWithCurl(t *testing.T) {
	var varyHits, postHits, getHits atomic.Int32
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/greeting":
			varyHits.Add(1)
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("Vary", "Accept-Language")
			if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "fr") {
				io.WriteString(w, "bonjour")
				return
			}
			io.WriteString(w, "hello")
		case "/report":
			if r.Method == http.MethodPost {
				postHits.Add(1)
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("Content-Location", "/report")
				io.WriteString(w, "report after the post")
				return
			}
			getHits.Add(1)
			io.WriteString(w, "report from the origin")
		}
	}))
	t.Cleanup(o.Close)
	base := "http://" + startPailProxy(t, o.URL)

	_, body := curl(t, "-H", "Accept-Language: fr-CH, en;q=0.5", base+"/greeting")
	if body != "bonjour" {
		t.Fatalf("first greeting: %q", body)
	}
	head, body := curl(t, "-H", "Accept-Language: EN;q=0.5,fr-ch", base+"/greeting")
	if body != "bonjour" || !strings.Contains(headerLine(head, "Cache-Status"), "hit") || varyHits.Load() != 1 {
		t.Errorf("same languages, other order and case: %s\n%q (origin asked %d times)", head, body, varyHits.Load())
	}
	_, body = curl(t, "-H", "Accept-Language: de", base+"/greeting")
	if body != "hello" || varyHits.Load() != 2 {
		t.Errorf("another language: %q (origin asked %d times)", body, varyHits.Load())
	}

	// The stored greeting has a Date and no Last-Modified.
	head, _ = curl(t, "-H", "Accept-Language: de", base+"/greeting")
	date := headerLine(head, "Date")
	if date == "" || headerLine(head, "Last-Modified") != "" {
		t.Fatalf("stored greeting: %s", head)
	}
	head, body = curl(t, "-H", "Accept-Language: de", "-H", "If-Modified-Since: "+date, base+"/greeting")
	if !strings.Contains(head, " 304") || body != "" || varyHits.Load() != 2 {
		t.Errorf("If-Modified-Since its Date: %s\n%q (origin asked %d times)", head, body, varyHits.Load())
	}
	head, _ = curl(t, "-H", "Accept-Language: de", "-H", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT", base+"/greeting")
	if !strings.Contains(head, " 200") {
		t.Errorf("If-Modified-Since before its Date: %s", head)
	}

	_, body = curl(t, "-X", "POST", "-d", "x=1", base+"/report")
	if body != "report after the post" || postHits.Load() != 1 {
		t.Fatalf("post: %q", body)
	}
	head, body = curl(t, base+"/report")
	if body != "report after the post" || !strings.Contains(headerLine(head, "Cache-Status"), "hit") || getHits.Load() != 0 {
		t.Errorf("GET after a POST with Content-Location: %s\n%q (origin GETs %d)", head, body, getHits.Load())
	}
}
