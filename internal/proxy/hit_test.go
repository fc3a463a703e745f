package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHitHeaderPerRequest checks the prepared hit header: Age and the ttl
// in Cache-Status follow the clock although the rest is built once, the
// origin's own Cache-Status and Via lines come before ours, and a
// conditional request still gets its 304 (RFC 9111 §4.3.2, §5.1; RFC 9211
// §2; RFC 9110 §7.6.3).
func TestHitHeaderPerRequest(t *testing.T) {
	p := newTestProxy(t)
	p.origin.script(200, []string{"Cache-Control", "max-age=100", "ETag", `"v1"`,
		"Cache-Status", "upstream; hit", "Via", "1.1 upstream"}, "hello")
	p.do(t, "GET", "/h", nil) // miss, stored
	check := func(wantAge, wantTTL string) {
		t.Helper()
		resp, body := p.do(t, "GET", "/h", nil)
		if resp.StatusCode != 200 || body != "hello" || resp.ContentLength != 5 {
			t.Fatalf("status %d body %q length %d", resp.StatusCode, body, resp.ContentLength)
		}
		if got := resp.Header.Get("Age"); got != wantAge {
			t.Errorf("Age %q, want %q", got, wantAge)
		}
		cs := resp.Header.Values("Cache-Status")
		if len(cs) != 2 || cs[0] != "upstream; hit" || cs[1] != "pail; hit; ttl="+wantTTL {
			t.Errorf("Cache-Status %q, want ttl=%s after the origin's", cs, wantTTL)
		}
		if via := resp.Header.Values("Via"); len(via) != 2 || via[0] != "1.1 upstream" || via[1] != "1.1 pail" {
			t.Errorf("Via %q", via)
		}
		if resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("Accept-Ranges %q", resp.Header.Get("Accept-Ranges"))
		}
	}
	check("0", "100")
	check("0", "100")
	p.clk.advance(10 * time.Second)
	check("10", "90")
	p.clk.advance(500 * time.Millisecond)
	check("10", "89")
	resp, body := p.do(t, "GET", "/h", []string{"If-None-Match", `"v1"`})
	if resp.StatusCode != 304 || body != "" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("conditional hit: %d %q Content-Length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
	resp, body = p.do(t, "GET", "/h", []string{"Range", "bytes=1-2"})
	if resp.StatusCode != 206 || body != "el" {
		t.Errorf("range hit: %d %q", resp.StatusCode, body)
	}
	if p.origin.count() != 1 {
		t.Errorf("origin asked %d times, want 1", p.origin.count())
	}
}

// TestMetricsLoad checks proxy_load, the edge load the CDN's name server
// reads from /_pail/metrics: open connections over the connection cap.
func TestMetricsLoad(t *testing.T) {
	p := newTestProxy(t, func(c *Config) { c.MaxConnections = 4 })
	// A kept-alive client connection that has been served.
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /_pail/metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// The metrics request's own connection is the second open one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err = client.Get(p.url + "/_pail/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"\nproxy_open_connections 2\n", "\nproxy_load 0.5000\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", strings.TrimSpace(want), b)
		}
	}
	if l := p.Metrics().Load(); l < 0.25 || l > 0.5 {
		t.Errorf("Load() = %v, want 0.25 or 0.5", l)
	}
}
