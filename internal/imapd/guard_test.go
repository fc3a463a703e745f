package imapd

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// transports are the ways a client reaches the IMAP service: plaintext
// from loopback, STARTTLS from elsewhere, and implicit TLS.
var transports = []struct {
	name   string
	modify func(*Config, *Server)
	dial   func(t testing.TB, addr string) *raw
}{
	{"loopback", nil, dialRaw},
	{"starttls", untrusted, func(t testing.TB, addr string) *raw { r := dialRaw(t, addr); startTLS(t, r); return r }},
	{"imaps", func(c *Config, s *Server) { c.ImplicitTLS = true; untrusted(c, s) }, dialRawTLS},
}

func dialRawTLS(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	r.line() // greeting
	return r
}

// within runs r.cmd and fails unless the reply comes within d.
func (r *raw) within(d time.Duration, line string) []string {
	r.t.Helper()
	start := time.Now()
	got := r.cmd(line)
	if el := time.Since(start); el > d {
		r.t.Errorf("%q: reply after %v", line, el)
	}
	return got
}

// closed reports whether the server ends the connection (after a BYE)
// within d.
func (r *raw) closed(d time.Duration) (bye bool, eof bool) {
	r.c.SetReadDeadline(time.Now().Add(d))
	for {
		l, err := r.br.ReadString('\n')
		if strings.HasPrefix(l, "* BYE") {
			bye = true
		}
		if err != nil {
			return bye, errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")
		}
	}
}

// TestBadMailboxNames: a mailbox name that is not modified UTF-7 ("a&b")
// or holds a NUL gets a tagged BAD or NO at once, never NO [SERVERBUG], on
// every command that takes one, and the session goes on.
func TestBadMailboxNames(t *testing.T) {
	cmds := []string{
		"CREATE %s", "DELETE %s", "RENAME %s Other", "RENAME INBOX %s", "SUBSCRIBE %s", "UNSUBSCRIBE %s",
		"STATUS %s (MESSAGES)", `LIST "" %s`, `LIST %s "*"`, `LSUB "" %s`, "APPEND %s {3+}\r\nabc",
		"COPY 1 %s", "MOVE 1 %s", "UID COPY 1 %s", "EXAMINE %s", "SELECT %s",
	}
	names := []string{`"a&b"`, "a&b", "{3+}\r\na\x00b", "{3}\r\na\x00b", `"a&Jjo"`, "\"\xff\xfe\""}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, tr.modify)
			r := tr.dial(t, e.addr)
			if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(got[len(got)-1], "OK") {
				t.Fatalf("LOGIN: %q", got)
			}
			r.cmd("APPEND INBOX {3+}\r\nabc")
			for _, c := range cmds {
				for _, n := range names {
					r.cmd("SELECT INBOX")
					line := fmt.Sprintf(c, n)
					got := r.within(2*time.Second, line)
					last := got[len(got)-1]
					if strings.Contains(last, "SERVERBUG") || (!strings.Contains(last, " BAD ") && !strings.Contains(last, " NO ")) {
						t.Errorf("%q: %q", line, got)
					}
					if got := r.cmd("NOOP"); !strings.Contains(got[len(got)-1], "OK") {
						t.Fatalf("after %q: NOOP %q", line, got)
					}
				}
			}
		})
	}
}

// TestOversizeLiterals: a literal over the bound, synchronizing or not
// (RFC 7888), gets BAD and BYE at once and the connection closes; the
// server goes on accepting. Before login the bound is small; after it,
// APPEND's is the message size limit and others' the command bound.
func TestOversizeLiterals(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config, s *Server) {
				c.MaxMessageBytes = 100 << 10
				if tr.modify != nil {
					tr.modify(c, s)
				}
			})
			login := func(r *raw) {
				if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(got[len(got)-1], "OK") {
					t.Fatalf("LOGIN: %q", got)
				}
			}
			cases := []struct {
				name   string
				login  bool
				cmd    string
				closes bool
			}{
				{"login sync", false, "LOGIN {4000000000}", true},
				{"login nonsync", false, "LOGIN {4000000000+}\r\nxxxxxxxx", true},
				{"login over prelogin bound", false, "LOGIN {9000}", true},
				{"append before login", false, "APPEND INBOX {50000}", true},
				{"select sync", true, "SELECT {100000}", true},
				{"select nonsync", true, "SELECT {100000+}\r\nxxxx", true},
				{"second literal", true, "RENAME {5+}\r\nINBOX {4000000000}", true},
				{"append nonsync over limit", true, "APPEND INBOX {4000000000+}\r\nxxxx", true},
				{"append sync over limit", true, "APPEND INBOX {4000000000}", false},
			}
			for _, c := range cases {
				r := tr.dial(t, e.addr)
				if c.login {
					login(r)
				}
				got := r.within(time.Second, c.cmd)
				last := got[len(got)-1]
				if c.closes {
					if !strings.Contains(last, " BAD ") {
						t.Errorf("%s: %q", c.name, got)
					}
					if bye, eof := r.closed(time.Second); !bye || !eof {
						t.Errorf("%s: BYE %v, closed %v", c.name, bye, eof)
					}
				} else {
					if !strings.Contains(last, "NO [TOOBIG]") {
						t.Errorf("%s: %q", c.name, got)
					}
					if got := r.cmd("NOOP"); !strings.Contains(got[len(got)-1], "OK") {
						t.Errorf("%s: NOOP after: %q", c.name, got)
					}
				}
				r.c.Close()
			}
			// The server goes on: a new session logs in and appends a
			// message as big as the limit allows.
			r := tr.dial(t, e.addr)
			login(r)
			msg := strings.Repeat("x", 100<<10-2) + "\r\n"
			if got := r.cmd("APPEND INBOX {" + fmt.Sprint(len(msg)) + "+}\r\n" + msg); !strings.Contains(got[len(got)-1], "OK") {
				t.Errorf("APPEND at the limit: %q", got)
			}
			if got := r.cmd("LIST \"\" {1+}\r\n*"); !strings.Contains(got[len(got)-1], "OK") {
				t.Errorf("LIST with a literal: %q", got)
			}
		})
	}
}

// TestStartTLSDropsCleartextAfterIt: commands sent in cleartext behind
// STARTTLS are not run inside the TLS session (the STARTTLS injection of
// CVE-2011-0411), and the session after it offers AUTH, not STARTTLS.
func TestStartTLSDropsCleartextAfterIt(t *testing.T) {
	e := newEnv(t, untrusted)
	r := dialRaw(t, e.addr)
	r.n++
	fmt.Fprintf(r.c, "t%d STARTTLS\r\ninj NOOP\r\n", r.n)
	if l := r.line(); !strings.HasPrefix(l, fmt.Sprintf("t%d OK", r.n)) {
		t.Fatalf("STARTTLS: %q", l)
	}
	tc := tls.Client(r.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.c, r.br = tc, bufio.NewReader(tc)
	got := r.cmd("CAPABILITY")
	for _, l := range got {
		if strings.HasPrefix(l, "inj ") {
			t.Errorf("injected command ran: %q", got)
		}
	}
	if !strings.Contains(got[0], "AUTH=PLAIN") || strings.Contains(got[0], "STARTTLS") || strings.Contains(got[0], "LOGINDISABLED") {
		t.Errorf("CAPABILITY after TLS: %q", got)
	}
	if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(got[len(got)-1], "OK") {
		t.Errorf("LOGIN: %q", got)
	}
}
