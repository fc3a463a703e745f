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

// BenchmarkHitPaths compares the two ways a hit is answered, in one run
// on the same machine: the fast path and net/http (DisableFastPath). Each
// sub-benchmark is BenchmarkHit's workload: a warm 10 KB object, eight
// keep-alive clients per core sending raw HTTP/1.1 requests over loopback.
func BenchmarkHitPaths(b *testing.B) {
	for _, bc := range []struct {
		name    string
		disable bool
	}{{"fast", false}, {"nethttp", true}} {
		b.Run(bc.name, func(b *testing.B) { benchHitPath(b, bc.disable) })
	}
}

func benchHitPath(b *testing.B, disable bool) {
	body := strings.Repeat("x", 10240)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer o.Close()
	ou, _ := url.Parse(o.URL)
	srv, err := New(Config{Origin: ou, Store: httpcache.NewMemoryStore(64<<20, 8<<20), DisableFastPath: disable})
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
	resp, err := http.Get("http://" + addr + "/hot.txt")
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	req := "GET /hot.txt HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
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
			if resp.StatusCode != 200 || n != int64(len(body)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
	b.StopTimer()
	if hits := srv.fastHits.Load(); disable != (hits == 0) {
		b.Errorf("fast hits %d with DisableFastPath %v", hits, disable)
	}
}

// discardConn is a net.Conn whose writes go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkAnswerFast measures the fast path's own work for one hit:
// parsing the head, routing, the cache lookup and the write call, with no
// network.
func BenchmarkAnswerFast(b *testing.B) {
	body := strings.Repeat("x", 10240)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer o.Close()
	ou, _ := url.Parse(o.URL)
	srv, err := New(Config{Origin: ou, Store: httpcache.NewMemoryStore(64<<20, 8<<20)})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	prime := httptest.NewRequest("GET", "/hot.txt", nil)
	prime.Host = "example.test"
	srv.ServeHTTP(rec, prime)
	head := "GET /hot.txt HTTP/1.1\r\nHost: example.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
	st := &fastState{req: fastRequest{header: make(http.Header, 8)}, vals: make([]string, 0, fastMaxFields)}
	buf := []byte(head)
	b.ReportAllocs()
	for b.Loop() {
		st.wall = time.Now()
		if srv.answerFast(discardConn{}, string(buf), st) != fastKeep {
			b.Fatal("not answered on the fast path")
		}
	}
}
