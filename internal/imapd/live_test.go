package imapd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/store"
)

func TestTwoSessionsAndIdle(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "", testMsg)
	e.deliver(t, e.acct.ID, "", testMsg)
	a := e.dial(t)
	b := e.dial(t)
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")
	// IDLE hears of SMTP-style delivery within a second.
	idle := a.idle()
	start := time.Now()
	e.deliver(t, e.acct.ID, "", testMsg)
	a.waitFor(time.Second, func() bool { return slices.Contains(a.existsSeen, 3) })
	t.Logf("EXISTS after %v", time.Since(start))
	// Flag changes and expunges by the other session, during IDLE.
	b.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	a.waitFor(time.Second, func() bool { return hasFlag(a.flags[1], `\Deleted`) })
	b.ok("EXPUNGE")
	a.waitFor(time.Second, func() bool { return slices.Contains(a.expunged, 1) })
	if err := a.done(idle).err(); err != nil {
		t.Fatal(err)
	}
	// Without IDLE, changes arrive at the next command; EXPUNGE is held
	// back during FETCH (RFC 9051 §7.5.1) and sent at NOOP.
	b.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	n := len(a.expunged)
	a.ok("FETCH 1:2 (FLAGS)")
	if len(a.expunged) != n {
		t.Error("EXPUNGE sent during FETCH")
	}
	a.ok("NOOP")
	a.waitFor(time.Second, func() bool { return len(a.expunged) == n+1 })
	if a.count != 1 {
		t.Errorf("client thinks %d messages", a.count)
	}
}

func TestIdleSeesOtherProcess(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t)
	a.ok("SELECT INBOX")
	a.idle()
	// A second Store on the same directory plays `pail import`.
	other, err := store.Open(context.Background(), e.st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sp, _ := other.NewBody()
	sp.Write([]byte(testMsg))
	if _, err := other.DeliverBody(context.Background(), sp, []store.Delivery{{AccountID: e.acct.ID}}); err != nil {
		t.Fatal(err)
	}
	a.waitFor(2*time.Second, func() bool { return slices.Contains(a.existsSeen, 1) })
}

// TestConcurrentClients has many clients APPEND, FETCH, STORE and EXPUNGE
// on shared mailboxes for a bounded time, then checks the store message by
// message: UIDs ascending and unique, every row has its file, each
// message's flags are what its last successful STORE set, no protocol error.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, nil)
	const clients = 8
	duration := 3 * time.Second
	if testing.Short() {
		duration = time.Second
	}
	mailboxes := []string{"INBOX", "Archive"}
	var ops, failures atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(duration)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			mb := mailboxes[i%len(mailboxes)]
			c := dialClient(t, e.addr)
			// A protocol error ends this client's goroutine, not the test's.
			c.fail = func(format string, args ...any) {
				failures.Add(1)
				t.Errorf("client %d: "+format, append([]any{i}, args...)...)
				runtime.Goexit()
			}
			c.login("bob@hill.com", testPassword)
			c.ok("SELECT " + mb)
			for time.Now().Before(stop) {
				ops.Add(1)
				n := c.count
				switch op := rng.IntN(10); {
				case op < 3 || n == 0:
					msg := fmt.Sprintf("Subject: c%d\r\n\r\nbody %d\r\n", i, rng.Int())
					if err := c.doLiteral("APPEND "+mb, msg).err(); err != nil {
						c.fail("APPEND: %v", err)
					}
					c.ok("NOOP")
				case op < 6:
					seq := rng.IntN(int(n)) + 1
					c.ok(fmt.Sprintf("FETCH %d (FLAGS ENVELOPE BODY[])", seq))
				case op < 9:
					seq := rng.IntN(int(n)) + 1
					flags := `\Flagged`
					if rng.IntN(3) == 0 {
						flags += ` \Deleted`
					}
					c.ok(fmt.Sprintf("STORE %d +FLAGS (%s)", seq, flags))
				default:
					c.ok("EXPUNGE")
				}
			}
			c.ok("LOGOUT")
		}()
	}
	wg.Wait()
	t.Logf("%d operations, %d failures", ops.Load(), failures.Load())
	ctx := context.Background()
	for _, name := range mailboxes {
		mb, err := e.st.MailboxByName(ctx, e.acct.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := e.st.Messages(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		var last uint32
		for _, m := range msgs {
			if m.UID <= last {
				t.Errorf("%s: UID %d after %d", name, m.UID, last)
			}
			last = m.UID
			if m.UID >= mb.UIDNext {
				t.Errorf("%s: UID %d >= UIDNEXT %d", name, m.UID, mb.UIDNext)
			}
			if err := readWhole(ctx, e.st, m); err != nil {
				t.Errorf("%s: UID %d bytes: %v", name, m.UID, err)
			}
			if slices.Contains(m.Flags, `\Deleted`) && !slices.Contains(m.Flags, `\Flagged`) {
				t.Errorf("%s: UID %d has \\Deleted without \\Flagged: %v", name, m.UID, m.Flags)
			}
		}
	}
}
