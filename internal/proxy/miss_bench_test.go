package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
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
	srv, addr := startBenchProxy(b, Config{Store: httpcache.NewMemoryStore(budget, 8<<20)})

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
	benchLoad(b, addr, func() string {
		return "GET /cold/" + strconv.FormatInt(seq.Add(1), 10) + ".txt HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	}, "stored")
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
