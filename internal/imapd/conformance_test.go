package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"pail/internal/auth"
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

// TestOversizeLiterals: a synchronizing literal over the bound is
// refused at once (BAD [TOOBIG], or NO [TOOBIG] for an APPEND message,
// RFC 7889) and the session goes on, since the client never sends it
// (RFC 9051 §7.5); a non-synchronizing one too big to skip gets BAD and
// BYE and the connection closes (RFC 7888 §4); the server goes on
// accepting. Before login the bound is small; after it, APPEND's is the
// message size limit and others' the command bound.
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
				want   string
				closes bool
			}{
				{"login sync", false, "LOGIN {4000000000}", " BAD [TOOBIG]", false},
				{"login nonsync", false, "LOGIN {4000000000+}\r\nxxxxxxxx", " BAD ", true},
				{"login over prelogin bound", false, "LOGIN {9000}", " BAD [TOOBIG]", false},
				{"append before login", false, "APPEND INBOX {50}", " BAD ", false},
				{"append before login over the bound", false, "APPEND INBOX {50000}", " [TOOBIG]", false},
				{"select sync", true, "SELECT {100000}", " BAD [TOOBIG]", false},
				{"select nonsync", true, "SELECT {100000+}\r\n" + strings.Repeat("x", 100000), " BAD [TOOBIG]", false},
				{"select nonsync, too big to skip", true, "SELECT {10000000+}\r\nxxxx", " BAD ", true},
				{"second literal", true, "RENAME {5+}\r\nINBOX {4000000000}", " BAD [TOOBIG]", false},
				{"append nonsync over limit", true, "APPEND INBOX {4000000000+}\r\nxxxx", " [TOOBIG]", true},
				{"append sync over limit", true, "APPEND INBOX {4000000000}", "NO [TOOBIG]", false},
			}
			for _, c := range cases {
				r := tr.dial(t, e.addr)
				if c.login {
					login(r)
				}
				got := r.within(time.Second, c.cmd)
				last := got[len(got)-1]
				if !strings.Contains(last, c.want) {
					t.Errorf("%s: %q, want %q", c.name, got, c.want)
				}
				if c.closes {
					if bye, eof := r.closed(time.Second); !bye || !eof {
						t.Errorf("%s: BYE %v, closed %v", c.name, bye, eof)
					}
				} else {
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

// boundsHold fails unless literals are still bounded on r: a LOGIN
// literal of 4 GB gets BAD [TOOBIG] within a second, and the session goes
// on; a non-synchronizing one ends it with BYE.
func (r *raw) boundsHold(what string) {
	r.t.Helper()
	got := r.within(time.Second, "LOGIN {4000000000}")
	if !strings.Contains(got[len(got)-1], " BAD [TOOBIG]") {
		r.t.Errorf("%s: then LOGIN {4000000000}: %q", what, got)
	}
	got = r.within(time.Second, "LOGIN {4000000000+}")
	if !strings.Contains(got[len(got)-1], " BAD ") {
		r.t.Errorf("%s: then LOGIN {4000000000+}: %q", what, got)
	}
	if bye, eof := r.closed(time.Second); !bye || !eof {
		r.t.Errorf("%s: then LOGIN {4000000000+}: BYE %v, closed %v", what, bye, eof)
	}
}

// tlsClient begins TLS on r after the server's OK to STARTTLS.
func (r *raw) tlsClient() {
	r.t.Helper()
	tc := tls.Client(r.c, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	tc.SetDeadline(time.Time{})
	r.c, r.br = tc, bufio.NewReader(tc)
}

// TestContinuationLines: the line that answers AUTHENTICATE's
// continuation request has no tag and may be long (base64, "+"
// included); a literal announced at its end is no literal: the STARTTLS
// after it is a command, and the bounds hold in the TLS session.
func TestContinuationLines(t *testing.T) {
	e := newEnv(t, nil)
	const user, pass = "jack.and.jill.went.up.the.hill@hill.com", "to fetch a pail of water>>>"
	hash, _ := auth.HashPassword(pass)
	if _, err := e.st.AddAccount(context.Background(), user, hash, false); err != nil {
		t.Fatal(err)
	}
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if !strings.Contains(resp, "+") {
		t.Fatalf("the response should hold a \"+\": %q", resp)
	}
	r := dialRaw(t, e.addr)
	fmt.Fprintf(r.c, "a AUTHENTICATE PLAIN\r\n")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("AUTHENTICATE: %q", l)
	}
	fmt.Fprintf(r.c, "%s\r\n", resp)
	if l := r.line(); !strings.HasPrefix(l, "a OK") {
		t.Fatalf("AUTHENTICATE response: %q", l)
	}
	if got := r.cmd("SELECT INBOX"); !strings.Contains(got[len(got)-1], "OK") {
		t.Errorf("SELECT after AUTHENTICATE: %q", got)
	}

	r = dialRaw(t, e.addr)
	hidden := "b STARTTLS\r\n"
	fmt.Fprintf(r.c, "a AUTHENTICATE PLAIN\r\n")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("AUTHENTICATE: %q", l)
	}
	fmt.Fprintf(r.c, "xxxx {%d}\r\n%s", len(hidden), hidden)
	if l := r.line(); !strings.HasPrefix(l, "a BAD") && !strings.HasPrefix(l, "a NO") {
		t.Fatalf("AUTHENTICATE response with a literal: %q", l)
	}
	if l := r.line(); !strings.HasPrefix(l, "b OK Begin TLS") {
		t.Fatalf("STARTTLS after it: %q", l)
	}
	r.tlsClient()
	r.boundsHold("STARTTLS after an AUTHENTICATE response with a literal")
}

// TestStartTLSReplyInMessageData: message data that holds the reply to
// STARTTLS (a body section of over 8 KiB) is passed on as data; the
// session's next command is still bounded.
func TestStartTLSReplyInMessageData(t *testing.T) {
	e := newEnv(t, nil)
	var body strings.Builder
	for body.Len() < 12<<10 {
		body.WriteString(strings.Repeat("x", 70) + "\r\n")
	}
	body.WriteString("a OK Begin TLS negotiation now\r\n")
	e.deliver(t, e.acct.ID, "INBOX", "From: <jack@town.com>\r\nSubject: tls\r\n\r\n"+body.String())
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	got := r.cmd("FETCH 1 (BODY.PEEK[TEXT])")
	if !strings.Contains(got[len(got)-1], "OK") || !slices.Contains(got, "a OK Begin TLS negotiation now") {
		t.Fatalf("FETCH: %.200q", got)
	}
	r.boundsHold("FETCH")
}

// TestKeywordsAnnounced: a keyword first used in a session, by it or by
// another session, is announced with FLAGS and OK [PERMANENTFLAGS] before
// any FETCH that shows it (RFC 9051 §7.3.5), and SELECT lists the
// keywords in use.
func TestKeywordsAnnounced(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "INBOX", testMsg)
	a, b := dialRaw(t, e.addr), dialRaw(t, e.addr)
	for _, r := range []*raw{a, b} {
		r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
		r.cmd("SELECT INBOX")
	}
	announcedFirst := func(who string, got []string, kw string) {
		t.Helper()
		flags, perm, fetch := -1, -1, -1
		for i, l := range got {
			switch {
			case strings.HasPrefix(l, "* FLAGS ") && strings.Contains(l, kw):
				flags = i
			case strings.HasPrefix(l, "* OK [PERMANENTFLAGS ") && strings.Contains(l, kw) && strings.Contains(l, `\*`):
				perm = i
			case strings.Contains(l, " FETCH ") && strings.Contains(l, kw):
				fetch = i
			}
		}
		if flags < 0 || perm < 0 || fetch < 0 || flags > fetch || perm > fetch {
			t.Errorf("%s: %q", who, got)
		}
	}
	announcedFirst("the session that stores it", a.cmd("STORE 1 +FLAGS ($Pail)"), "$Pail")
	announcedFirst("another session", b.cmd("NOOP"), "$Pail")
	if got := b.cmd("FETCH 1 FLAGS"); strings.HasPrefix(got[0], "* FLAGS") {
		t.Errorf("announced twice: %q", got)
	}
	c := dialRaw(t, e.addr)
	c.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	if got := c.cmd("SELECT INBOX"); !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "* FLAGS ") && strings.Contains(l, "$Pail") }) {
		t.Errorf("SELECT: %q", got)
	}
}
