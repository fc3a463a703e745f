package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/httpcache"
)

// BenchmarkMiss measures the cold path end to end, the shape of
// bench/http-cache.sh's cold test: every request is a new URL, so each is
// a miss fetched from a loopback origin (a 10 KB object with max-age),
// relayed to the client and stored. Eight keep-alive clients per core
// send raw HTTP/1.1 requests. allocs/op and B/op count the proxy's and
// the in-process origin's allocations together.
//
// "filling" stores into a cache with room for everything, as the cold
// test does: every stored body is new memory. "full" stores into a 16 MB
// cache filled beforehand, so every miss evicts and memory is reused.
func BenchmarkMiss(b *testing.B) {
	b.Run("filling", func(b *testing.B) { benchMiss(b, 1<<30, 0) })
	b.Run("full", func(b *testing.B) { benchMiss(b, 16<<20, 2*16<<20/10240) })
}

// benchMiss runs BenchmarkMiss's load against a store of budget bytes,
// after prefill unmeasured misses.
func benchMiss(b *testing.B, budget int64, prefill int) {
	body := strings.Repeat("x", 10240)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = []string{"max-age=3600"}
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{"10240"}
		io.WriteString(w, body)
	}))
	defer o.Close()
	ou, _ := url.Parse(o.URL)
	srv, err := New(Config{Origin: ou, Store: httpcache.NewMemoryStore(budget, 8<<20)})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()

	var seq atomic.Int64
	if prefill > 0 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReaderSize(c, 32<<10)
		for range prefill {
			req := "GET /fill/" + strconv.FormatInt(seq.Add(1), 10) + ".txt HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
			if _, err := io.WriteString(c, req); err != nil {
				b.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		c.Close()
	}
	stored := srv.metrics.Stored.Load()
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
			req := "GET /cold/" + strconv.FormatInt(seq.Add(1), 10) + ".txt HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
			if _, err := io.WriteString(c, req); err != nil {
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
			if resp.StatusCode != 200 || n != int64(len(body)) || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
				b.Errorf("status %d, %d bytes, Cache-Status %q", resp.StatusCode, n, resp.Header.Get("Cache-Status"))
				return
			}
		}
	})
	b.StopTimer()
	// A response is stored just after its last byte went out: wait a
	// little for the last ones.
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		got := srv.metrics.Stored.Load() - stored
		if got >= int64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Errorf("stored %d of %d misses", got, b.N)
			break
		}
	}
}
