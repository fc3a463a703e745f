package imapd

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns a conn wrapping one end of a loopback TCP connection, and
// the other end.
func pair(t *testing.T) (*conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close(); nc.Close() })
	return &conn{Conn: nc, release: func() {}}, peer
}

// readWithin reads what arrives at peer within d.
func readWithin(peer net.Conn, d time.Duration) string {
	peer.SetReadDeadline(time.Now().Add(d))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := peer.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return string(got)
		}
	}
}

func TestCoalescedWritesGoOutAtTheNextRead(t *testing.T) {
	c, peer := pair(t)
	for _, s := range []string{"* 1 FETCH (FLAGS ())\r\n", "* 2 FETCH (FLAGS ())\r\n", "A1 OK done\r\n"} {
		if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	if got := readWithin(peer, 100*time.Millisecond); got != "" {
		t.Fatalf("sent before the session read: %q", got)
	}
	// The session reads its next command: everything goes out first.
	done := make(chan string)
	go func() {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		done <- string(buf[:n])
	}()
	if got := readWithin(peer, time.Second); got != "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\nA1 OK done\r\n" {
		t.Fatalf("peer got %q", got)
	}
	peer.Write([]byte("A2 NOOP\r\n"))
	if got := <-done; got != "A2 NOOP\r\n" {
		t.Fatalf("Read %q", got)
	}
}

func TestWriteDuringReadGoesOutAtOnce(t *testing.T) {
	c, peer := pair(t)
	c.Write([]byte("+ idling\r\n"))
	go func() {
		buf := make([]byte, 64)
		c.Read(buf) // waits for DONE, as IDLE does
	}()
	if got := readWithin(peer, time.Second); got != "+ idling\r\n" {
		t.Fatalf("peer got %q", got)
	}
	// An update from another goroutine while the read waits.
	time.Sleep(50 * time.Millisecond)
	c.Write([]byte("* 3 EXISTS\r\n"))
	if got := readWithin(peer, time.Second); got != "* 3 EXISTS\r\n" {
		t.Fatalf("update not sent while the session waited: %q", got)
	}
	peer.Write([]byte("DONE\r\n"))
}

func TestCloseSendsPendingAndLargeWritesPass(t *testing.T) {
	c, peer := pair(t)
	big := bytes.Repeat([]byte("x"), maxPending+1)
	c.Write([]byte("head "))
	c.Write(big) // over the buffer: sent with what was pending
	c.Write([]byte("* BYE\r\n"))
	c.Close()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	if want := "head " + string(big) + "* BYE\r\n"; string(got) != want {
		t.Fatalf("peer got %d bytes, want %d", len(got), len(want))
	}
}

// crypto/tls sets the write deadline to now after writing its
// close_notify; what was pending still goes out.
func TestCloseSendsPendingPastADeadline(t *testing.T) {
	c, peer := pair(t)
	c.Write([]byte("* BYE Logging out\r\nA9 OK done\r\n"))
	c.SetWriteDeadline(time.Now())
	c.Close()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(peer)
	if string(got) != "* BYE Logging out\r\nA9 OK done\r\n" {
		t.Fatalf("peer got %q", got)
	}
}
