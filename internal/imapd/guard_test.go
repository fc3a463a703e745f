package imapd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

// refusedAtOnce fails unless the server's first reply is an untagged BAD
// with a response code, then BYE, and the connection closes within a
// second.
func (r *raw) refusedAtOnce(what string) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(time.Second))
	l, err := r.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "* BAD [") {
		r.t.Errorf("%s: got %q, %v; want * BAD", what, l, err)
		return
	}
	if bye, eof := r.closed(time.Second); !bye || !eof {
		r.t.Errorf("%s: BYE %v, closed %v", what, bye, eof)
	}
}

// boundsHold fails unless the guard still bounds literals on r: a
// LOGIN literal of 4 GB gets BAD and BYE within a second, and the
// connection closes.
func (r *raw) boundsHold(what string) {
	r.t.Helper()
	got := r.within(time.Second, "LOGIN {4000000000}")
	if !strings.Contains(got[len(got)-1], " BAD ") {
		r.t.Errorf("%s: then LOGIN {4000000000}: %q", what, got)
	}
	if bye, eof := r.closed(time.Second); !bye || !eof {
		r.t.Errorf("%s: then LOGIN {4000000000}: BYE %v, closed %v", what, bye, eof)
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

// TestTagsTheGuardFollows: a tag the guard could not follow (longer than
// maxTag, which pushed STARTTLS or a literal out of what the guard reads,
// or "+" and "*", which no reply matches) is refused at once, before and
// after login, so no STARTTLS and no command hidden in a literal reaches
// go-imap unseen. A tag of maxTag bytes works, STARTTLS too, and the
// bounds hold in the TLS session after it.
func TestTagsTheGuardFollows(t *testing.T) {
	long := strings.Repeat("X", 100)
	hidden := "b STARTTLS\r\n"
	lines := []string{
		long + " STARTTLS\r\n",
		strings.Repeat("X", 88) + " STARTTLS\r\n",
		long + fmt.Sprintf(" CAPABILITY {%d}\r\n", len(hidden)) + hidden,
		long + fmt.Sprintf(" CAPABILITY {%d+}\r\n", len(hidden)) + hidden,
		"+ STARTTLS\r\n",
		"* STARTTLS\r\n",
		fmt.Sprintf("+ CAPABILITY {%d}\r\n", len(hidden)) + hidden,
		"a(b STARTTLS\r\n",
		" STARTTLS\r\n",
	}
	for _, tr := range transports[:2] { // the cleartext ones, where STARTTLS is offered
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, tr.modify)
			for _, l := range lines {
				r := dialRaw(t, e.addr)
				fmt.Fprint(r.c, l)
				r.refusedAtOnce(fmt.Sprintf("%.40q", l))
			}
			r := dialRaw(t, e.addr)
			tag := strings.Repeat("T", maxTag)
			fmt.Fprintf(r.c, "%s NOOP\r\n%s STARTTLS\r\n", tag, tag)
			for _, want := range []string{tag + " OK NOOP", tag + " OK Begin TLS"} {
				if l := r.line(); !strings.HasPrefix(l, want) {
					t.Fatalf("%d-byte tag: %q, want %q", maxTag, l, want)
				}
			}
			r.tlsClient()
			r.boundsHold("STARTTLS with a 64-byte tag")
		})
	}
	// After login, over TLS too.
	for _, tr := range transports {
		t.Run(tr.name+" logged in", func(t *testing.T) {
			e := newEnv(t, tr.modify)
			r := tr.dial(t, e.addr)
			if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(got[len(got)-1], "OK") {
				t.Fatalf("LOGIN: %q", got)
			}
			fmt.Fprintf(r.c, "%s SELECT {%d}\r\n%s", long, len("c SELECT {100000}\r\n"), "c SELECT {100000}\r\n")
			r.refusedAtOnce("long tag after login")
		})
	}
}

// TestContinuationLines: the line that answers AUTHENTICATE's
// continuation request has no tag and may be longer than one (base64,
// "+" included); a literal announced at its end cannot hide a command
// from the guard: the STARTTLS after it is the guard's, and the bounds
// hold in the TLS session.
func TestContinuationLines(t *testing.T) {
	e := newEnv(t, nil)
	const user, pass = "jack.and.jill.went.up.the.hill@hill.com", "to fetch a pail of water>>>"
	hash, _ := auth.HashPassword(pass)
	if _, err := e.st.AddAccount(context.Background(), user, hash, false); err != nil {
		t.Fatal(err)
	}
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if len(resp) <= maxTag || !strings.Contains(resp, "+") {
		t.Fatalf("the response should not pass as a tag: %q", resp)
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

// TestStartTLSReplyInMessageData: message data that ends a write with
// go-imap's reply to STARTTLS (a body section of over 8 KiB, written
// past the library's 4 KiB buffer in one Write) is passed on as data;
// the guard still bounds the session's next command.
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
	got = r.within(time.Second, "SELECT {100000}")
	if !strings.Contains(got[len(got)-1], " BAD ") {
		t.Errorf("SELECT {100000}: %q", got)
	}
	if bye, eof := r.closed(time.Second); !bye || !eof {
		t.Errorf("SELECT {100000}: BYE %v, closed %v", bye, eof)
	}
}

// TestServerBugRewriteLogged: when the guard rewrites go-imap's NO
// [SERVERBUG], a warning names the connection and the command, and
// go-imap's own line with the cause is a warning too, so a server error
// behind the rewrite stays visible.
func TestServerBugRewriteLogged(t *testing.T) {
	logs := &lockedBuffer{b: &bytes.Buffer{}}
	e := newEnv(t, func(_ *Config, s *Server) {
		s.deps.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	if got := r.cmd(`CREATE "a&b"`); !strings.Contains(got[len(got)-1], "BAD [CLIENTBUG]") {
		t.Fatalf("CREATE: %q", got)
	}
	out := logs.String()
	for _, want := range []string{
		`level=WARN msg="go-imap answered NO [SERVERBUG], sent BAD [CLIENTBUG] instead" proto=imap client=127.0.0.1:`,
		`user=bob@hill.com command=CREATE`,
		`level=WARN msg=imapserver msg="handling CREATE command: `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestGuardWriteStartTLS: the guard ends the connection if go-imap ever
// answers OK to a STARTTLS the guard did not perform, and only then: the
// same bytes ending other output (a FETCH literal's chunk), or after a
// tag that is not the command's, pass through.
func TestGuardWriteStartTLS(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (*guard, net.Conn) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := &conn{Conn: sc, release: func() {}}
		t.Cleanup(func() { c.Close() })
		return newGuard(e.srv, c, c, false), client
	}
	reply := "a OK Begin TLS negotiation now\r\n"
	for _, c := range []struct {
		tag, name, write string
		closes           bool
	}{
		{"a", "STARTTLS", reply, true},
		{"a", "FETCH", strings.Repeat("x", 5000) + "\r\n" + reply, false},
		{"a", "FETCH", reply, false},
		{"b", "STARTTLS", reply, false},
		{"a", "STARTTLS", "a OK Begin TLS negotiation now, or later\r\n", false},
	} {
		g, client := pair()
		g.tag, g.name = c.tag, c.name
		_, werr := g.Write([]byte(c.write))
		g.raw.Close() // flush what was written, then EOF
		client.SetReadDeadline(time.Now().Add(time.Second))
		got, err := io.ReadAll(client)
		if err != nil {
			t.Fatal(err)
		}
		if c.closes {
			if werr == nil || len(got) != 0 {
				t.Errorf("%s %s: write error %v, client got %q; want closed, nothing sent", c.tag, c.name, werr, got)
			}
		} else if werr != nil || string(got) != c.write {
			t.Errorf("%s %s %.20q: write error %v, client got %.20q; want it passed on", c.tag, c.name, c.write, werr, got)
		}
	}
}
