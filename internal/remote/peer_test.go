package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"pail/internal/resolve/resolvetest"
	"pail/internal/tlsconf"
)

// peer is an in-process go-smtp server standing in for a remote MX.
type peer struct {
	addr string
	// Hooks; nil accepts.
	mail func(from string) error
	rcpt func(to string) error
	data func(c *smtp.Conn, body []byte) error
	// user and pass, when set, are the only credentials AUTH accepts.
	user, pass string

	mu   sync.Mutex
	got  []peerMsg
	conn int // connections accepted
	auth []string
}

// peerMsg is one message a peer accepted.
type peerMsg struct {
	from string
	to   []string
	body []byte
	helo string
	tls  bool
	// remote is the client's address as the peer saw it.
	remote string
	opts   smtp.MailOptions
}

type peerOptions struct {
	host    string      // listen address without port; "" is 127.0.0.1
	port    string      // "" is any
	noTLS   bool        // do not offer STARTTLS
	tls     *tls.Config // the STARTTLS configuration; nil: a self-signed certificate
	maxSize int64
}

// startPeer starts a peer; its hooks may be set before the first
// connection.
func startPeer(t *testing.T, o peerOptions) *peer {
	t.Helper()
	host, port := o.host, o.port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{addr: ln.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &peerSession{p: p, c: c}, nil
	}))
	srv.Domain = "mx.hill.test"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = o.maxSize
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	if o.tls != nil {
		srv.TLSConfig = o.tls
	} else if !o.noTLS {
		cfg, err := tlsconf.Load("", "", t.TempDir(), []string{"mx.hill.test"})
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = cfg
	}
	go srv.Serve(countingListener{ln, p})
	t.Cleanup(func() { srv.Close() })
	return p
}

// countingListener counts the connections a peer accepts.
type countingListener struct {
	net.Listener
	p *peer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.p.mu.Lock()
		l.p.conn++
		l.p.mu.Unlock()
	}
	return c, err
}

func (p *peer) messages() []peerMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]peerMsg(nil), p.got...)
}

// sessions returns the number of connections accepted.
func (p *peer) sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

type peerSession struct {
	p    *peer
	c    *smtp.Conn
	from string
	opts smtp.MailOptions
	to   []string
}

var _ smtp.AuthSession = (*peerSession)(nil)

func (s *peerSession) AuthMechanisms() []string {
	if s.p.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *peerSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.p.mu.Lock()
		s.p.auth = append(s.p.auth, username+":"+password)
		s.p.mu.Unlock()
		if username != s.p.user || password != s.p.pass {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}

func (s *peerSession) Reset()        { s.from, s.to = "", nil }
func (s *peerSession) Logout() error { return nil }

func (s *peerSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.p.mail != nil {
		if err := s.p.mail(from); err != nil {
			return err
		}
	}
	s.from = from
	if opts != nil {
		s.opts = *opts
	}
	return nil
}

func (s *peerSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.p.rcpt != nil {
		if err := s.p.rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *peerSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.p.data != nil {
		if err := s.p.data(s.c, body); err != nil {
			return err
		}
	}
	_, isTLS := s.c.TLSConnectionState()
	s.p.mu.Lock()
	s.p.got = append(s.p.got, peerMsg{from: s.from, to: s.to, body: body, helo: s.c.Hostname(), remote: s.c.Conn().RemoteAddr().String(), tls: isTLS, opts: s.opts})
	s.p.mu.Unlock()
	return nil
}

// smtpErr builds a reply error for the hooks.
func smtpErr(code int, enh smtp.EnhancedCode, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// scripted is a raw TCP server whose every connection is handled by
// serve, for servers that misbehave in ways go-smtp will not.
type scripted struct {
	addr string
	mu   sync.Mutex
	n    int
}

func startScripted(t *testing.T, serve func(n int, c *rawConn)) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			n := s.n
			s.n++
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(n, &rawConn{c: c, r: bufio.NewReader(c)})
			}()
		}
	}()
	return s
}

// rawConn is the server end of a scripted connection.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *rawConn) say(lines ...string) {
	io.WriteString(c.c, strings.Join(lines, "\r\n")+"\r\n")
}

func (c *rawConn) line() string {
	l, _ := c.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n")
}

// expect reads a line and fails unless it starts with prefix.
func (c *rawConn) expect(t *testing.T, prefix string) string {
	l := c.line()
	if !strings.HasPrefix(strings.ToUpper(l), strings.ToUpper(prefix)) {
		t.Errorf("client sent %q, want %q...", l, prefix)
	}
	return l
}

// readData reads message data up to the lone dot.
func (c *rawConn) readData() []byte {
	var b bytes.Buffer
	for {
		l, err := c.r.ReadString('\n')
		if err != nil || l == ".\r\n" {
			return b.Bytes()
		}
		b.WriteString(l)
	}
}

// greetEHLO does the greeting and answers EHLO with exts.
func (c *rawConn) greetEHLO(t *testing.T, exts ...string) {
	c.say("220 mx.hill.test ESMTP scripted")
	c.expect(t, "EHLO ")
	lines := []string{"250-mx.hill.test"}
	for _, e := range exts {
		lines = append(lines, "250-"+e)
	}
	lines = append(lines, "250 ENHANCEDSTATUSCODES")
	c.say(lines...)
}

// startDNS serves records (master file syntax, one per string) on
// loopback; see resolvetest.Start.
func startDNS(t *testing.T, records []string, servfail ...string) *resolvetest.Server {
	t.Helper()
	return resolvetest.Start(t, records, servfail...)
}

// testMessage is what the tests deliver.
const testMessage = "From: alice@town.test\r\nTo: bob@hill.test\r\nSubject: hello\r\n\r\nHello Bob.\r\n.leading dot\r\n"

func newMessage(rcpts ...string) Message {
	return Message{ID: "test1", From: "alice@town.test", Rcpts: rcpts, Body: strings.NewReader(testMessage), Size: int64(len(testMessage))}
}

// fastTimeouts keep failing tests short.
func fastTimeouts() Timeouts {
	return Timeouts{
		Connect: 2 * time.Second, Greeting: 2 * time.Second, Command: 2 * time.Second,
		Mail: 2 * time.Second, Rcpt: 2 * time.Second, DataInit: 2 * time.Second,
		DataBlock: 2 * time.Second, DataTerm: 2 * time.Second, DNS: 2 * time.Second,
	}
}

// deliver runs Deliver with a deadline that catches hangs.
func deliver(t *testing.T, c *Client, domain string, m Message) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := c.Deliver(ctx, domain, m)
	if ctx.Err() != nil {
		t.Fatalf("Deliver did not return within the test's deadline")
	}
	if len(res) != len(m.Rcpts) {
		t.Fatalf("Deliver returned %d results for %d recipients", len(res), len(m.Rcpts))
	}
	return res
}

func wantStatus(t *testing.T, res []Result, want ...Status) {
	t.Helper()
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("recipient %s: status %v (%s), want %v", r.Rcpt, r.Status, r.Reply, want[i])
		}
	}
}
