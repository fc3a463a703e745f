package smtpserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testSession accepts everything, panics for a recipient "panic@x.test"
// and fails with an internal error for "broken@x.test".
type testSession struct{ got chan string }

func (s *testSession) Mail(string, MailOptions) error { return nil }
func (s *testSession) Rcpt(to string) error {
	switch to {
	case "panic@x.test":
		panic("test panic")
	case "broken@x.test":
		return errors.New("database at /secret/path is down")
	}
	return nil
}
func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.got <- string(b)
	return nil
}
func (s *testSession) Reset()  {}
func (s *testSession) Logout() {}

// countingConn counts the writes the engine makes on a real socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// serve runs the engine on a real socket on 127.0.0.1:0 and returns the
// client's end, the count of the server's writes and the messages.
func serve(t *testing.T) (net.Conn, *bufio.Reader, *atomic.Int32, chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	writes := &atomic.Int32{}
	got := make(chan string, 10)
	cfg := &Config{Hostname: "mx.test", MaxMessageBytes: 1000, MaxRecipients: 5, MaxErrors: 5,
		ReadTimeout: func(bool) time.Duration { return 5 * time.Second }, WriteTimeout: 5 * time.Second}
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		NewConn(countingConn{nc, writes}, cfg, func(*Conn) (Session, error) { return &testSession{got}, nil }).Serve(context.Background())
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c), writes, got
}

// replies reads n replies and returns their last lines.
func replies(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		out = append(out, strings.TrimRight(line, "\r\n"))
	}
	return out
}

// TestPipelinedRepliesBatched: the replies to a group of pipelined
// commands go out in one write, when the server has read all the input
// it has (RFC 2920 §3.2); commands sent one at a time get one write each.
func TestPipelinedRepliesBatched(t *testing.T) {
	c, br, writes, got := serve(t)
	replies(t, br, 1)
	if n := writes.Load(); n != 1 {
		t.Fatalf("greeting in %d writes", n)
	}
	io.WriteString(c, "EHLO a.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n")
	r := replies(t, br, 5)
	if !strings.HasPrefix(r[4], "354 ") {
		t.Fatalf("replies %q", r)
	}
	if n := writes.Load(); n != 2 {
		t.Errorf("five pipelined replies in %d writes, want 1", n-1)
	}
	io.WriteString(c, "Subject: x\r\n\r\nbody\r\n.\r\n")
	if r := replies(t, br, 1); !strings.HasPrefix(r[0], "250 2.0.0 ") {
		t.Fatalf("end of data: %q", r)
	}
	if m := <-got; m != "Subject: x\r\n\r\nbody\r\n" {
		t.Errorf("message %q", m)
	}
	before := writes.Load()
	for _, cmd := range []string{"NOOP", "RSET", "NOOP"} {
		io.WriteString(c, cmd+"\r\n")
		replies(t, br, 1)
	}
	if n := writes.Load() - before; n != 3 {
		t.Errorf("three lock-step replies in %d writes", n)
	}
}

// TestSessionFailuresAnswered: an error that is no *Error is answered 451
// 4.3.0 without its text, and the session goes on; a panic is answered
// 421 and ends it.
func TestSessionFailuresAnswered(t *testing.T) {
	c, br, _, _ := serve(t)
	replies(t, br, 1)
	io.WriteString(c, "EHLO a.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<broken@x.test>\r\nNOOP\r\n")
	r := replies(t, br, 4)
	if r[2] != "451 4.3.0 Local error, try again later" || !strings.HasPrefix(r[3], "250 ") {
		t.Errorf("replies %q", r)
	}
	io.WriteString(c, "RCPT TO:<panic@x.test>\r\n")
	if r := replies(t, br, 1); !strings.HasPrefix(r[0], "421 4.3.0 ") {
		t.Errorf("panic answered %q", r)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("session goes on after a panic")
	}
}

// discardSession accepts every message and drops it.
type discardSession struct{}

func (discardSession) Mail(string, MailOptions) error { return nil }
func (discardSession) Rcpt(string) error              { return nil }
func (discardSession) Data(r io.Reader) error         { _, err := io.Copy(io.Discard, r); return err }
func (discardSession) Reset()                         {}
func (discardSession) Logout()                        {}

// BenchmarkTransaction is the engine's cost per mail transaction over
// loopback, without storage: MAIL, RCPT, DATA and 4 KiB in lock step.
func BenchmarkTransaction(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cfg := &Config{Hostname: "mx.test", MaxMessageBytes: 1 << 20, ReadTimeout: func(bool) time.Duration { return time.Minute }}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go NewConn(nc, cfg, func(*Conn) (Session, error) { return discardSession{}, nil }).Serve(context.Background())
		}
	}()
	line := strings.Repeat("x", 76) + "\r\n"
	body := "Subject: bench\r\n\r\n" + strings.Repeat(line, 4096/len(line)) + ".\r\n"
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	replies := func() {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(l) > 3 && l[3] == ' ' {
				return
			}
		}
	}
	replies()
	io.WriteString(c, "EHLO town.test\r\n")
	replies()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		for _, cmd := range []string{"MAIL FROM:<jack@town.test>\r\n", "RCPT TO:<jill@hill.test>\r\n", "DATA\r\n", body} {
			io.WriteString(c, cmd)
			replies()
		}
	}
}
