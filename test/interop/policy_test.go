//go:build interop

package interop

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPolicy sends what a careless or hostile client would, one case per
// connection, to one server, and then checks that the server still takes
// mail and stored none of the refused messages.
func TestPolicy(t *testing.T) {
	s := newServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	s.start()

	// session opens a connection and says EHLO.
	session := func(t *testing.T) *smtpConn {
		c := dialSMTP(t, s.smtpAddr)
		c.cmd("EHLO client.town.test", "250")
		return c
	}

	t.Run("unknown local user", func(t *testing.T) {
		c := session(t)
		c.cmd("MAIL FROM:<jack@town.test>", "250")
		c.cmd("RCPT TO:<nobody@hill.test>", "550 5.1.1")
		c.cmd("RCPT TO:<jill@hill.test>", "250") // the transaction goes on
		c.cmd("RSET", "250")
		c.cmd("QUIT", "221")
	})

	t.Run("no relay", func(t *testing.T) {
		c := session(t)
		c.cmd("MAIL FROM:<jack@town.test>", "250")
		c.cmd("RCPT TO:<someone@elsewhere.test>", "554 5.7.1")
		c.cmd("RCPT TO:<someone%elsewhere.test@hill.test>", "5")
		c.cmd("QUIT", "221")
	})

	t.Run("declared size over limit", func(t *testing.T) {
		c := session(t)
		c.cmd(fmt.Sprintf("MAIL FROM:<jack@town.test> SIZE=%d", maxMsgBytes+1), "552 5.3.4")
		c.cmd("NOOP", "250")
	})

	t.Run("message over limit", func(t *testing.T) {
		c := session(t)
		c.cmd("MAIL FROM:<jack@town.test>", "250")
		c.cmd("RCPT TO:<jill@hill.test>", "250")
		c.cmd("DATA", "354")
		msg := "From: jack@town.test\nSubject: oversize\n\n" + filler(maxMsgBytes+200*1024)
		// Write while reading: a server that answers early must not
		// deadlock the test.
		written := make(chan error, 1)
		go func() { written <- c.write(wireData(msg)) }()
		r, err := c.readReply()
		if err != nil {
			t.Fatalf("reply to oversize DATA: %v", err)
		}
		if !r.matches("552 5.3.4") {
			t.Fatalf("oversize DATA: want 552 5.3.4, got:\n%s", r)
		}
		if err := <-written; err != nil {
			t.Logf("server stopped reading the oversize message: %v", err)
			return
		}
		if r, err := c.do("NOOP"); err != nil || r.code != 250 {
			t.Logf("session after 552: NOOP got %v %v (the connection may close)", r, err)
		}
	})

	t.Run("message just under limit", func(t *testing.T) {
		body := filler(maxMsgBytes - 64*1024)
		sendMail(t, s.smtpAddr, "jack@town.test", []string{"jill@hill.test"},
			"From: jack@town.test\nSubject: large\n\n"+body)
		m := oneWithSubject(t, s.export("jill@hill.test"), "large", "jill INBOX")
		if !bytes.Equal(m.body(), []byte(body)) {
			t.Errorf("large body differs: got %d bytes, want %d", len(m.body()), len(body))
		}
	})

	t.Run("too many recipients", func(t *testing.T) {
		c := session(t)
		c.cmd("MAIL FROM:<jack@town.test>", "250")
		for i := range maxRcpts {
			c.cmd(fmt.Sprintf("RCPT TO:<jill+r%d@hill.test>", i), "250")
		}
		c.cmd("RCPT TO:<jill+one-too-many@hill.test>", "452")
		c.cmd("RSET", "250")
	})

	t.Run("bad sequence", func(t *testing.T) {
		c := session(t)
		c.cmd("RCPT TO:<jill@hill.test>", "503")
		c.cmd("MAIL FROM:<jack@town.test>", "250")
		c.cmd("MAIL FROM:<jack@town.test>", "503") // nested MAIL (RFC 5321 §4.1.4)
		c.cmd("RCPT TO:<jill@hill.test>", "250")
	})

	t.Run("bad syntax", func(t *testing.T) {
		c := dialSMTP(t, s.smtpAddr)
		c.cmd("FOOB plugh", "500") // unknown verb (RFC 5321 §4.2.4)
		c.cmd("XYZZY", "50")       // go-smtp answers 501 for a 5-letter verb
		c.cmd("HELO", "501")
		c.cmd("EHLO client.town.test", "250")
		c.cmd("MAIL FROM jack@town.test", "501")
		c.cmd("MAIL FROM:<jack@town.test", "501")
	})

	t.Run("command line too long", func(t *testing.T) {
		c := session(t)
		// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; go-smtp
		// allows 2000. Past that the server answers 500 and hangs up.
		c.send("MAIL FROM:<" + strings.Repeat("a", 2100) + "@town.test>\r\n")
		c.expect("500")
		c.expectClosed(10 * time.Second)
	})

	t.Run("bare LF in message", func(t *testing.T) {
		c := session(t)
		c.cmd("MAIL FROM:<jack@town.test>", "250")
		c.cmd("RCPT TO:<jill@hill.test>", "250")
		c.cmd("DATA", "354")
		// RFC 5321 §2.3.8: a bare LF is not a line ending; smuggling
		// attacks use it to end DATA early on other servers.
		c.send("From: jack@town.test\nSubject: bare lf\n\nline one\nline two\r\n.\r\n")
		c.expect("5")
		if r, err := c.do("NOOP"); err != nil || r.code != 250 {
			t.Logf("session after bare-LF refusal: NOOP got %v %v (the connection may close)", r, err)
		}
	})

	t.Run("NUL in address", func(t *testing.T) {
		c := session(t)
		c.cmd("MAIL FROM:<ja\x00ck@town.test>", "5")
	})

	t.Run("NUL in verb", func(t *testing.T) {
		c := session(t)
		c.cmd("NO\x00OP", "5")
	})

	// After all of that the server still takes mail, and kept none of the
	// refused messages.
	expectServing(t, s.smtpAddr, "jill@hill.test", "after policy")
	msgs := s.export("jill@hill.test")
	oneWithSubject(t, msgs, "after policy", "jill INBOX")
	for _, subject := range []string{"oversize", "bare lf"} {
		if n := len(withSubject(msgs, subject)); n != 0 {
			t.Errorf("refused message %q was stored (%d copies):\n%s", subject, n, summary(msgs))
		}
	}
}

// TestIdleTimeout checks that a client that goes silent is disconnected once
// limits.command_timeout passes.
func TestIdleTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	s := startServer(t, serverOptions{limits: []string{fmt.Sprintf("command_timeout = %q", timeout)}})

	c := dialSMTP(t, s.smtpAddr)
	c.cmd("EHLO client.town.test", "250")
	start := time.Now()
	got := c.expectClosed(timeout + 10*time.Second)
	elapsed := time.Since(start)
	if elapsed < timeout/2 {
		t.Errorf("disconnected after %v, before the %v command timeout", elapsed, timeout)
	}
	for _, line := range got {
		if !strings.HasPrefix(line, "421") {
			t.Errorf("before closing, the server said %q; want 421 or nothing", line)
		}
	}
	t.Logf("silent client disconnected after %v with %q", elapsed.Round(10*time.Millisecond), got)

	expectServingNoRcpt(t, s.smtpAddr)
}

// expectServingNoRcpt checks that a new client is greeted and can say EHLO.
func expectServingNoRcpt(t *testing.T, addr string) {
	t.Helper()
	c := dialSMTP(t, addr)
	c.cmd("EHLO client.town.test", "250")
	c.cmd("QUIT", "221")
}

// filler returns n bytes of printable text in 78-character lines with LF
// endings.
func filler(n int) string {
	const line = "All work and no play makes Jack a dull boy. Jill fetches the water again...\n"
	var b strings.Builder
	b.Grow(n)
	for b.Len()+len(line) <= n {
		b.WriteString(line)
	}
	for b.Len() < n-1 {
		b.WriteByte('x')
	}
	if b.Len() < n {
		b.WriteByte('\n')
	}
	return b.String()
}
