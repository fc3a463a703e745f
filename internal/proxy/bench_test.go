package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"pail/internal/httpcache"
)

// benchBody is the object every proxy benchmark serves: 10 KB, the shape
// bench/http-cache.sh uses.
var benchBody = strings.Repeat("x", 10240)

// startBenchProxy starts a loopback origin that serves benchBody with
// max-age at every path, and a proxy in front of it configured by cfg
// (its Origin is set here). It returns the proxy and its address.
func startBenchProxy(b *testing.B, cfg Config) (*Server, string) {
	b.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = []string{"max-age=3600"}
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{"10240"}
		io.WriteString(w, benchBody)
	}))
	b.Cleanup(o.Close)
	cfg.Origin, _ = url.Parse(o.URL)
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

// benchLoad times b.N requests from eight keep-alive clients per core,
// each writing raw HTTP/1.1 heads (made by head) and reading the answers,
// so the client side costs as little as it can. Every answer must be a
// 200 with benchBody and a Cache-Status holding cacheStatus.
func benchLoad(b *testing.B, addr string, head func() string, cacheStatus string) {
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 32<<10)
		for pb.Next() {
			if _, err := io.WriteString(c, head()); err != nil {
				b.Error(err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != int64(len(benchBody)) || !strings.Contains(resp.Header.Get("Cache-Status"), cacheStatus) {
				b.Errorf("status %d, %d bytes, Cache-Status %q", resp.StatusCode, n, resp.Header.Get("Cache-Status"))
				return
			}
		}
	})
	b.StopTimer()
}

// warm fetches path through the proxy at addr until it is answered from
// the cache: the response of the first fetch may still be on its way
// into the store when the client has read it.
func warm(b *testing.B, addr, path string) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never answered from the cache (Cache-Status %q)", path, resp.Header.Get("Cache-Status"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkHit measures the cache-hit path end to end: a warm cache of one
// object, many keep-alive clients over loopback.
func BenchmarkHit(b *testing.B) {
	_, addr := startBenchProxy(b, Config{Store: httpcache.NewMemoryStore(64<<20, 8<<20)})
	warm(b, addr, "/hot.txt")
	req := "GET /hot.txt HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	benchLoad(b, addr, func() string { return req }, "hit")
}
