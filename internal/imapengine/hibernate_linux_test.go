//go:build linux

package imapengine

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hibernating is the number of sessions asleep in the server's poller.
func (s *Server) hibernating() int {
	p := s.poll.Load()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sleeping)
}

// waitHibernating waits until n sessions are asleep.
func waitHibernating(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.hibernating() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions hibernate, want %d", s.hibernating(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idle logs c in, selects INBOX and starts IDLE.
func (c *client) idle() {
	c.t.Helper()
	c.login()
	c.cmd("SELECT INBOX")
	c.send("i IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		c.t.Fatalf("IDLE: %q", l)
	}
}

// done ends c's IDLE and checks the session goes on.
func (c *client) done() {
	c.t.Helper()
	c.send("DONE\r\n")
	if got := c.until("i"); !strings.HasPrefix(last(got), "i OK") {
		c.t.Fatalf("DONE: %q", got)
	}
	if got := c.cmd("NOOP"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
		c.t.Fatalf("NOOP after IDLE: %q", got)
	}
}

// TestHibernateIdleHearsDelivery: a session in IDLE hibernates at once,
// hears within a second of a message another connection APPENDs, goes
// back to sleep, and DONE ends its IDLE as usual.
func TestHibernateIdleHearsDelivery(t *testing.T) {
	e := newEnv(t, true, nil)
	a := dial(t, e.addr)
	a.idle()
	waitHibernating(t, e.srv, 1)

	b := dial(t, e.addr)
	b.login()
	for n := 4; n <= 5; n++ {
		sent := time.Now()
		b.send(fmt.Sprintf("a%d APPEND INBOX {3+}\r\nhi\n\r\n", n))
		if got := b.until(fmt.Sprintf("a%d", n)); !strings.Contains(last(got), "OK") {
			t.Fatalf("APPEND: %q", got)
		}
		a.c.SetReadDeadline(sent.Add(time.Second))
		l, err := a.br.ReadString('\n')
		if err != nil || l != fmt.Sprintf("* %d EXISTS\r\n", n) {
			t.Fatalf("hibernated IDLE after APPEND %d: %q, %v", n, l, err)
		}
		waitHibernating(t, e.srv, 1)
	}
	a.done()
	if got := e.srv.hibernating(); got != 0 {
		t.Errorf("%d sessions hibernate after DONE, want 0", got)
	}
	a.send("i2 IDLE\r\n") // a second IDLE sleeps again
	if l := a.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	waitHibernating(t, e.srv, 1)
	a.send("DONE\r\n")
	if got := a.until("i2"); !strings.HasPrefix(last(got), "i2 OK") {
		t.Fatalf("DONE: %q", got)
	}
}

// TestHibernateGoroutines: 200 sessions in IDLE leave the server with
// about the goroutines it had before they came (its poller's one more),
// and each is told of a delivery and ends IDLE normally.
func TestHibernateGoroutines(t *testing.T) {
	const sessions = 200
	e := newEnv(t, true, nil)
	time.Sleep(20 * time.Millisecond)
	before := runtime.NumGoroutine()
	cs := make([]*client, sessions)
	for i := range cs {
		cs[i] = dial(t, e.addr)
		cs[i].idle()
	}
	waitHibernating(t, e.srv, sessions)
	const slack = 5 // the poller's, and goroutines on their way out
	var extra int
	for range 100 {
		if extra = runtime.NumGoroutine() - before; extra <= slack {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if extra > slack {
		t.Errorf("%d sessions in IDLE run %d goroutines more than none, want at most %d", sessions, extra, slack)
	}
	e.b.deliver()
	for i, c := range cs {
		if l := c.line(); l != "* 4 EXISTS" {
			t.Fatalf("session %d: update in IDLE: %q", i, l)
		}
	}
	waitHibernating(t, e.srv, sessions)
	for _, c := range cs {
		c.done()
	}
	if got := e.srv.hibernating(); got != 0 {
		t.Errorf("%d sessions hibernate after DONE, want 0", got)
	}
}

// TestHibernateBetweenCommands: a logged-in session quiet for
// hibernateAfter hibernates between commands, and its next command runs.
func TestHibernateBetweenCommands(t *testing.T) {
	e := newEnv(t, true, func(c *Config) { c.hibernateAfter = 50 * time.Millisecond })
	c := dial(t, e.addr)
	c.login()
	c.cmd("SELECT INBOX")
	waitHibernating(t, e.srv, 1)
	if got := c.cmd("FETCH 1:* UID"); len(got) != 4 || !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
		t.Fatalf("FETCH after hibernation: %q", got)
	}
	waitHibernating(t, e.srv, 1)

	// Not before login, nor over TLS.
	pre := dial(t, e.addr)
	tc := dial(t, e.addr)
	if got := tc.cmd("STARTTLS"); !strings.HasPrefix(last(got), "t1 OK") {
		t.Fatalf("STARTTLS: %q", got)
	}
	tc.startTLSAfterOK()
	tc.idle()
	time.Sleep(200 * time.Millisecond)
	if got := e.srv.hibernating(); got != 1 {
		t.Errorf("%d sessions hibernate, want 1 (not the one before login, nor the TLS one)", got)
	}
	e.b.deliver()
	if l := tc.line(); l != "* 4 EXISTS" {
		t.Fatalf("TLS session: update in IDLE: %q", l)
	}
	tc.done()
	if got := pre.cmd("NOOP"); !strings.HasPrefix(last(got), "t1 OK") {
		t.Fatalf("NOOP before login: %q", got)
	}
}

// TestHibernateNotify: under NOTIFY a session hibernated between
// commands is told of new mail as it comes (RFC 5465 §3), and sleeps on.
func TestHibernateNotify(t *testing.T) {
	e := newEnv(t, true, func(c *Config) { c.hibernateAfter = 50 * time.Millisecond })
	e.b.mu.Lock()
	e.b.notifier = true
	e.b.mu.Unlock()
	c := dial(t, e.addr)
	c.login()
	c.cmd("SELECT INBOX")
	if got := c.cmd("NOTIFY SET (SELECTED (MessageNew MessageExpunge))"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
		t.Fatalf("NOTIFY: %q", got)
	}
	for n := 4; n <= 5; n++ {
		waitHibernating(t, e.srv, 1)
		e.b.deliver()
		if l := c.line(); l != fmt.Sprintf("* %d EXISTS", n) {
			t.Fatalf("NOTIFY, hibernated: %q", l)
		}
	}
	waitHibernating(t, e.srv, 1)
	if got := c.cmd("NOTIFY NONE"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
		t.Fatalf("NOTIFY NONE: %q", got)
	}
}

// TestHibernateAutologout: a hibernated session is still logged out when
// its client has been silent for the autologout time (RFC 9051 §5.4).
func TestHibernateAutologout(t *testing.T) {
	const timeout = 400 * time.Millisecond
	e := newEnv(t, true, func(c *Config) {
		c.authTimeout = timeout
		c.hibernateAfter = 20 * time.Millisecond
	})
	idle := dial(t, e.addr)
	idle.idle()
	start := time.Now()
	quiet := dial(t, e.addr)
	quiet.login()
	waitHibernating(t, e.srv, 2)
	for name, c := range map[string]*client{"IDLE": idle, "between commands": quiet} {
		if bye, eof := c.closed(2 * time.Second); !bye || !eof {
			t.Errorf("%s: BYE %v, closed %v", name, bye, eof)
		}
	}
	if d := time.Since(start); d < timeout || d > timeout+time.Second {
		t.Errorf("autologout after %v, want %v", d, timeout)
	}
	waitHibernating(t, e.srv, 0)
	waitGone(t, e.srv)
}

// waitGone waits until the server has no sessions left.
func waitGone(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Connections() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left, want 0", s.Connections())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHibernateShutdownAndClose: Shutdown says BYE to hibernated sessions
// and waits for them; Close cuts the rest and returns.
func TestHibernateShutdownAndClose(t *testing.T) {
	for _, shutdown := range []bool{true, false} {
		e := newEnv(t, true, nil)
		cs := make([]*client, 20)
		for i := range cs {
			cs[i] = dial(t, e.addr)
			cs[i].idle()
		}
		waitHibernating(t, e.srv, len(cs))
		ended := make(chan struct{})
		go func() {
			if shutdown {
				e.srv.Shutdown(t.Context())
			} else {
				e.srv.Close()
			}
			close(ended)
		}()
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatalf("shutdown %v: the server did not return", shutdown)
		}
		for i, c := range cs {
			bye, eof := c.closed(2 * time.Second)
			if !eof || shutdown && !bye {
				t.Errorf("shutdown %v: session %d: BYE %v, closed %v", shutdown, i, bye, eof)
			}
		}
		waitGone(t, e.srv)
	}
}
