package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"pail/internal/testpki"
)

// sink is a go-smtp backend that requires STARTTLS and AUTH PLAIN as
// ann@hill.test/pw, refuses the message numbered refuse (counting from 1)
// with 554 and records the rest.
type sink struct {
	refuse int

	mu     sync.Mutex
	datas  int
	sizes  []int
	from   []string
	to     []string
	tlsOK  int
	resets int
}

func (b *sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if _, ok := c.TLSConnectionState(); ok {
		b.mu.Lock()
		b.tlsOK++
		b.mu.Unlock()
	}
	return &sinkSession{b: b}, nil
}

type sinkSession struct {
	b      *sink
	authed bool
}

var _ smtp.AuthSession = (*sinkSession)(nil)

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "ann@hill.test" || pass != "pw" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.b.mu.Lock()
	s.b.from = append(s.b.from, from)
	s.b.mu.Unlock()
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	s.b.to = append(s.b.to, to)
	s.b.mu.Unlock()
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.datas++
	if s.b.datas == s.b.refuse {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "refused for the test"}
	}
	s.b.sizes = append(s.b.sizes, len(b))
	return nil
}

func (s *sinkSession) Reset() {
	s.b.mu.Lock()
	s.b.resets++
	s.b.mu.Unlock()
}

func (s *sinkSession) Logout() error { return nil }

// serve starts an SMTP server with STARTTLS on 127.0.0.1:0 for b.
func serve(t *testing.T, b *sink) string {
	t.Helper()
	ca := testpki.NewCA(t)
	srv := smtp.NewServer(b)
	srv.Domain = "mx.hill.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "mx.hill.test")}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestRun sends 25 messages over 4 sessions: each session upgrades to
// TLS and logs in, every message arrives with exactly -size bytes and the
// envelope asked for, and the one message the server refuses is counted
// as refused, not sent.
func TestRun(t *testing.T) {
	b := &sink{refuse: 7}
	cfg := config{addr: serve(t, b), user: "ann@hill.test", pass: "pw", from: "ann@hill.test",
		to: "someone@far.test", count: 25, sessions: 4, size: 4096}
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.sent != 24 || res.refused != 1 || res.seconds <= 0 {
		t.Errorf("result %+v, want 24 sent and 1 refused", res)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tlsOK != 4 {
		t.Errorf("%d sessions were on TLS, want 4", b.tlsOK)
	}
	if len(b.sizes) != 24 || b.datas != 25 {
		t.Errorf("server got %d DATA, kept %d messages; want 25 and 24", b.datas, len(b.sizes))
	}
	for i, n := range b.sizes {
		if n != cfg.size {
			t.Errorf("message %d: %d bytes, want %d", i, n, cfg.size)
		}
	}
	for i := range b.from {
		if b.from[i] != cfg.from || b.to[i] != cfg.to {
			t.Errorf("envelope %d: from %q to %q", i, b.from[i], b.to[i])
		}
	}
	if b.resets < 25 {
		t.Errorf("%d resets for 25 transactions", b.resets)
	}
}

// TestRunBadPassword: a refused login fails the run and sends nothing.
func TestRunBadPassword(t *testing.T) {
	b := &sink{}
	cfg := config{addr: serve(t, b), user: "ann@hill.test", pass: "wrong", from: "ann@hill.test",
		to: "someone@far.test", count: 3, sessions: 2, size: 1024}
	res, err := run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "AUTH PLAIN") {
		t.Errorf("run with a wrong password: %v, want an AUTH PLAIN error", err)
	}
	if res.sent != 0 {
		t.Errorf("%d messages sent", res.sent)
	}
}

// TestMessageSize: messages have exactly the size asked for and end in CRLF.
func TestMessageSize(t *testing.T) {
	for _, size := range []int{minSize, 1000, 4096, 4097, 100_000} {
		m := message(config{from: "ann@hill.test", to: "someone@far.test", size: size}, 3, 12345)
		if len(m) != size || !strings.HasSuffix(string(m), "\r\n") || !strings.HasPrefix(string(m), "From: ") {
			t.Errorf("size %d: got %d bytes, ends %q", size, len(m), m[len(m)-4:])
		}
	}
}
