package proxy

import (
	"net"
	"net/http"
	"net/http/httptest"
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
	srv, addr := startBenchProxy(b, Config{Store: httpcache.NewMemoryStore(64<<20, 8<<20), DisableFastPath: disable})
	warm(b, addr, "/hot.txt")
	req := "GET /hot.txt HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
	benchLoad(b, addr, func() string { return req }, "hit")
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
	srv, _ := startBenchProxy(b, Config{Store: httpcache.NewMemoryStore(64<<20, 8<<20)})
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
