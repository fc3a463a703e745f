package imapengine

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStates: the greeting carries the capabilities; each command runs
// only in its states (RFC 9051 §3, §6), anything else is BAD and the
// session goes on; LOGOUT says BYE, then OK, and closes.
func TestStates(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	if !strings.HasPrefix(c.greeting, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN ") || !strings.Contains(c.greeting, "UIDPLUS") {
		t.Errorf("greeting %q", c.greeting)
	}
	for _, cmd := range []string{"SELECT INBOX", "FETCH 1 FLAGS", "ENABLE IMAP4rev2", "IDLE", "CLOSE", "APPEND INBOX {3+}\r\nabc"} {
		if got := last(c.cmd(cmd)); !strings.Contains(got, " BAD ") {
			t.Errorf("%q before login: %q", cmd, got)
		}
	}
	c.login()
	for _, cmd := range []string{"LOGIN bob secret", "FETCH 1 FLAGS", "CLOSE", "EXPUNGE", "UID SEARCH ALL", "STARTTLS"} {
		if got := last(c.cmd(cmd)); !strings.Contains(got, " BAD ") {
			t.Errorf("%q in the authenticated state: %q", cmd, got)
		}
	}
	if got := c.cmd("SELECT INBOX"); !strings.Contains(last(got), "OK [READ-WRITE]") || got[1] != "* 3 EXISTS" {
		t.Errorf("SELECT: %q", got)
	}
	if got := last(c.cmd("ENABLE IMAP4rev2")); !strings.Contains(got, " BAD ") {
		t.Errorf("ENABLE while selected: %q", got)
	}
	if got := c.cmd("EXAMINE Empty"); !strings.HasPrefix(got[0], "* OK [CLOSED]") || !strings.Contains(last(got), "OK [READ-ONLY]") {
		t.Errorf("EXAMINE while selected: %q", got)
	}
	if got := c.cmd("UNSELECT"); !strings.Contains(last(got), "OK") {
		t.Errorf("UNSELECT: %q", got)
	}
	if got := last(c.cmd("FETCH 1 FLAGS")); !strings.Contains(got, " BAD ") {
		t.Errorf("FETCH after UNSELECT: %q", got)
	}
	if got := c.cmd("NAMESPACE"); got[0] != `* NAMESPACE (("" "/")) NIL NIL` {
		t.Errorf("NAMESPACE: %q", got)
	}
	if got := c.cmd("ID NIL"); got[0] != `* ID ("name" "pail")` {
		t.Errorf("ID: %q", got)
	}
	got := c.cmd("LOGOUT")
	if len(got) != 2 || !strings.HasPrefix(got[0], "* BYE") || !strings.Contains(got[1], "OK") {
		t.Errorf("LOGOUT: %q", got)
	}
	if _, eof := c.closed(time.Second); !eof {
		t.Error("connection not closed after LOGOUT")
	}
}

// TestLoginPolicy: from an address that is not trusted, no login before
// TLS (LOGINDISABLED, NO [PRIVACYREQUIRED]); STARTTLS drops what the
// client sent after it in cleartext (CVE-2011-0411) and then LOGIN works;
// a wrong password is NO [AUTHENTICATIONFAILED].
func TestLoginPolicy(t *testing.T) {
	e := newEnv(t, false, nil)
	c := dial(t, e.addr)
	if !strings.Contains(c.greeting, "LOGINDISABLED") || strings.Contains(c.greeting, "AUTH=PLAIN") {
		t.Errorf("greeting %q", c.greeting)
	}
	if got := last(c.cmd("LOGIN bob secret")); !strings.Contains(got, "NO [PRIVACYREQUIRED]") {
		t.Errorf("cleartext LOGIN: %q", got)
	}
	if got := last(c.cmd("AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00bob\x00secret")))); !strings.Contains(got, "NO [PRIVACYREQUIRED]") {
		t.Errorf("cleartext AUTHENTICATE: %q", got)
	}
	c.n++
	c.send(fmt.Sprintf("t%d STARTTLS\r\ninj LOGIN bob secret\r\n", c.n))
	if l := c.line(); !strings.HasPrefix(l, fmt.Sprintf("t%d OK", c.n)) {
		t.Fatalf("STARTTLS: %q", l)
	}
	c.n--
	c.startTLSAfterOK()
	got := c.cmd("CAPABILITY")
	for _, l := range got {
		if strings.HasPrefix(l, "inj ") {
			t.Errorf("injected command ran: %q", got)
		}
	}
	if !strings.Contains(got[0], "AUTH=PLAIN") || strings.Contains(got[0], "STARTTLS") || strings.Contains(got[0], "LOGINDISABLED") {
		t.Errorf("CAPABILITY over TLS: %q", got)
	}
	if got := last(c.cmd("LOGIN bob wrong")); !strings.Contains(got, "NO [AUTHENTICATIONFAILED]") {
		t.Errorf("wrong password: %q", got)
	}
	if got := last(c.cmd("LOGIN bob secret")); !strings.Contains(got, "OK [CAPABILITY ") {
		t.Errorf("LOGIN over TLS: %q", got)
	}
}

// TestAuthenticatePlain: AUTHENTICATE PLAIN with SASL-IR (RFC 4959) and
// with the response after "+", and the client's "*" cancelling it.
func TestAuthenticatePlain(t *testing.T) {
	e := newEnv(t, true, nil)
	resp := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00secret"))
	c := dial(t, e.addr)
	if got := last(c.cmd("AUTHENTICATE PLAIN " + resp)); !strings.Contains(got, "OK") {
		t.Errorf("SASL-IR: %q", got)
	}
	c = dial(t, e.addr)
	c.send("a AUTHENTICATE PLAIN\r\n")
	if l := c.line(); l != "+ " && l != "+" {
		t.Fatalf("continuation: %q", l)
	}
	c.send("*\r\n")
	if got := c.until("a"); !strings.HasPrefix(last(got), "a BAD") {
		t.Errorf("cancelled: %q", got)
	}
	c.send("b AUTHENTICATE PLAIN\r\n")
	c.line()
	c.send(resp + "\r\n")
	if got := c.until("b"); !strings.HasPrefix(last(got), "b OK") {
		t.Errorf("after +: %q", got)
	}
}

// TestBadInput: malformed commands get BAD (a bad mailbox name NO with
// the reason, never SERVERBUG) and the session goes on; maxBadCommands
// in a row end it with BYE.
func TestBadInput(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	c.login()
	for _, bad := range []string{"FROBNICATE", "SELECT", "UID FETCH x FLAGS", "SEARCH FOO BAR", "SORT (DATE) UTF-8 ALL", "NOOP extra"} {
		if got := last(c.cmd(bad)); !strings.Contains(got, " BAD ") {
			t.Errorf("%q: %q", bad, got)
		}
	}
	// Not modified UTF-7 (RFC 3501 §5.1.3): NO, the name's content is
	// refused, and so is a NUL in a literal name (issue 16: NO with a
	// reason). 8-bit bytes in a quoted string break the grammar itself
	// (RFC 9051 §9 QUOTED-CHAR): BAD.
	for name, want := range map[string]string{`"a&b"`: " NO ", `"a&Jjo"`: " NO ", "{3+}\r\na\x00b": " NO ", "\"\xff\xfe\"": " BAD "} {
		got := last(c.cmd("SELECT " + name))
		if !strings.Contains(got, want) || strings.Contains(got, "SERVERBUG") || len(got) < 16 {
			t.Errorf("SELECT %q: %q, want%s with a reason", name, got, want)
		}
	}
	if got := last(c.cmd("NOOP")); !strings.Contains(got, "OK") {
		t.Fatalf("session did not go on: %q", got)
	}
	for i := 0; i < maxBadCommands-1; i++ {
		c.cmd("FROBNICATE")
	}
	c.send("x FROBNICATE\r\n")
	if bye, eof := c.closed(2 * time.Second); !bye || !eof {
		t.Errorf("flood of bad commands: BYE %v, closed %v", bye, eof)
	}
}

// TestLiteralsAnsweredAtOnce: whatever the command, a synchronizing
// literal gets "+" or its refusal at once (RFC 9051 §7.5), so the client
// never waits: one larger than go-imap's 4096-byte bound after login, one
// over the bound before login, one on a command the state does not take.
// A non-synchronizing literal too big to skip ends the session.
func TestLiteralsAnsweredAtOnce(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	for _, cmd := range []string{"LOGIN {9000}", "APPEND INBOX {50}", "SELECT {3}"} {
		c.n++
		tag := fmt.Sprintf("t%d", c.n)
		start := time.Now()
		c.send(tag + " " + cmd + "\r\n")
		got := c.until(tag)
		if !strings.Contains(last(got), " BAD ") || time.Since(start) > time.Second {
			t.Errorf("%q before login: %q after %v", cmd, got, time.Since(start))
		}
	}
	c.login()
	name := strings.Repeat("x", 5000)
	c.send(fmt.Sprintf("a LIST \"\" {%d}\r\n", len(name)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("LIST with a 5000-byte literal: %q", l)
	}
	c.send(name + "\r\n")
	if got := c.until("a"); !strings.HasPrefix(last(got), "a OK") {
		t.Errorf("LIST: %q", got)
	}
	c.send("b APPEND INBOX {4000000000}\r\n")
	if got := c.until("b"); !strings.Contains(last(got), "NO [TOOBIG]") {
		t.Errorf("APPEND over the limit: %q", got)
	}
	c.send("c APPEND INBOX (\\Seen) {5}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND: %q", l)
	}
	c.send("hello\r\n")
	if got := c.until("c"); !strings.HasPrefix(last(got), "c OK [APPENDUID 1 4]") {
		t.Errorf("APPEND: %q", got)
	}
	c.send("d SELECT {4000000000+}\r\nxxxx")
	got := c.until("d")
	if !strings.Contains(last(got), " BAD ") {
		t.Errorf("huge non-synchronizing literal: %q", got)
	}
	if bye, eof := c.closed(time.Second); !bye || !eof {
		t.Errorf("huge non-synchronizing literal: BYE %v, closed %v", bye, eof)
	}
}

// TestListDelimiter: LIST "" "" answers the hierarchy delimiter and the
// root (RFC 9051 §6.3.9).
func TestListDelimiter(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	c.login()
	got := c.cmd(`LIST "" ""`)
	if len(got) != 2 || got[0] != `* LIST (\Noselect) "/" ""` {
		t.Errorf("LIST \"\" \"\": %q", got)
	}
}

// TestSequenceNumbersPastTheEnd: a message sequence number over the
// number of messages, or "*" in an empty mailbox, is BAD (RFC 9051 §9);
// UIDs may name anything.
func TestSequenceNumbersPastTheEnd(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	c.login()
	c.cmd("SELECT INBOX")
	if got := c.cmd("FETCH 1:3 UID"); len(got) != 4 || !strings.Contains(last(got), "OK") {
		t.Errorf("FETCH 1:3: %q", got)
	}
	for _, cmd := range []string{"FETCH 4 UID", "FETCH 2:5 UID", "STORE 9 +FLAGS (\\Seen)", "COPY 1,7 Empty", "MOVE 4:* Empty"} {
		if got := last(c.cmd(cmd)); !strings.Contains(got, " BAD ") {
			t.Errorf("%q: %q", cmd, got)
		}
	}
	if got := c.cmd("UID FETCH 1:99 UID"); len(got) != 4 || !strings.Contains(last(got), "OK") {
		t.Errorf("UID FETCH 1:99: %q", got)
	}
	c.cmd("SELECT Empty")
	if got := last(c.cmd("FETCH * UID")); !strings.Contains(got, " BAD ") {
		t.Errorf("FETCH * in an empty mailbox: %q", got)
	}
	if got := last(c.cmd("UID FETCH * UID")); !strings.Contains(got, "OK") {
		t.Errorf("UID FETCH * in an empty mailbox: %q", got)
	}
}

// TestIdle: IDLE reports new mail as the backend signals it, holding no
// read or write buffer while it waits, and DONE ends it; updates also
// come after an ordinary command.
func TestIdle(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	c.login()
	c.cmd("SELECT INBOX")
	c.send("i IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	// Give the session time to settle in its wait.
	time.Sleep(50 * time.Millisecond)
	e.srv.mu.Lock()
	for conn := range e.srv.conns {
		if n := conn.held.Load(); n != 0 {
			t.Errorf("%d buffers held in IDLE", n)
		}
	}
	e.srv.mu.Unlock()
	e.b.deliver()
	if l := c.line(); l != "* 4 EXISTS" {
		t.Errorf("update in IDLE: %q", l)
	}
	c.send("DONE\r\n")
	if got := c.until("i"); !strings.HasPrefix(last(got), "i OK") {
		t.Errorf("DONE: %q", got)
	}
	e.b.deliver()
	if got := c.cmd("NOOP"); len(got) != 2 || got[0] != "* 5 EXISTS" {
		t.Errorf("NOOP after delivery: %q", got)
	}
}

// TestShutdown: Shutdown tells idle sessions and sessions in IDLE BYE and
// closes them; a connection after it gets BYE at once.
func TestShutdown(t *testing.T) {
	e := newEnv(t, true, nil)
	a := dial(t, e.addr)
	a.login()
	b := dial(t, e.addr)
	b.login()
	b.cmd("SELECT INBOX")
	b.send("i IDLE\r\n")
	b.line()
	done := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	for _, c := range []*client{a, b} {
		if bye, eof := c.closed(2 * time.Second); !bye || !eof {
			t.Errorf("shutdown: BYE %v, closed %v", bye, eof)
		}
	}
	<-done
	if e.srv.Connections() != 0 {
		t.Errorf("%d connections left", e.srv.Connections())
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if e.b.sessions != 0 {
		t.Errorf("%d sessions not logged out", e.b.sessions)
	}
}

// TestEnableIMAP4rev2: ENABLE IMAP4rev2 answers ENABLED once, and the
// Session sees it.
func TestEnableIMAP4rev2(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	c.login()
	if got := c.cmd("ENABLE IMAP4rev2 CONDSTORE"); got[0] != "* ENABLED IMAP4rev2" {
		t.Errorf("ENABLE: %q", got)
	}
	if got := c.cmd("ENABLE IMAP4rev2"); got[0] != "* ENABLED" {
		t.Errorf("ENABLE again: %q", got)
	}
	if got := c.cmd("SELECT INBOX"); !strings.Contains(got[0], "IMAP4rev2") {
		t.Errorf("IMAP4rev2 not seen by the session: %q", got)
	}
}

// TestPipelinedCommands: commands sent together are answered in order,
// in one batch.
func TestPipelinedCommands(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	c.send("a LOGIN bob secret\r\nb SELECT INBOX\r\nc FETCH 2 UID\r\nd NOOP\r\n")
	for _, tag := range []string{"a", "b", "c", "d"} {
		if got := c.until(tag); !strings.HasPrefix(last(got), tag+" OK") {
			t.Errorf("%s: %q", tag, got)
		}
	}
}
