package imapengine

import (
	"bufio"
	"compress/flate"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// compressed switches a test client to raw DEFLATE both ways after the
// tagged OK of COMPRESS (RFC 4978 §3), as a real client does: its own
// compressor, sync-flushed after every command.
func (c *client) compressed() *flate.Writer {
	c.t.Helper()
	if got := c.cmd("COMPRESS DEFLATE"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
		c.t.Fatalf("COMPRESS: %q", got)
	}
	if c.br.Buffered() != 0 {
		c.t.Fatalf("server sent %d bytes after the OK before any command", c.br.Buffered())
	}
	zw, err := flate.NewWriter(c.c, flate.DefaultCompression)
	if err != nil {
		c.t.Fatal(err)
	}
	c.w = &flushWriter{zw}
	c.br = bufio.NewReader(flate.NewReader(c.c))
	return zw
}

// flushWriter sync-flushes its compressor after every write, so that
// the server has each command at once.
type flushWriter struct{ zw *flate.Writer }

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.zw.Write(p)
	if err == nil {
		err = f.zw.Flush()
	}
	return n, err
}

// implicitTLS makes e also serve implicit TLS (RFC 8314) and returns
// that address.
func (e *env) implicitTLS(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); e.srv.ServeConn(tls.Server(nc, e.srv.cfg.TLS), true) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); e.srv.Close(); wg.Wait() })
	return ln.Addr().String()
}

// TestCompress: COMPRESS DEFLATE over plain text, after STARTTLS and on
// implicit TLS: OK, then every command and response compressed; a second
// COMPRESS is NO [COMPRESSIONACTIVE]; an update in IDLE arrives without
// the client sending anything (each batch is sync-flushed, RFC 4978 §4).
func TestCompress(t *testing.T) {
	e := newEnv(t, true, nil)
	tlsAddr := e.implicitTLS(t)
	for _, mode := range []string{"plain", "starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			var c *client
			switch mode {
			case "plain":
				c = dial(t, e.addr)
			case "starttls":
				c = dial(t, e.addr)
				c.cmd("STARTTLS")
				c.startTLSAfterOK()
			case "implicit":
				nc, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { nc.Close() })
				c = &client{t: t, c: nc, br: bufio.NewReader(nc)}
				c.greeting = c.line()
			}
			if !strings.Contains(c.greeting, "COMPRESS=DEFLATE") {
				t.Fatalf("not advertised: %q", c.greeting)
			}
			if got := c.cmd("COMPRESS DEFLATE"); !strings.Contains(last(got), "BAD") {
				t.Fatalf("COMPRESS before login: %q", got)
			}
			c.login()
			if got := c.cmd("COMPRESS LZW"); !strings.Contains(last(got), "BAD") {
				t.Fatalf("COMPRESS LZW: %q", got)
			}
			c.compressed()
			if got := c.cmd("SELECT INBOX"); !strings.Contains(strings.Join(got, "\n"), " EXISTS") || !strings.Contains(last(got), "OK [READ-WRITE]") {
				t.Fatalf("SELECT compressed: %q", got)
			}
			if got := c.cmd("FETCH 1:* (UID)"); len(got) < 4 || got[0] != "* 1 FETCH (UID 1)" {
				t.Fatalf("FETCH compressed: %q", got)
			}
			if got := c.cmd("COMPRESS DEFLATE"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d NO [COMPRESSIONACTIVE]", c.n)) {
				t.Fatalf("second COMPRESS: %q", got)
			}
			c.send("i IDLE\r\n")
			if l := c.line(); !strings.HasPrefix(l, "+ ") {
				t.Fatalf("IDLE: %q", l)
			}
			time.Sleep(20 * time.Millisecond)
			e.b.deliver()
			if l := c.line(); !strings.HasSuffix(l, " EXISTS") {
				t.Fatalf("update in IDLE: %q", l)
			}
			c.send("DONE\r\n")
			if got := c.until("i"); !strings.HasPrefix(last(got), "i OK") {
				t.Fatalf("DONE: %q", got)
			}
			c.send(fmt.Sprintf("t%d LOGOUT\r\n", c.n+1))
			if got := c.until(fmt.Sprintf("t%d", c.n+1)); !strings.HasPrefix(got[0], "* BYE") {
				t.Fatalf("LOGOUT: %q", got)
			}
		})
	}
}

// TestCompressBomb: inflated input meets the bounds plain input does. A
// literal of 64 MiB that compresses to a few KiB is refused at once and,
// being more than can be skipped, ends the session; a line of 64 MiB
// without CRLF ends it after the line and discard bounds; neither makes
// the server hold what it inflates.
func TestCompressBomb(t *testing.T) {
	const bomb = 64 << 20
	e := newEnv(t, true, nil)
	for _, kind := range []string{"literal", "line"} {
		t.Run(kind, func(t *testing.T) {
			c := dial(t, e.addr)
			c.login()
			zw := c.compressed()
			runtime.GC()
			var m0 runtime.MemStats
			runtime.ReadMemStats(&m0)
			head := "b SELECT {67108864+}\r\n"
			if kind == "line" {
				head = "b SELECT "
			}
			go func() {
				// The client's side: compressed, so cheap to send; the
				// server may close before it is all sent.
				zw.Write([]byte(head))
				chunk := []byte(strings.Repeat("a", 1<<20))
				for n := 0; n < bomb; n += len(chunk) {
					if _, err := zw.Write(chunk); err != nil {
						return
					}
				}
				zw.Write([]byte("\r\n"))
				zw.Flush()
			}()
			var lines []string
			c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				l, err := c.br.ReadString('\n')
				if l != "" {
					lines = append(lines, strings.TrimRight(l, "\r\n"))
				}
				if err != nil {
					break
				}
			}
			all := strings.Join(lines, "\n")
			if !strings.Contains(all, "b BAD [TOOBIG]") || !strings.Contains(all, "* BYE") {
				t.Fatalf("the bomb was not refused with BAD [TOOBIG] and BYE: %q", lines)
			}
			var m1 runtime.MemStats
			runtime.ReadMemStats(&m1)
			if grew := int64(m1.HeapSys) - int64(m0.HeapSys); grew > 16<<20 {
				t.Errorf("the heap grew by %d MiB inflating the bomb", grew>>20)
			}
		})
	}
}

var _ io.Writer = (*flushWriter)(nil)
