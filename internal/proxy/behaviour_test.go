package proxy

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/httpcache"
)

// startProxy runs a proxy in front of handler with the real clock.
func startProxy(t *testing.T, handler http.Handler, mutate ...func(*Config)) (string, *Server) {
	t.Helper()
	o := httptest.NewServer(handler)
	t.Cleanup(o.Close)
	ou, _ := url.Parse(o.URL)
	cfg := Config{Origin: ou, Forward: true, Store: httpcache.NewMemoryStore(64<<20, 8<<20), AdminToken: "sekrit"}
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
	return "http://" + ln.Addr().String(), srv
}

func get(t *testing.T, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestCoalescing(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	u, srv := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "one")
	}))
	const n = 20
	var wg sync.WaitGroup
	bodies := make(chan string, n)
	for range n {
		wg.Go(func() {
			_, b := get(t, u+"/c")
			bodies <- string(b)
		})
	}
	for srv.metrics.Coalesced.Load() < n-1 {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "one" {
			t.Errorf("body %q", b)
		}
	}
	if h := hits.Load(); h != 1 {
		t.Errorf("%d concurrent misses made %d origin requests, want 1", n, h)
	}
}

func TestStreamingLargeBodyBoundedMemory(t *testing.T) {
	const size = 50 << 20
	chunk := strings.Repeat("x", 64<<10)
	u, srv := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for i := 0; i < size/len(chunk); i++ {
			io.WriteString(w, chunk)
		}
	}))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}
	}()
	resp, err := http.Get(u + "/big")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ := io.Copy(h, resp.Body)
	resp.Body.Close()
	close(stop)
	if n != size {
		t.Fatalf("got %d bytes, want %d", n, size)
	}
	if grow := int64(peak.Load()) - int64(before.HeapAlloc); grow > 30<<20 {
		t.Errorf("heap grew by %d MB while streaming 50 MB", grow>>20)
	}
	if srv.store.Stats().Entries != 0 {
		t.Error("an object over the object limit was stored")
	}
}

func TestPurgeNeedsToken(t *testing.T) {
	var hits atomic.Int32
	u, _ := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	}))
	get(t, u+"/p/1")
	get(t, u+"/p/2")
	host := strings.TrimPrefix(u, "http://")
	purge := func(token, target string, prefix bool) int {
		q := "url=" + url.QueryEscape(target)
		if prefix {
			q += "&prefix=1"
		}
		req, _ := http.NewRequest("POST", u+"/_pail/purge?"+q, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := purge("", "http://"+host+"/p/1", false); c != 401 {
		t.Errorf("purge without token: %d", c)
	}
	if c := purge("wrong", "http://"+host+"/p/1", false); c != 401 {
		t.Errorf("purge with a wrong token: %d", c)
	}
	get(t, u+"/p/1")
	if hits.Load() != 2 {
		t.Fatalf("an unauthorised purge purged")
	}
	if c := purge("sekrit", "http://"+host+"/p/", true); c != 200 {
		t.Errorf("prefix purge: %d", c)
	}
	get(t, u+"/p/1")
	get(t, u+"/p/2")
	if hits.Load() != 4 {
		t.Errorf("after a prefix purge the origin saw %d requests, want 4", hits.Load())
	}
	resp, b := get(t, u+"/_pail/metrics")
	if resp.StatusCode != 200 || !strings.Contains(string(b), "proxy_hits ") || !strings.Contains(string(b), "proxy_hit_ratio") {
		t.Errorf("metrics: %d %s", resp.StatusCode, b)
	}
}

func TestOriginDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ou, _ := url.Parse("http://" + addr)
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) { c.Origin = ou })
	if resp, _ := get(t, u+"/x"); resp.StatusCode != 502 {
		t.Errorf("origin down: %d, want 502", resp.StatusCode)
	}
}

func TestOriginTimeoutIs504(t *testing.T) {
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) {
		c.Transport = &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
		o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
		t.Cleanup(o.Close)
		c.Origin, _ = url.Parse(o.URL)
	})
	if resp, _ := get(t, u+"/x"); resp.StatusCode != 504 {
		t.Errorf("slow origin: %d, want 504", resp.StatusCode)
	}
}

func TestForwardProxyAndConnect(t *testing.T) {
	var seen atomic.Value
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "fwd")
	}))
	defer o.Close()
	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	_, echoPort, _ := net.SplitHostPort(echo.Addr().String())
	port, _ := strconv.Atoi(echoPort)
	// The origin and the echo server listen on loopback, which is refused
	// unless allowed.
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) {
		c.Origin = nil
		c.ConnectPorts = []int{port}
		c.ForwardAllow = []string{"127.0.0.0/8"}
	})
	pu, _ := url.Parse(u)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	for i, want := range []string{"fwd=uri-miss", "hit"} {
		resp, err := client.Get(o.URL + "/fp")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "fwd" || !strings.Contains(resp.Header.Get("Cache-Status"), want) {
			t.Errorf("request %d: %q %q", i, b, resp.Header.Get("Cache-Status"))
		}
	}
	c, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", echo.Addr(), echo.Addr())
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("tunnel echo %q %v", buf, err)
	}
	// A port not allowed is refused.
	c2, _ := net.Dial("tcp", pu.Host)
	defer c2.Close()
	fmt.Fprintf(c2, "CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c2), nil); err != nil || resp.StatusCode != 403 {
		t.Errorf("CONNECT to port 25: %v %v", resp, err)
	}
}

func TestIncompleteResponseNotStored(t *testing.T) {
	var hits atomic.Int32
	u, _ := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "short")
		panic(http.ErrAbortHandler)
	}))
	http.Get(u + "/i")
	http.Get(u + "/i")
	if hits.Load() != 2 {
		t.Errorf("an incomplete response was stored (origin saw %d requests)", hits.Load())
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	p := newTestProxy(t)
	p.origin.script(200, pairs("Cache-Control", "max-age=1, stale-while-revalidate=3600"), "old")
	p.do(t, "GET", "/s", nil)
	p.clk.advance(10 * time.Second)
	p.origin.script(200, pairs("Cache-Control", "max-age=3600"), "new")
	resp, body := p.do(t, "GET", "/s", nil)
	if body != "old" || !strings.Contains(resp.Header.Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("stale-while-revalidate: %q %q", body, resp.Header.Get("Cache-Status"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, body := p.do(t, "GET", "/s", nil); body == "new" {
			if p.origin.count() != 2 {
				t.Errorf("origin saw %d requests, want 2", p.origin.count())
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the background refresh never stored the new response")
}
