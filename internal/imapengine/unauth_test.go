package imapengine

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink written by the server and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestID: ID works in every state (RFC 2971 §3.1), answers the server's
// name, takes NIL, keeps the client's fields case-insensitively (§3.3)
// and logs them, and refuses more than 30 pairs (§3.3) with BAD.
func TestID(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, true, func(c *Config) { c.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	c := dial(t, e.addr)
	got := c.cmd(`ID ("NAME" "Thunderbird" "Version" "128.0" "os" NIL)`)
	if len(got) != 2 || !strings.HasPrefix(got[0], `* ID ("name" "pail"`) || !strings.Contains(last(got), "OK") {
		t.Errorf("ID: %q", got)
	}
	if l := logs.String(); !strings.Contains(l, "name=Thunderbird") || !strings.Contains(l, "version=128.0") {
		t.Errorf("log: %q", l)
	}
	if got := c.cmd("ID NIL"); len(got) != 2 || !strings.Contains(last(got), "OK") {
		t.Errorf("ID NIL: %q", got)
	}
	c.login()
	if got := c.cmd(`ID ("name" "again")`); len(got) != 2 || !strings.Contains(last(got), "OK") {
		t.Errorf("ID after login: %q", got)
	}
	var many strings.Builder
	many.WriteString("ID (")
	for i := range 31 {
		if i > 0 {
			many.WriteString(" ")
		}
		many.WriteString(`"f" "v"`)
	}
	many.WriteString(")")
	if got := last(c.cmd(many.String())); !strings.Contains(got, " BAD ") {
		t.Errorf("31 pairs: %q", got)
	}
}

// TestUnauthenticate: UNAUTHENTICATE (RFC 8437) is advertised after
// login, closes the selected mailbox, ends the session and returns to
// the not-authenticated state, with ENABLE undone; the client can log in
// again on the same connection. Before login it is BAD.
func TestUnauthenticate(t *testing.T) {
	e := newEnv(t, true, nil)
	c := dial(t, e.addr)
	if strings.Contains(c.greeting, "UNAUTHENTICATE") {
		t.Errorf("advertised before login: %q", c.greeting)
	}
	if got := last(c.cmd("UNAUTHENTICATE")); !strings.Contains(got, " BAD ") {
		t.Errorf("before login: %q", got)
	}
	c.login()
	if got := c.cmd("CAPABILITY"); !strings.Contains(got[0], " UNAUTHENTICATE") {
		t.Errorf("not advertised after login: %q", got)
	}
	for _, l := range []string{"ENABLE IMAP4rev2", "SELECT INBOX", "UNAUTHENTICATE"} {
		if got := last(c.cmd(l)); !strings.Contains(got, " OK ") {
			t.Fatalf("%s: %q", l, got)
		}
	}
	e.b.mu.Lock()
	n := e.b.sessions
	e.b.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions left open", n)
	}
	if got := last(c.cmd("FETCH 1 FLAGS")); !strings.Contains(got, " BAD ") {
		t.Errorf("FETCH after UNAUTHENTICATE: %q", got)
	}
	if got := last(c.cmd("LIST \"\" *")); !strings.Contains(got, " BAD ") {
		t.Errorf("LIST after UNAUTHENTICATE: %q", got)
	}
	if got := c.cmd("CAPABILITY"); !strings.Contains(got[0], "AUTH=PLAIN") || strings.Contains(got[0], "UNAUTHENTICATE") {
		t.Errorf("CAPABILITY after UNAUTHENTICATE: %q", got)
	}
	c.login()
	// ENABLE IMAP4rev2 was undone: it can be enabled anew.
	if got := c.cmd("ENABLE IMAP4rev2"); !strings.HasPrefix(got[0], "* ENABLED IMAP4rev2") {
		t.Errorf("ENABLE after a new login: %q", got)
	}
}
