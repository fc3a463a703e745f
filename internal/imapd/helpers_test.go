package imapd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/admit"
	"pail/internal/auth"
	"pail/internal/maillog"
	"pail/internal/store"
	"pail/internal/tlsconf"
)

const testPassword = "correct horse"

type testEnv struct {
	st      *store.Store
	srv     *Server
	addr    string
	acct    store.Account
	other   store.Account
	mailLog *lockedBuffer
}

// newEnv starts a real store and IMAP server on 127.0.0.1:0 with two
// accounts, bob@hill.com and jill@hill.com.
func newEnv(t testing.TB, modify func(*Config, *Server)) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, _ := auth.HashPassword(testPassword)
	acct, err := st.AddAccount(ctx, "bob@hill.com", hash, false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := st.AddAccount(ctx, "jill@hill.com", hash, false)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := tlsconf.Load("", "", dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(st)
	authn.Sleep = func(context.Context, time.Duration) {}
	logBuf := &lockedBuffer{b: &bytes.Buffer{}}
	cfg := Config{Hostname: "mx.hill.com", TLS: tlsCfg, MaxMessageBytes: 1 << 20, MaxConnections: 100, MaxConnectionsPerIP: 100, WatchInterval: 100 * time.Millisecond}
	srv := New(cfg, Deps{Store: st, Auth: authn, MailLog: maillog.New(logBuf)})
	if modify != nil {
		modify(&srv.cfg, srv)
		// Limits changed by modify take effect.
		srv.admitter = admit.New(admit.Limits{MaxConnections: srv.cfg.MaxConnections, MaxConnectionsPerIP: srv.cfg.MaxConnectionsPerIP})
		srv.eng = srv.newEngine()
	}
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
	return &testEnv{st: st, srv: srv, addr: ln.Addr().String(), acct: acct, other: other, mailLog: logBuf}
}

// lockedBuffer is written by the server and read by tests.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dial logs in as bob with the test client.
func (e *testEnv) dial(t testing.TB) *client {
	t.Helper()
	c := dialClient(t, e.addr)
	c.login("bob@hill.com", testPassword)
	return c
}

func (e *testEnv) deliver(t testing.TB, acct int64, mailbox, msg string) store.Delivered {
	t.Helper()
	sp, err := e.st.NewBody()
	if err != nil {
		t.Fatal(err)
	}
	sp.Write([]byte(msg))
	ds, err := e.st.DeliverBody(context.Background(), sp, []store.Delivery{{AccountID: acct, Mailbox: mailbox}})
	if err != nil {
		t.Fatal(err, ds)
	}
	return ds[0]
}

// removeMessageFiles removes every file in which the store keeps
// message bytes (under mail/ in its directory: a damaged store, or the
// proof that a command reads no message), and returns how many it
// removed.
func removeMessageFiles(t testing.TB, e *testEnv) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(e.st.Dir(), "mail"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		n++
		return os.Remove(path)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readWhole reads every octet of m's body, failing if the stored bytes
// are not m.Size octets.
func readWhole(ctx context.Context, st *store.Store, m store.Message) error {
	body, err := st.OpenBody(ctx, m)
	if err != nil {
		return err
	}
	defer body.Close()
	n, err := io.Copy(io.Discard, io.NewSectionReader(body, 0, body.Size()))
	if err == nil && n != m.Size {
		err = fmt.Errorf("%d octets, want %d", n, m.Size)
	}
	return err
}

// appendMsg APPENDs msg with the flags and date given (flags "" and a
// zero date for none) and returns the APPENDUID (RFC 4315 §3).
func appendMsg(t testing.TB, c *client, mailbox, msg, flags string, date time.Time) (uidValidity, uid uint32) {
	t.Helper()
	cmd := "APPEND " + quote(mailbox)
	if flags != "" {
		cmd += " (" + flags + ")"
	}
	if !date.IsZero() {
		cmd += " " + quote(date.Format("02-Jan-2006 15:04:05 -0700"))
	}
	res := c.doLiteral(cmd, msg)
	if err := res.err(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	args, ok := res.code("APPENDUID")
	if !ok || len(args) != 2 {
		t.Fatalf("APPEND: no APPENDUID in %q", res.text)
	}
	v, _ := strconv.ParseUint(args[0], 10, 32)
	u, _ := strconv.ParseUint(args[1], 10, 32)
	return uint32(v), uint32(u)
}

// raw is a line-level IMAP conversation for malformed input.
type raw struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
	n  int
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	r.line() // greeting
	return r
}

func (r *raw) line() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command and returns every line up to its tagged reply.
func (r *raw) cmd(line string) []string {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	fmt.Fprintf(r.c, "%s %s\r\n", tag, line)
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

func startTLS(t testing.TB, r *raw) {
	t.Helper()
	if got := r.cmd("STARTTLS"); !strings.Contains(got[len(got)-1], "OK") {
		t.Fatalf("STARTTLS: %q", got)
	}
	tc := tls.Client(r.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.c = tc
	r.br = bufio.NewReader(tc)
}

func untrusted(_ *Config, s *Server) { s.trusted = func(netip.Addr) bool { return false } }

const testMsg = "From: Jack <jack@town.com>\r\nTo: bob@hill.com\r\nSubject: Pail of water\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <1@town.com>\r\n\r\nJack and Jill went up the hill\r\nto fetch a pail of water.\r\n"
