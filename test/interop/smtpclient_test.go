//go:build interop

package interop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ioTimeout bounds every read and write of the raw SMTP client.
const ioTimeout = 30 * time.Second

// maxReplyLines bounds a multi-line reply; EHLO sends about a dozen.
const maxReplyLines = 100

// reply is one SMTP reply, possibly multi-line (RFC 5321 §4.2.1).
type reply struct {
	code  int
	lines []string // the text of each line, after "NNN-" or "NNN "
}

// String renders the reply as it came over the wire, one line per line.
func (r reply) String() string {
	var b strings.Builder
	for i, l := range r.lines {
		sep := "-"
		if i == len(r.lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "%03d%s%s\n", r.code, sep, l)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// matches reports whether r fits want: a code or code prefix ("250", "5"),
// optionally followed by a space and the start of the text of the first
// line ("550 5.1.1").
func (r reply) matches(want string) bool {
	code, text, _ := strings.Cut(want, " ")
	if !strings.HasPrefix(strconv.Itoa(r.code), code) {
		return false
	}
	if text == "" {
		return true
	}
	return len(r.lines) > 0 && strings.HasPrefix(r.lines[0], text)
}

// smtpConn is a raw SMTP client: it writes exactly the bytes it is given, so
// tests can send what no well-behaved library would. Methods named after a
// verb return errors; the ones that take want fail the test instead and may
// only be called from the test's goroutine.
type smtpConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialSMTP connects to addr and reads the greeting, which must be 220 and
// name the server's hostname.
func dialSMTP(t *testing.T, addr string) *smtpConn {
	t.Helper()
	c := dialSMTPNoGreeting(t, addr)
	c.expectGreeting()
	return c
}

// dialSMTPNoGreeting connects to addr without reading anything.
func dialSMTPNoGreeting(t *testing.T, addr string) *smtpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &smtpConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { conn.Close() })
	return c
}

// expectGreeting reads the greeting and checks it is "220 mx.hill.test ...".
func (c *smtpConn) expectGreeting() reply {
	c.t.Helper()
	r := c.expect("220")
	if f := strings.Fields(r.lines[0]); len(f) == 0 || f[0] != testHostname {
		c.t.Errorf("greeting %q does not start with hostname %q", r, testHostname)
	}
	return r
}

// readReply reads one complete reply.
func (c *smtpConn) readReply() (reply, error) {
	var r reply
	for {
		c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		line, err := c.r.ReadString('\n')
		if err != nil {
			if line != "" {
				return r, fmt.Errorf("reading reply: %w (partial line %q)", err, line)
			}
			return r, fmt.Errorf("reading reply: %w", err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return r, fmt.Errorf("reply line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if len(line) < 3 {
			return r, fmt.Errorf("short reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 200 || code > 599 {
			return r, fmt.Errorf("bad reply code in %q", line)
		}
		if len(r.lines) > 0 && code != r.code {
			return r, fmt.Errorf("reply code changed within a reply: %q after %d", line, r.code)
		}
		r.code = code
		sep, text := byte(' '), ""
		if len(line) > 3 {
			sep, text = line[3], line[4:]
		}
		r.lines = append(r.lines, text)
		switch {
		case sep == ' ':
			return r, nil
		case sep != '-':
			return r, fmt.Errorf("bad separator in reply line %q", line)
		case len(r.lines) >= maxReplyLines:
			return r, fmt.Errorf("reply longer than %d lines", maxReplyLines)
		}
	}
}

// write sends raw bytes.
func (c *smtpConn) write(s string) error {
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(c.conn, s)
	return err
}

// do sends one command line (CRLF is added) and reads the reply.
func (c *smtpConn) do(line string) (reply, error) {
	if err := c.write(line + "\r\n"); err != nil {
		return reply{}, err
	}
	return c.readReply()
}

// expect reads a reply and fails the test unless it matches want.
func (c *smtpConn) expect(want string) reply {
	c.t.Helper()
	r, err := c.readReply()
	if err != nil {
		c.t.Fatalf("want %q reply: %v", want, err)
	}
	if !r.matches(want) {
		c.t.Fatalf("want %q reply, got:\n%s", want, r)
	}
	return r
}

// cmd sends one command line and fails the test unless the reply matches
// want.
func (c *smtpConn) cmd(line, want string) reply {
	c.t.Helper()
	if err := c.write(line + "\r\n"); err != nil {
		c.t.Fatalf("sending %q: %v", clipLine(line), err)
	}
	r, err := c.readReply()
	if err != nil {
		c.t.Fatalf("%q: want %q reply: %v", clipLine(line), want, err)
	}
	if !r.matches(want) {
		c.t.Fatalf("%q: want %q reply, got:\n%s", clipLine(line), want, r)
	}
	return r
}

// send writes raw bytes and fails the test on error.
func (c *smtpConn) send(s string) {
	c.t.Helper()
	if err := c.write(s); err != nil {
		c.t.Fatalf("sending %d bytes: %v", len(s), err)
	}
}

// expectClosed fails the test unless the server closes the connection within
// d, after at most two more lines (such as a 421), which are returned.
func (c *smtpConn) expectClosed(d time.Duration) []string {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var got []string
	for {
		c.conn.SetReadDeadline(deadline)
		line, err := c.r.ReadString('\n')
		if errors.Is(err, io.EOF) || isConnReset(err) {
			return got
		}
		if err != nil {
			c.t.Fatalf("connection still open after %v: %v", d, err)
		}
		got = append(got, strings.TrimRight(line, "\r\n"))
		if len(got) > 2 {
			c.t.Fatalf("server kept talking instead of closing: %q", got)
		}
	}
}

// isConnReset reports whether err is a reset connection: a server that closes
// with unread input pending resets instead of sending FIN.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// clipLine shortens a command line for failure messages.
func clipLine(s string) string {
	if len(s) <= 80 {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:60], len(s))
}

// wireData turns a message written with LF line endings into DATA content:
// CRLF line endings, leading dots doubled (RFC 5321 §4.5.2) and the
// end-of-data line.
func wireData(msg string) string {
	msg = strings.TrimSuffix(msg, "\n")
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") {
			lines[i] = "." + l
		}
	}
	return strings.Join(lines, "\r\n") + "\r\n.\r\n"
}

// sendMail runs one whole transaction on a new connection and fails the test
// unless every step succeeds. msg uses LF line endings.
func sendMail(t *testing.T, addr, from string, to []string, msg string) {
	t.Helper()
	c := dialSMTP(t, addr)
	c.cmd("EHLO client.town.test", "250")
	c.cmd("MAIL FROM:<"+from+">", "250")
	for _, rcpt := range to {
		c.cmd("RCPT TO:<"+rcpt+">", "250")
	}
	c.cmd("DATA", "354")
	c.send(wireData(msg))
	c.expect("250")
	c.cmd("QUIT", "221")
}

// expectServing checks that the server at addr still greets a new client and
// takes a message for rcpt.
func expectServing(t *testing.T, addr, rcpt, subject string) {
	t.Helper()
	sendMail(t, addr, "jack@town.test", []string{rcpt},
		"From: jack@town.test\nTo: "+rcpt+"\nSubject: "+subject+"\n\nStill here.\n")
}
