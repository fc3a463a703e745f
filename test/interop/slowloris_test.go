//go:build interop

package interop

import (
	"net"
	"testing"
	"time"
)

// slowlorisConns is how many connections never say a word.
const slowlorisConns = 2000

// TestSlowloris opens 2 000 connections that never speak, spread over 40
// loopback addresses (the per-address cap is 50), and checks that a normal
// client still delivers a message within a second.
func TestSlowloris(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range slowlorisConns {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i/50))}
		d := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", s.smtpAddr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// Every idle connection was admitted: it got the greeting.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4)
		if _, err := c.Read(buf); err != nil || string(buf[:3]) != "220" {
			t.Fatalf("idle connection %d: %q, %v", i, buf, err)
		}
	}

	start := time.Now()
	c := dialSMTP(t, s.smtpAddr)
	c.cmd("EHLO town.test", "250")
	c.cmd("MAIL FROM:<jack@town.test>", "250")
	c.cmd("RCPT TO:<jill@hill.test>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: through the crowd\r\n\r\nhello\r\n.\r\n")
	c.expect("250")
	if d := time.Since(start); d > time.Second {
		t.Errorf("a normal client took %v with %d idle connections open", d, slowlorisConns)
	}
	c.cmd("QUIT", "221")

	// The 51st connection from one address is turned away.
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, 1)}
	d := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
	extra, err := d.Dial("tcp", s.smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := extra.Read(buf)
	if got := string(buf[:n]); len(got) < 3 || got[:3] != "421" {
		t.Errorf("connection 51 from one address: %q", got)
	}
	if msgs := s.export("jill@hill.test"); len(msgs) != 1 {
		t.Errorf("%d messages", len(msgs))
	}
}
