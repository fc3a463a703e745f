package imapd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"pail/internal/store"
)

// events collects the unilateral responses a client receives.
type events struct {
	mu       sync.Mutex
	exists   []uint32
	expunged []uint32
	flags    map[uint32][]imap.Flag
	ch       chan struct{}
}

func newEvents() *events {
	return &events{flags: map[uint32][]imap.Flag{}, ch: make(chan struct{}, 100)}
}

func (ev *events) handler() *imapclient.UnilateralDataHandler {
	note := func() {
		select {
		case ev.ch <- struct{}{}:
		default:
		}
	}
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { ev.mu.Lock(); ev.expunged = append(ev.expunged, seq); ev.mu.Unlock(); note() },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				ev.mu.Lock()
				ev.exists = append(ev.exists, *d.NumMessages)
				ev.mu.Unlock()
				note()
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, _ := m.Collect()
			if buf != nil && buf.Flags != nil {
				ev.mu.Lock()
				ev.flags[buf.SeqNum] = buf.Flags
				ev.mu.Unlock()
				note()
			}
		},
	}
}

func (ev *events) wait(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		ev.mu.Lock()
		ok := cond()
		ev.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ev.ch:
		case <-deadline:
			t.Fatalf("condition not met within %v", d)
		}
	}
}

func TestTwoSessionsAndIdle(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "", testMsg)
	e.deliver(t, e.acct.ID, "", testMsg)
	ev := newEvents()
	a := e.dial(t, ev.handler())
	b := e.dial(t, nil)
	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// IDLE hears of SMTP-style delivery within a second.
	idle, err := a.Idle()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.deliver(t, e.acct.ID, "", testMsg)
	ev.wait(t, time.Second, func() bool { return slices.Contains(ev.exists, 3) })
	t.Logf("EXISTS after %v", time.Since(start))
	// Flag changes and expunges by the other session, during IDLE.
	if err := b.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, time.Second, func() bool { return slices.Contains(ev.flags[1], imap.FlagDeleted) })
	if _, err := b.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, time.Second, func() bool { return slices.Contains(ev.expunged, 1) })
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	// Without IDLE, changes arrive at the next command; EXPUNGE is held
	// back during FETCH (RFC 9051 §7.5.1) and sent at NOOP.
	if err := b.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	n := len(ev.expunged)
	ev.mu.Unlock()
	if _, err := a.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Flags: true}).Collect(); err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	if len(ev.expunged) != n {
		t.Error("EXPUNGE sent during FETCH")
	}
	ev.mu.Unlock()
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, time.Second, func() bool { return len(ev.expunged) == n+1 })
	if a.Mailbox().NumMessages != 1 {
		t.Errorf("client thinks %d messages", a.Mailbox().NumMessages)
	}
}

func TestIdleSeesOtherProcess(t *testing.T) {
	e := newEnv(t, nil)
	ev := newEvents()
	a := e.dial(t, ev.handler())
	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := a.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// A second Store on the same directory plays `pail import`.
	other, err := store.Open(context.Background(), e.st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sp, _ := other.NewSpool()
	sp.Write([]byte(testMsg))
	if _, err := other.Deliver(context.Background(), sp, []store.Delivery{{AccountID: e.acct.ID}}); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, 2*time.Second, func() bool { return slices.Contains(ev.exists, 1) })
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
			c, err := imapclient.DialInsecure(e.addr, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Login("bob@hill.com", testPassword).Wait(); err != nil {
				t.Error(err)
				return
			}
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			mb := mailboxes[i%len(mailboxes)]
			if _, err := c.Select(mb, nil).Wait(); err != nil {
				t.Error(err)
				return
			}
			fail := func(what string, err error) {
				failures.Add(1)
				t.Errorf("client %d %s: %v", i, what, err)
			}
			for time.Now().Before(stop) {
				ops.Add(1)
				n := c.Mailbox().NumMessages
				switch op := rng.IntN(10); {
				case op < 3 || n == 0:
					msg := fmt.Sprintf("Subject: c%d\r\n\r\nbody %d\r\n", i, rng.Int())
					cmd := c.Append(mb, int64(len(msg)), nil)
					cmd.Write([]byte(msg))
					cmd.Close()
					if _, err := cmd.Wait(); err != nil {
						fail("APPEND", err)
					}
					if err := c.Noop().Wait(); err != nil {
						fail("NOOP", err)
					}
				case op < 6:
					seq := uint32(rng.IntN(int(n))) + 1
					if _, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{Flags: true, Envelope: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
						fail("FETCH", err)
					}
				case op < 9:
					seq := uint32(rng.IntN(int(n))) + 1
					flags := []imap.Flag{imap.FlagFlagged}
					if rng.IntN(3) == 0 {
						flags = append(flags, imap.FlagDeleted)
					}
					if _, err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: flags}, nil).Collect(); err != nil {
						fail("STORE", err)
					}
				default:
					if _, err := c.Expunge().Collect(); err != nil {
						fail("EXPUNGE", err)
					}
				}
			}
			c.Logout().Wait()
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
			if fi, err := os.Stat(m.Path); err != nil || fi.Size() != m.Size {
				t.Errorf("%s: UID %d file: %v", name, m.UID, err)
			}
			if slices.Contains(m.Flags, `\Deleted`) && !slices.Contains(m.Flags, `\Flagged`) {
				t.Errorf("%s: UID %d has \\Deleted without \\Flagged: %v", name, m.UID, m.Flags)
			}
		}
	}
}
