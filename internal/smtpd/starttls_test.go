package smtpd

import (
	"bufio"
	"crypto/tls"
	"strings"
	"testing"
)

// startTLS greets, runs STARTTLS (sending extra after it in the same
// write) and returns the client over TLS.
func startTLS(t *testing.T, addr, extra string) *client {
	t.Helper()
	c := dial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.send("STARTTLS\r\n" + extra)
	c.expect("220 2\\.0\\.0 ")
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return &client{t: t, c: tc, br: bufio.NewReader(tc)}
}

// TestRepliesAfterSTARTTLS: over TLS the replies are the same as in clear
// (HELP 214, commands out of sequence 503, RFC 5321 §4.1.1.8, §4.2.4),
// since no reply is rewritten below TLS any more; and the session starts
// afresh (RFC 3207 §4.2: MAIL needs a new EHLO).
func TestRepliesAfterSTARTTLS(t *testing.T) {
	for _, role := range []Role{RoleMX, RoleSubmission} {
		env := newTestEnv(t, testOpts{role: role})
		c := startTLS(t, env.addr, "")
		c.cmd("HELP", "214 2\\.0\\.0 ")
		c.cmd("MAIL FROM:<jill@hill.test>", "503 5\\.5\\.1 ")
		ehlo := c.cmd("EHLO town.test", "250-mx\\.hill\\.test ")
		if strings.Contains(ehlo, "STARTTLS") {
			t.Errorf("STARTTLS offered over TLS:\n%s", ehlo)
		}
		c.cmd("RCPT TO:<jill@hill.test>", "503 5\\.5\\.1 ")
		c.cmd("DATA", "503 5\\.5\\.1 ")
		c.cmd("STARTTLS", "503 5\\.5\\.1 ")
		c.cmd("QUIT", "221 ")
	}
}

// TestHTTPRefusedAfterSTARTTLS: the guard reads the commands over TLS as
// in clear: an HTTP request line after STARTTLS ends the session with
// 554 5.7.0 and nothing of its body is run.
func TestHTTPRefusedAfterSTARTTLS(t *testing.T) {
	for _, role := range []Role{RoleMX, RoleSubmission} {
		env := newTestEnv(t, testOpts{role: role})
		c := startTLS(t, env.addr, "")
		c.send(httpPost("bob@hill.test"))
		c.expect(`554 5\.7\.0 `)
		if r, err := c.reply(); err == nil {
			t.Errorf("session goes on: %q", r)
		}
		if n := len(env.inbox(t, "bob@hill.test")); n != 0 {
			t.Errorf("bob has %d messages", n)
		}
		if !strings.Contains(env.mailLog.String(), `reason="HTTP command"`) {
			t.Errorf("mail log: %s", env.mailLog)
		}
	}
}

// TestSTARTTLSDiscardsPipelinedInput: commands sent in clear behind
// STARTTLS, before the handshake, are dropped, never run as if they came
// over TLS (RFC 3207 §4; the STARTTLS command injection of CVE-2011-0411).
func TestSTARTTLSDiscardsPipelinedInput(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := startTLS(t, env.addr, "EHLO evil.test\r\nMAIL FROM:<evil@town.test>\r\n")
	// Had the injected lines run, MAIL would now be a nested 503.
	c.cmd("NOOP", "250 2\\.0\\.0 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.cmd("QUIT", "221 ")
}
