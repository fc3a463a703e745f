package pop3d

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestSTLS upgrades a connection from a client that may not send passwords
// in the clear (RFC 2595): only after STLS are USER and SASL PLAIN offered.
func TestSTLS(t *testing.T) {
	env := newTestEnv(t, testOpts{remote: true})
	c := dial(t, env.addr)
	c.expect(`\+OK.*`)
	c.cmd("CAPA", `\+OK.*`)
	if caps := c.multi(); !strings.Contains(caps, "STLS\r\n") || strings.Contains(caps, "USER") {
		t.Fatalf("CAPA before TLS: %q", caps)
	}
	c.cmd("USER "+testUser, `-ERR Plaintext authentication disallowed.*`)
	c.cmd("STLS", `\+OK Begin TLS negotiation`)
	c.startTLS()
	c.cmd("CAPA", `\+OK.*`)
	caps := c.multi()
	if strings.Contains(caps, "STLS") || !strings.Contains(caps, "USER\r\n") || !strings.Contains(caps, "SASL PLAIN\r\n") {
		t.Fatalf("CAPA under TLS: %q", caps)
	}
	c.cmd("STLS", `-ERR STLS not available`)
	c.cmd("USER "+testUser, `\+OK.*`)
	c.cmd("PASS "+testPassword, `\+OK Logged in, 3 messages \(157 octets\)`)
	c.cmd("RETR 1", `\+OK 71 octets`)
	if got := c.multi(); got != fixture[0] {
		t.Fatalf("RETR 1 over TLS: %q", got)
	}
	c.cmd("QUIT", `\+OK.*`)
}

// TestSTLSWithPipelinedCommandsRefused: commands sent in the clear behind
// STLS must not run as if they came over TLS (CVE-2011-0411).
func TestSTLSWithPipelinedCommandsRefused(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect(`\+OK.*`)
	c.send("STLS\r\nUSER " + testUser + "\r\n")
	c.expect(`-ERR STLS must be the last command.*`)
	c.expect(`\+OK.*`) // USER, answered in the clear
}

// TestSTLSForgetsUser: RFC 2595 §4 has the server discard what the client
// said before the handshake.
func TestSTLSForgetsUser(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect(`\+OK.*`)
	c.cmd("USER "+testUser, `\+OK.*`)
	c.cmd("STLS", `\+OK.*`)
	c.startTLS()
	c.cmd("PASS "+testPassword, `-ERR Send USER first`)
}

func TestImplicitTLS(t *testing.T) {
	env := newTestEnv(t, testOpts{implicitTLS: true, remote: true})
	c := dialTLS(t, env.addr)
	c.expect(`\+OK mx\.hill\.test POP3 server ready`)
	c.cmd("CAPA", `\+OK.*`)
	if caps := c.multi(); strings.Contains(caps, "STLS") || !strings.Contains(caps, "SASL PLAIN\r\n") {
		t.Fatalf("CAPA on pop3s: %q", caps)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	c.cmd("AUTH PLAIN "+ir, `\+OK Logged in, 3 messages \(157 octets\)`)
	c.cmd("TOP 2 1", `\+OK.*`)
	if got := c.multi(); got != "Subject: dots\r\n\r\n.\r\n" {
		t.Fatalf("TOP 2 1: %q", got)
	}
	c.cmd("QUIT", `\+OK.*`)

	// A client that does not speak TLS is dropped; the server carries on.
	p := dial(t, env.addr)
	p.send("USER " + testUser + "\r\n")
	p.expectEOF()
	c = dialTLS(t, env.addr)
	c.expect(`\+OK.*`)
}
