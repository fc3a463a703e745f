package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/delivery"
	"pail/internal/greylist"
	"pail/internal/maillog"
	"pail/internal/store"
	"pail/internal/tlsconf"
)

// testEnv is a real SMTP server on 127.0.0.1:0 over a real store.
type testEnv struct {
	st      *store.Store
	addr    string
	srv     *Server
	mailLog *strings.Builder
}

type testOpts struct {
	role           Role
	implicitTLS    bool
	commandTimeout time.Duration
	greetDelay     time.Duration
	maxConns       int
	connRate       int
	cmdRate        int
	// The inbound checks (inbound_test.go).
	blocklist     Blocklist
	greylist      *greylist.Config // greylisting over the test's store
	now           func() time.Time // the greylist's clock
	dnsblScore    bool
	checkLoopback bool
	traces        chan<- delivery.Trace // receives each message's trace
	// The end-of-DATA judgement (judge_test.go).
	judge Judge
	// queue takes remote copies and notices (none: delivery has no queue).
	queue delivery.Queue
}

const testPassword = "s3cret"

func newTestEnv(t testing.TB, o testOpts) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, _ := auth.HashPassword(testPassword)
	for _, a := range []string{"jill@hill.test", "bob@hill.test"} {
		if _, err := st.AddAccount(ctx, a, hash, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddAlias(ctx, "info@hill.test", []string{"jill@hill.test", "bob@hill.test"}); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := tlsconf.Load("", "", dir, []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	isLocal := func(d string) bool { return d == "hill.test" }
	router := delivery.NewRouter(st, isLocal, "")
	router.SetHostname("mx.hill.test")
	ml := &strings.Builder{}
	mlog := maillog.New(&lockedWriter{w: ml})
	authn := auth.New(st)
	authn.Sleep = func(context.Context, time.Duration) {}
	cfg := Config{
		Hostname:            "mx.hill.test",
		Role:                o.role,
		ImplicitTLS:         o.implicitTLS,
		TLS:                 tlsCfg,
		MaxMessageBytes:     10000,
		MaxRecipients:       3,
		MaxConnections:      100,
		MaxConnectionsPerIP: 10,
		CommandTimeout:      time.Minute,
		DataTimeout:         time.Minute,
		GreetDelay:          o.greetDelay,
		ConnectionRatePerIP: o.connRate,
		CommandRatePerIP:    o.cmdRate,
		RateLimitLoopback:   true,
	}
	if o.commandTimeout > 0 {
		cfg.CommandTimeout = o.commandTimeout
	}
	if o.maxConns > 0 {
		cfg.MaxConnectionsPerIP = o.maxConns
	}
	cfg.DNSBLScore, cfg.CheckLoopback = o.dnsblScore, o.checkLoopback
	deps := Deps{
		Router:    router,
		Deliverer: delivery.NewDeliverer(st, o.queue, mlog, "mx.hill.test"),
		Auth:      authn,
		Senders:   router,
		Judge:     o.judge,
		MailLog:   mlog,
		Blocklist: o.blocklist,
	}
	if o.greylist != nil {
		g := greylist.New(*o.greylist, st)
		g.Now = o.now
		deps.Greylist = g
	}
	if o.traces != nil {
		deps.Deliverer = tracingDeliverer{deps.Deliverer, o.traces}
	}
	srv := New(cfg, deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &testEnv{st: st, addr: ln.Addr().String(), srv: srv, mailLog: ml}
}

type lockedWriter struct {
	w io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) { return l.w.Write(p) }

// inbox returns the messages in an account's INBOX, as bytes.
func (e *testEnv) inbox(t *testing.T, addr string) []string {
	t.Helper()
	return e.mailbox(t, addr, "INBOX")
}

// mailbox returns the messages in one of an account's mailboxes, as bytes.
func (e *testEnv) mailbox(t *testing.T, addr, name string) []string {
	t.Helper()
	ctx := context.Background()
	acct, err := e.st.AccountByAddress(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := e.st.MailboxByName(ctx, acct.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := readBody(e.st.OpenBody(context.Background(), m))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// client is a raw SMTP client for transcripts.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// reply reads one whole (possibly multi-line) reply.
func (c *client) reply() (string, error) {
	var all []string
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return strings.Join(all, ""), err
		}
		all = append(all, line)
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(all, ""), nil
		}
	}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// expect reads a reply and checks it against a regular expression
// anchored at the start.
func (c *client) expect(pattern string) string {
	c.t.Helper()
	r, err := c.reply()
	if err != nil {
		c.t.Fatalf("waiting for %q: got %q, %v", pattern, r, err)
	}
	if !regexp.MustCompile(`(?s)^(?:` + pattern + `)`).MatchString(r) {
		c.t.Fatalf("want %q, got %q", pattern, r)
	}
	return r
}

func (c *client) cmd(line, pattern string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(pattern)
}

// TestTranscripts runs testdata/smtp/*.txt: lines "C: text" are sent with
// CRLF (`\r`, `\n` and `\0` escapes are expanded, "C< text" sends without
// a line ending), lines "S: regexp" expect a reply matching at its start,
// "S: EOF" expects the server to close. "# " lines are comments. A first
// line "@ role=submission" or "@ greet_delay=..." sets options.
func TestTranscripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/smtp/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			var o testOpts
			if strings.HasPrefix(lines[0], "@ ") {
				for _, opt := range strings.Fields(lines[0][2:]) {
					k, v, _ := strings.Cut(opt, "=")
					switch k {
					case "role":
						if v == "submission" {
							o.role = RoleSubmission
						}
					case "command_timeout":
						o.commandTimeout, _ = time.ParseDuration(v)
					default:
						t.Fatalf("unknown option %s", k)
					}
				}
				lines = lines[1:]
			}
			env := newTestEnv(t, o)
			c := dial(t, env.addr)
			unescape := strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\0`, "\x00", `\t`, "\t")
			for n, line := range lines {
				switch {
				case line == "" || strings.HasPrefix(line, "#"):
				case strings.HasPrefix(line, "C: "):
					c.send(unescape.Replace(line[3:]) + "\r\n")
				case strings.HasPrefix(line, "C< "):
					c.send(unescape.Replace(line[3:]))
				case line == "S: EOF":
					if r, err := c.reply(); err == nil {
						t.Fatalf("%s:%d: want EOF, got %q", file, n+2, r)
					}
				case strings.HasPrefix(line, "S: "):
					r, err := c.reply()
					if err != nil {
						t.Fatalf("%s:%d: want %q: %v", file, n+2, line[3:], err)
					}
					if !regexp.MustCompile(`(?s)^(?:` + line[3:] + `)`).MatchString(r) {
						t.Fatalf("%s:%d: want %q, got %q", file, n+2, line[3:], r)
					}
				case strings.HasPrefix(line, "INBOX "):
					// "INBOX addr count": the account has count messages.
					f := strings.Fields(line)
					if got := len(env.inbox(t, f[1])); fmt.Sprint(got) != f[2] {
						t.Fatalf("%s:%d: %s has %d messages, want %s", file, n+2, f[1], got, f[2])
					}
				default:
					t.Fatalf("%s:%d: bad line %q", file, n+2, line)
				}
			}
		})
	}
}

func TestTextbookDialogueDelivers(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect(`220 mx\.hill\.test ESMTP`)
	c.cmd("HELO town.test", "250 ")
	c.cmd("MAIL FROM: <jack@town.test>", "250 ")
	c.cmd("RCPT TO: <jill@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: up the hill\r\n\r\nJack and Jill\r\n..went up\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
	msgs := env.inbox(t, "jill@hill.test")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if !strings.HasPrefix(m, "Return-Path: <jack@town.test>\r\nReceived: from town.test ([127.0.0.1])\r\n\tby mx.hill.test (pail) with SMTP id ") {
		t.Errorf("trace headers wrong:\n%s", m)
	}
	if !strings.Contains(m, "\tfor <jill@hill.test>; ") {
		t.Errorf("no for clause:\n%s", m)
	}
	if !strings.HasSuffix(m, "\r\n\r\nJack and Jill\r\n.went up\r\n") {
		t.Errorf("body wrong:\n%q", m)
	}
	if !strings.Contains(env.mailLog.String(), " received id=") {
		t.Errorf("mail log: %s", env.mailLog)
	}
}

func TestSTARTTLSAndChunking(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect("220 ")
	ehlo := c.cmd("EHLO town.test", "250-")
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 10000", "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING"} {
		if !strings.Contains(ehlo, ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("MX port offers AUTH:\n%s", ehlo)
	}
	c.cmd("STARTTLS", "220 ")
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c = &client{t: t, c: tc, br: bufio.NewReader(tc)}
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@town.test> BODY=8BITMIME", "250 ")
	c.cmd("RCPT TO:<bob+news@hill.test>", "250 ")
	body := "Subject: Grüße\r\n\r\nGrüße\r\n"
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
	msgs := env.inbox(t, "bob@hill.test")
	if len(msgs) != 1 || !strings.HasSuffix(msgs[0], body) || !strings.Contains(msgs[0], "with ESMTPS (TLS") {
		t.Fatalf("got %q", msgs)
	}
}

func TestSubmissionAuth(t *testing.T) {
	env := newTestEnv(t, testOpts{role: RoleSubmission})
	c := dial(t, env.addr)
	c.expect("220 ")
	ehlo := c.cmd("EHLO town.test", "250-")
	if !strings.Contains(ehlo, "AUTH PLAIN LOGIN") {
		t.Errorf("loopback submission lacks AUTH:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<jill@hill.test>", "530 5.7.0")
	c.cmd("AUTH PLAIN AGppbGxAaGlsbC50ZXN0AHdyb25n", "535 5.7.8") // wrong password
	c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	c.cmd("amlsbEBoaWxsLnRlc3Q=", "334 UGFzc3dvcmQ6")
	c.cmd("czNjcmV0", "235 ")
	c.cmd("MAIL FROM:<bob@hill.test>", "553 5.7.1")
	c.cmd("MAIL FROM:<jill+x@hill.test>", "250 ")
	c.cmd("RSET", "250 ")
	c.cmd("MAIL FROM:<info@hill.test>", "250 ")
	c.cmd("RCPT TO:<bob@hill.test>", "250 ")
	// No outgoing queue in this test: remote recipients are accepted at
	// RCPT and fail temporarily at delivery.
	c.cmd("DATA", "354 ")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	msgs := env.inbox(t, "bob@hill.test")
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	// RFC 6409 §8: the submission server adds Date and Message-ID.
	if !strings.Contains(msgs[0], "\r\nDate: ") || !strings.Contains(msgs[0], "\r\nMessage-ID: <") || !strings.Contains(msgs[0], "with ESMTPA") {
		t.Errorf("submitted message:\n%s", msgs[0])
	}
}

func TestIdleTimeout(t *testing.T) {
	env := newTestEnv(t, testOpts{commandTimeout: 300 * time.Millisecond})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO x.test", "250-")
	start := time.Now()
	c.expect("421 4.4.2")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timed out after %s", d)
	}
}

func TestConnectionCaps(t *testing.T) {
	env := newTestEnv(t, testOpts{maxConns: 2})
	a, b := dial(t, env.addr), dial(t, env.addr)
	a.expect("220 ")
	b.expect("220 ")
	c := dial(t, env.addr)
	c.expect("421 4.7.0")
	a.cmd("QUIT", "221 ")
	// The slot is released: a new connection is served.
	deadline := time.Now().Add(3 * time.Second)
	for {
		d := dial(t, env.addr)
		r, _ := d.reply()
		if strings.HasPrefix(r, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %q", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGreetDelayRejectsEarlyTalker(t *testing.T) {
	env := newTestEnv(t, testOpts{greetDelay: 300 * time.Millisecond})
	c := dial(t, env.addr)
	c.send("EHLO spam.test\r\n")
	c.expect("554 5.5.1")
	ok := dial(t, env.addr)
	ok.expect("220 ")
}

func TestShutdownLetsTransactionFinish(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	idle := dial(t, env.addr)
	idle.expect("220 ")
	busy := dial(t, env.addr)
	busy.expect("220 ")
	busy.cmd("EHLO town.test", "250-")
	busy.cmd("MAIL FROM:<jack@town.test>", "250 ")
	busy.cmd("RCPT TO:<jill@hill.test>", "250 ")
	busy.cmd("DATA", "354 ")
	busy.send("Subject: half\r\n")
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		env.srv.Shutdown(ctx)
		close(done)
	}()
	idle.expect("421 4.3.2")
	time.Sleep(100 * time.Millisecond)
	busy.send("\r\nstill here\r\n.\r\n")
	busy.expect("250 ")
	busy.send("QUIT\r\n")
	busy.expect("(221|421)")
	<-done
	if n := len(env.inbox(t, "jill@hill.test")); n != 1 {
		t.Errorf("%d messages after shutdown", n)
	}
}

func TestCommandRateLimit(t *testing.T) {
	env := newTestEnv(t, testOpts{cmdRate: 3})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.cmd("RCPT TO:<bob@hill.test>", "250 ")
	c.cmd("RCPT TO:<info@hill.test>", "421 4.7.0")
	if r, err := c.reply(); err == nil {
		t.Errorf("session not ended: %q", r)
	}
}

func TestConnectionRateLimit(t *testing.T) {
	env := newTestEnv(t, testOpts{connRate: 2})
	dial(t, env.addr).expect("220 ")
	dial(t, env.addr).expect("220 ")
	dial(t, env.addr).expect("421 4.7.0")
}

// readBody reads all of a message body that a store (or the queue) opened.
func readBody(b store.Body, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
}
