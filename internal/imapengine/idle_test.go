package imapengine

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIdleOneGoroutine: a connection in IDLE costs one goroutine (the
// engine's own, waiting for DONE), over plain text and after STARTTLS
// alike, and it still hears of every change, also while the client is in
// the middle of typing DONE. Plain sessions hibernate (with none) unless
// Config.NoHibernate: both ways are run.
func TestIdleOneGoroutine(t *testing.T) {
	for _, noHibernate := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoHibernate=%v", noHibernate), func(t *testing.T) {
			testIdleOneGoroutine(t, noHibernate)
		})
	}
}

func testIdleOneGoroutine(t *testing.T, noHibernate bool) {
	const sessions = 20
	e := newEnv(t, true, func(c *Config) { c.NoHibernate = noHibernate })
	time.Sleep(20 * time.Millisecond)
	before := runtime.NumGoroutine()
	var cs []*client
	for i := range sessions {
		c := dial(t, e.addr)
		if i%2 == 1 {
			if got := c.cmd("STARTTLS"); !strings.HasPrefix(last(got), "t1 OK") {
				t.Fatalf("STARTTLS: %q", got)
			}
			c.startTLSAfterOK()
		}
		c.login()
		c.cmd("SELECT INBOX")
		c.send("i IDLE\r\n")
		if l := c.line(); !strings.HasPrefix(l, "+ ") {
			t.Fatalf("IDLE: %q", l)
		}
		cs = append(cs, c)
	}
	// Let the goroutines of the handshakes and logins end.
	var extra int
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		if extra = runtime.NumGoroutine() - before; extra <= sessions {
			break
		}
	}
	if extra > sessions {
		t.Errorf("%d sessions in IDLE run %d goroutines, want at most one each", sessions, extra)
	}
	for _, c := range cs {
		c.send("DO") // DONE, half of it
	}
	for n := 4; n <= 5; n++ {
		e.b.deliver()
		for i, c := range cs {
			if l := c.line(); l != fmt.Sprintf("* %d EXISTS", n) {
				t.Fatalf("session %d: update %d in IDLE: %q", i, n, l)
			}
		}
	}
	for i, c := range cs {
		c.send("NE\r\n")
		if got := c.until("i"); !strings.HasPrefix(last(got), "i OK") {
			t.Errorf("session %d: DONE: %q", i, got)
		}
		if got := c.cmd("NOOP"); !strings.HasPrefix(last(got), fmt.Sprintf("t%d OK", c.n)) {
			t.Errorf("session %d: NOOP after IDLE: %q", i, got)
		}
	}
}
