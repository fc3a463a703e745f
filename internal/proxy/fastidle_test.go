package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestFastPathIdleBufferShrinks checks that a kept-alive connection
// idle after a long head (a 60 KB Cookie) holds a normal head buffer, not
// the ~69 KB one the head needed: the heap held per idle connection stays
// far below that.
func TestFastPathIdleBufferShrinks(t *testing.T) {
	const conns = 100
	p := newTestProxy(t)
	p.origin.script(200, []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "x")
	p.do(t, "GET", "/a", []string{"Host", "example.test"})
	req := "GET /a HTTP/1.1\r\nHost: example.test\r\nCookie: " + strings.Repeat("c", 60<<10) + "\r\n\r\n"
	hits := p.fastHits.Load()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	open := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.Dial("tcp", p.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		open = append(open, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := p.fastHits.Load() - hits; n != conns {
		t.Fatalf("%d fast hits, want %d", n, conns)
	}
	perConn := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / conns
	t.Logf("%d bytes of heap per idle connection", perConn)
	if perConn > 32<<10 {
		t.Errorf("%d bytes of heap per idle connection after a long head, want under 32 KB", perConn)
	}
	runtime.KeepAlive(open)
}

// TestFastPathStoppingCloses checks that once the server is stopping,
// the fast path answers as net/http does during Shutdown: with close
// semantics ("Connection: close" to HTTP/1.1, no "keep-alive" to
// HTTP/1.0), then closes, leaving pipelined requests unanswered. The
// answers are compared with those to requests that ask to close, which
// TestFastPathMatchesNetHTTP checks against net/http.
func TestFastPathStoppingCloses(t *testing.T) {
	const readySettle = 200 * time.Millisecond
	p := newTestProxy(t)
	p.origin.script(200, []string{"Cache-Control", "max-age=100", "Content-Type", "text/plain"}, "x")
	p.do(t, "GET", "/a", []string{"Host", "example.test"})
	for _, tc := range []struct{ req, closing, method string }{
		{"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET /a HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n", "GET"},
		{"HEAD /a HTTP/1.1\r\nHost: example.test\r\n\r\n", "HEAD /a HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n", "HEAD"},
		{"GET /a HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n", "GET /a HTTP/1.0\r\nHost: example.test\r\n\r\n", "GET"},
	} {
		want, closed := exchange(t, p, false, rawStep{tc.closing, tc.method})
		if !closed {
			t.Fatalf("%q: kept open", tc.closing)
		}
		// A connection waiting for its next request, as Shutdown
		// finds it between stop() marking it stopping and the head
		// already on its way.
		c, _ := exchangeKeep(t, p, "GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n")
		// Let the connection's goroutine get back to its read: one that
		// sees stopping before it reads closes at once without an
		// answer (as net/http closes idle connections), which is right
		// but not what this test looks at.
		time.Sleep(readySettle)
		p.fast.stopping.Store(true)
		io.WriteString(c, tc.req+tc.req) // pipelined: the second goes unanswered
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		p.fast.stopping.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		if dateless(string(got)) != dateless(want[0]) {
			t.Errorf("%q while stopping:\n%q\nwant\n%q", tc.req, got, want[0])
		}
	}
}

// TestFastPathHandoverKeepsHeadClock checks that a head handed to
// net/http before its end (at a line the fast path refuses) must still
// end within its first deadline: the handover does not restart it.
func TestFastPathHandoverKeepsHeadClock(t *testing.T) {
	const head = 400 * time.Millisecond
	p := newTimedProxy(t, head, 10*head)
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET /a HTTP/1.1\r\nHost: example.test\r\n")
	time.Sleep(head * 2 / 3)
	io.WriteString(c, "Range: bytes=0-1\r\n") // not simple: handed over
	closedWithin(t, c, 3*time.Second)
	if d := time.Since(start); d > head+head/3 {
		t.Errorf("a head handed over after %v was cut after %v, want about %v", head*2/3, d, head)
	}
}
