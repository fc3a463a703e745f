package pop3d

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/maillog"
	"pail/internal/store"
	"pail/internal/tlsconf"
)

// Compile-time checks that the real store and authenticator fit.
var (
	_ Store         = (*store.Store)(nil)
	_ Authenticator = (*auth.Authenticator)(nil)
)

const (
	testUser     = "jill@hill.test"
	testPassword = "s3cret pass" // with a space: PASS takes the rest of the line
	otherUser    = "bob@hill.test"
)

// fixture is the INBOX every test starts with, in delivery (UID) order.
var fixture = []string{
	"From: jack@town.test\r\nTo: jill@hill.test\r\nSubject: one\r\n\r\nHello Jill.\r\n",
	"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nend\r\n",
	"Subject: tail\r\n\r\nline 1\r\nline 2\r\nno newline",
}

// testEnv is a real POP3 server on 127.0.0.1:0 over a real store.
type testEnv struct {
	dir     string
	st      *store.Store
	srv     *Server
	addr    string
	acct    store.Account
	mailLog *syncBuffer
	tls     *tls.Config
}

type testOpts struct {
	implicitTLS bool
	noTLS       bool
	// remote makes the server treat the loopback client as a remote one,
	// which may not send passwords without TLS.
	remote   bool
	idle     time.Duration
	perIP    int
	locks    Locker
	wrap     func(Store) Store
	authWrap func(Authenticator) Authenticator
}

func newTestEnv(t testing.TB, o testOpts) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	var acct store.Account
	for _, a := range []string{testUser, otherUser} {
		ac, err := st.AddAccount(ctx, a, hash, false)
		if err != nil {
			t.Fatal(err)
		}
		if a == testUser {
			acct = ac
		}
	}
	for _, m := range fixture {
		deliver(t, st, acct.ID, m)
	}
	tlsCfg, err := tlsconf.Load("", "", dir, []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{dir: dir, st: st, acct: acct, mailLog: &syncBuffer{}, tls: tlsCfg}
	env.start(t, o)
	return env
}

// start runs a server over env's store.
func (env *testEnv) start(t testing.TB, o testOpts) {
	t.Helper()
	authn := auth.New(env.st)
	authn.Sleep = func(context.Context, time.Duration) {}
	var a Authenticator = authn
	if o.authWrap != nil {
		a = o.authWrap(a)
	}
	var st Store = env.st
	if o.wrap != nil {
		st = o.wrap(st)
	}
	cfg := Config{
		Hostname:            "mx.hill.test",
		ImplicitTLS:         o.implicitTLS,
		TLS:                 env.tls,
		MaxConnections:      100,
		MaxConnectionsPerIP: 20,
		IdleTimeout:         o.idle,
		WriteTimeout:        10 * time.Second,
	}
	if o.noTLS {
		cfg.TLS = nil
	}
	if o.perIP > 0 {
		cfg.MaxConnectionsPerIP = o.perIP
	}
	srv := New(cfg, Deps{Store: st, Auth: a, Locks: o.locks, MailLog: maillog.New(env.mailLog)})
	if o.remote {
		srv.plaintextOK = func(netip.Addr) bool { return false }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	env.srv, env.addr = srv, ln.Addr().String()
}

// deliver stores one message in an account's INBOX.
func deliver(t testing.TB, st *store.Store, accountID int64, msg string) {
	t.Helper()
	sp, err := st.NewBody()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	ds, err := st.DeliverBody(context.Background(), sp, []store.Delivery{{AccountID: accountID}})
	if err != nil {
		t.Fatalf("deliver: %v %v", err, ds)
	}
}

// inbox returns the stored bytes of an account's INBOX, in UID order.
func inbox(t *testing.T, st *store.Store, accountID int64) []string {
	t.Helper()
	ctx := context.Background()
	mb, err := st.MailboxByName(ctx, accountID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := readBody(st.OpenBody(context.Background(), m))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// client is a raw POP3 client.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

const clientTimeout = 10 * time.Second

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// dialTLS connects with implicit TLS.
func dialTLS(t *testing.T, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	c.startTLS()
	return c
}

// startTLS runs the client side of a handshake on the connection.
func (c *client) startTLS() {
	c.t.Helper()
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.hill.test"})
	tc.SetDeadline(time.Now().Add(clientTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// line reads one response line without its CRLF; it insists on CRLF.
func (c *client) line() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return l, errors.New("line without CRLF: " + l)
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}

func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(clientTimeout))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// expect reads a line and checks it against a regexp anchored at both ends.
func (c *client) expect(pattern string) string {
	c.t.Helper()
	l, err := c.line()
	if err != nil {
		c.t.Fatalf("want %q: %v", pattern, err)
	}
	if !regexp.MustCompile(`^(?:` + pattern + `)$`).MatchString(l) {
		c.t.Fatalf("want %q, got %q", pattern, l)
	}
	return l
}

// cmd sends a command and checks the first response line.
func (c *client) cmd(line, pattern string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(pattern)
}

// multi reads the body of a multi-line response up to the "." line and
// returns it with the byte-stuffing undone and CRLF line endings.
func (c *client) multi() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l, err := c.line()
		if err != nil {
			c.t.Fatalf("multi-line response: %v", err)
		}
		if l == "." {
			return b.String()
		}
		if strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "..") {
			c.t.Fatalf("line %q starts with an unstuffed dot", l)
		}
		b.WriteString(strings.TrimPrefix(l, "."))
		b.WriteString("\r\n")
	}
}

// expectEOF checks that the server closes the connection without a reply.
func (c *client) expectEOF() {
	c.t.Helper()
	if l, err := c.line(); err == nil || l != "" {
		c.t.Fatalf("want the connection closed, got %q (%v)", l, err)
	}
}

// login greets and logs in with USER/PASS.
func (c *client) login(user string) {
	c.t.Helper()
	c.expect(`\+OK .*`)
	c.cmd("USER "+user, `\+OK.*`)
	c.cmd("PASS "+testPassword, `\+OK .*`)
}

// TestTranscripts runs testdata/pop3/*.txt. "C: text" lines are sent with
// CRLF (`\r`, `\n`, `\t`, `\0` escapes expanded; "C< text" sends no line
// ending); consecutive C lines go out in one write, which pipelines them.
// "S: regexp" expects one response line matching it whole; "S: EOF" expects
// the server to close. "INBOX n" checks the number of messages stored in
// jill's INBOX. "# " lines are comments. A first line "@ remote" or
// "@ notls" sets options.
func TestTranscripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/pop3/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	unescape := strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\0`, "\x00", `\t`, "\t")
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
					switch opt {
					case "remote":
						o.remote = true
					case "notls":
						o.noTLS = true
					default:
						t.Fatalf("unknown option %s", opt)
					}
				}
				lines[0] = ""
			}
			env := newTestEnv(t, o)
			c := dial(t, env.addr)
			var pending strings.Builder
			flush := func() {
				if pending.Len() > 0 {
					c.send(pending.String())
					pending.Reset()
				}
			}
			for n, line := range lines {
				where := file + ":" + strconv.Itoa(n+1)
				switch {
				case line == "" || strings.HasPrefix(line, "#"):
				case strings.HasPrefix(line, "C: "):
					pending.WriteString(unescape.Replace(line[3:]) + "\r\n")
				case strings.HasPrefix(line, "C< "):
					pending.WriteString(unescape.Replace(line[3:]))
				case line == "S: EOF":
					flush()
					if l, err := c.line(); err == nil {
						t.Fatalf("%s: want EOF, got %q", where, l)
					}
				case strings.HasPrefix(line, "S: "):
					flush()
					l, err := c.line()
					if err != nil {
						t.Fatalf("%s: want %q: %v", where, line[3:], err)
					}
					if !regexp.MustCompile(`^(?:` + line[3:] + `)$`).MatchString(l) {
						t.Fatalf("%s: want %q, got %q", where, line[3:], l)
					}
				case strings.HasPrefix(line, "INBOX "):
					// "INBOX n": jill's INBOX holds n messages now.
					if got := len(inbox(t, env.st, env.acct.ID)); strconv.Itoa(got) != line[6:] {
						t.Fatalf("%s: INBOX has %d messages, want %s", where, got, line[6:])
					}
				default:
					t.Fatalf("%s: bad line %q", where, line)
				}
			}
		})
	}
}

// readBody reads all of a message body that a store (or the queue) opened.
func readBody(b store.Body, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
}
