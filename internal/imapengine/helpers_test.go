package imapengine

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/imapwire"
	"pail/internal/tlsconf"
)

// testBackend is a small in-memory mailbox store behind the engine: one
// user, mailboxes of messages that are only sizes and flags. It stands
// in for internal/imapd, not for the engine, which is what is tested.
type testBackend struct {
	mu        sync.Mutex
	mailboxes map[string][]uint32 // mailbox -> UIDs
	nextUID   uint32
	watchers  map[*testSession]func() // sessions in IDLE
	sessions  int
	notifier  bool // sessions are Notifiers (NOTIFY, RFC 5465)
}

func newTestBackend() *testBackend {
	return &testBackend{mailboxes: map[string][]uint32{"INBOX": {1, 2, 3}, "Empty": nil}, nextUID: 4, watchers: map[*testSession]func(){}}
}

func (b *testBackend) Login(_ context.Context, c *Conn, user, password string) (Session, error) {
	if user != "bob" || password != "secret" {
		return nil, ErrAuthFailed
	}
	b.mu.Lock()
	b.sessions++
	notifier := b.notifier
	b.mu.Unlock()
	if notifier {
		return &notifySession{testSession: &testSession{b: b, c: c}}, nil
	}
	return &testSession{b: b, c: c}, nil
}

// notifySession is a testSession with NOTIFY: it tells the client of
// the selected mailbox's new messages between commands.
type notifySession struct {
	*testSession
	on bool
}

func (s *notifySession) Notify(_ context.Context, a *imapwire.NotifyArgs) error {
	s.on = !a.None
	return nil
}

func (s *notifySession) Notifications(ctx context.Context) error { return s.Poll(ctx, true) }

func (s *notifySession) Notifying() bool { return s.on }

// deliver adds a message to INBOX and signals the sessions.
func (b *testBackend) deliver() {
	b.mu.Lock()
	b.mailboxes["INBOX"] = append(b.mailboxes["INBOX"], b.nextUID)
	b.nextUID++
	for _, changed := range b.watchers {
		changed()
	}
	b.mu.Unlock()
}

type testSession struct {
	b     *testBackend
	c     *Conn
	sel   string
	known int // messages the client was told of
}

func (s *testSession) Select(_ context.Context, name string, readOnly bool) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	uids, ok := s.b.mailboxes[name]
	if !ok {
		return No("NONEXISTENT", "No such mailbox")
	}
	s.sel, s.known = name, len(uids)
	w := s.c.Writer()
	if s.c.IMAP4rev2() {
		w.Status("", imapwire.OK, nil, "IMAP4rev2 session")
	}
	w.FlagsResponse([]string{`\Seen`})
	w.Exists(uint32(len(uids)))
	w.Status("", imapwire.OK, imapwire.CodeNumber("UIDVALIDITY", 1), "UIDs valid")
	return nil
}

func (s *testSession) Unselect(context.Context, bool) error { s.sel = ""; return nil }

func (s *testSession) Create(_ context.Context, a *imapwire.CreateArgs) (*imapwire.Code, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.mailboxes[a.Mailbox]; ok {
		return nil, No("ALREADYEXISTS", "Mailbox exists")
	}
	s.b.mailboxes[a.Mailbox] = nil
	return nil, nil
}

func (s *testSession) Delete(context.Context, string) error         { return No("CANNOT", "no") }
func (s *testSession) Rename(context.Context, string, string) error { return No("CANNOT", "no") }
func (s *testSession) Subscribe(context.Context, string, bool) error {
	return nil
}

func (s *testSession) List(_ context.Context, a *imapwire.ListArgs) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	for name := range s.b.mailboxes {
		if a.Patterns[0] == "*" || a.Patterns[0] == name {
			s.c.Writer().List(imapwire.ListData{Lsub: a.Lsub, Delimiter: '/', Name: name})
		}
	}
	return nil
}

func (s *testSession) Status(context.Context, *imapwire.StatusArgs) error { return nil }

func (s *testSession) Append(_ context.Context, a *imapwire.AppendArgs) (*imapwire.Code, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.mailboxes[a.Mailbox]; !ok {
		return nil, No("TRYCREATE", "No such mailbox")
	}
	for range a.Messages {
		s.b.mailboxes[a.Mailbox] = append(s.b.mailboxes[a.Mailbox], s.b.nextUID)
		s.b.nextUID++
	}
	for _, changed := range s.b.watchers {
		changed()
	}
	return imapwire.CodeAppendUID(1, imapwire.SetOf([]uint32{s.b.nextUID - 1})), nil
}

func (s *testSession) Exists() uint32                                  { return uint32(s.known) }
func (s *testSession) Expunge(context.Context, *imapwire.SeqSet) error { return nil }
func (s *testSession) Search(context.Context, bool, *imapwire.SearchArgs) error {
	s.c.Writer().Search(nil, 0)
	return nil
}

func (s *testSession) Fetch(_ context.Context, uid bool, a *imapwire.FetchArgs) error {
	s.b.mu.Lock()
	uids := s.b.mailboxes[s.sel][:s.known]
	s.b.mu.Unlock()
	w := s.c.Writer()
	for i, u := range uids {
		n := uint32(i + 1)
		if uid {
			n = u
		}
		if a.Set.Contains(n, uint32(len(uids))) {
			w.BeginFetch(uint32(i + 1))
			w.FetchNumber("UID", uint64(u))
			w.EndFetch()
		}
	}
	return nil
}

func (s *testSession) Store(context.Context, bool, *imapwire.StoreArgs) (*imapwire.Code, error) {
	return nil, nil
}
func (s *testSession) Copy(context.Context, bool, bool, *imapwire.CopyArgs) (*imapwire.Code, error) {
	return nil, nil
}

func (s *testSession) Poll(context.Context, bool) error {
	if s.sel == "" {
		return nil
	}
	s.b.mu.Lock()
	n := len(s.b.mailboxes[s.sel])
	s.b.mu.Unlock()
	if n > s.known {
		s.known = n
		s.c.Writer().Exists(uint32(n))
	}
	return nil
}

func (s *testSession) Watch(changed func()) (stop func()) {
	s.b.mu.Lock()
	s.b.watchers[s] = changed
	s.b.mu.Unlock()
	return func() {
		s.b.mu.Lock()
		delete(s.b.watchers, s)
		s.b.mu.Unlock()
	}
}

func (s *testSession) Logout() {
	s.b.mu.Lock()
	s.b.sessions--
	s.b.mu.Unlock()
}

// env is an engine serving a listener on 127.0.0.1:0.
type env struct {
	srv  *Server
	b    *testBackend
	addr string
}

// newEnv starts an engine; trusted says whether loopback may log in
// without TLS.
func newEnv(t testing.TB, trusted bool, modify func(*Config)) *env {
	t.Helper()
	tlsCfg, err := tlsconf.Load("", "", t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Hostname: "mx.hill.com", TLS: tlsCfg, Caps: []string{"UIDPLUS"}, AppendLimit: 1 << 20, Delimiter: '/'}
	if !trusted {
		cfg.Trusted = func(netip.Addr) bool { return false }
	}
	if modify != nil {
		modify(&cfg)
	}
	b := newTestBackend()
	srv := New(cfg, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			srv.Start(nc, false, wg.Done)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		wg.Wait()
	})
	return &env{srv: srv, b: b, addr: ln.Addr().String()}
}

// client is a line-level IMAP client for the tests.
type client struct {
	t        testing.TB
	c        net.Conn
	br       *bufio.Reader
	w        io.Writer // where commands go: c.c, or a compressor over it
	n        int
	greeting string
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, c: nc, br: bufio.NewReader(nc)}
	c.greeting = c.line()
	return c
}

func (c *client) line() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *client) send(s string) {
	c.t.Helper()
	w := c.w
	if w == nil {
		w = c.c
	}
	if _, err := io.WriteString(w, s); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends a command and returns every line up to its tagged reply.
func (c *client) cmd(line string) []string {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	c.send(tag + " " + line + "\r\n")
	return c.until(tag)
}

func (c *client) until(tag string) []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// last is the tagged reply of a cmd.
func last(lines []string) string { return lines[len(lines)-1] }

func (c *client) login() {
	c.t.Helper()
	if got := c.cmd("LOGIN bob secret"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
		c.t.Fatalf("LOGIN: %q", got)
	}
}

// startTLSAfterOK makes the TLS handshake after STARTTLS's OK.
func (c *client) startTLSAfterOK() {
	c.t.Helper()
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.c, c.br = tc, bufio.NewReader(tc)
}

// closed reports whether the server says BYE and closes within d.
func (c *client) closed(d time.Duration) (bye, eof bool) {
	c.c.SetReadDeadline(time.Now().Add(d))
	for {
		l, err := c.br.ReadString('\n')
		if strings.HasPrefix(l, "* BYE") {
			bye = true
		}
		if err != nil {
			return bye, err == io.EOF || strings.Contains(err.Error(), "reset")
		}
	}
}
