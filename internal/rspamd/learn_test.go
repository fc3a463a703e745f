package rspamd

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"pail/internal/metrics"
	"pail/internal/store"
)

// learnEnv is a real store with bob@hill.test (its default mailboxes)
// and a recording controller.
type learnEnv struct {
	st                 *store.Store
	acct               store.Account
	inbox, junk, trash store.Mailbox
	archive            store.Mailbox
	rec                *recorder
	client             *Client
	reg                *metrics.Registry
}

func newLearnEnv(t *testing.T) *learnEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acct, err := st.AddAccount(ctx, "bob@hill.test", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	e := &learnEnv{st: st, acct: acct, reg: metrics.NewRegistry()}
	for name, mb := range map[string]*store.Mailbox{"INBOX": &e.inbox, "Junk": &e.junk, "Trash": &e.trash} {
		if *mb, err = st.MailboxByName(ctx, acct.ID, name); err != nil {
			t.Fatal(err)
		}
	}
	if e.archive, err = st.CreateMailboxPath(ctx, acct.ID, "Old", ""); err != nil {
		t.Fatal(err)
	}
	if e.junk.SpecialUse != `\Junk` || e.trash.SpecialUse != `\Trash` {
		t.Fatalf("store's default mailboxes: %+v %+v", e.junk, e.trash)
	}
	e.rec = newRecorder(t, jsonReply(`{"success":true}`))
	e.client = newClient(t, Config{URL: e.rec.url, ControllerURL: e.rec.url}, e.reg)
	return e
}

func (e *learnEnv) deliver(t *testing.T, mailbox, msg string) uint32 {
	t.Helper()
	sp, err := e.st.NewBody()
	if err != nil {
		t.Fatal(err)
	}
	sp.Write([]byte(msg))
	ds, err := e.st.DeliverBody(context.Background(), sp, []store.Delivery{{AccountID: e.acct.ID, Mailbox: mailbox}})
	if err != nil {
		t.Fatal(err)
	}
	return ds[0].UID
}

func TestLearning(t *testing.T) {
	in, junk, trash, other := store.Mailbox{Name: "INBOX"}, store.Mailbox{SpecialUse: `\Junk`}, store.Mailbox{SpecialUse: `\Trash`}, store.Mailbox{Name: "Old"}
	for _, tc := range []struct {
		from, to store.Mailbox
		spam, ok bool
	}{
		{in, junk, true, true},
		{trash, junk, true, true},
		{other, store.Mailbox{SpecialUse: `\junk`}, true, true},
		{junk, in, false, true},
		{junk, other, false, true},
		{junk, trash, false, false},
		{junk, junk, false, false},
		{in, trash, false, false},
		{in, other, false, false},
	} {
		if spam, ok := Learning(tc.from, tc.to); spam != tc.spam || ok != tc.ok {
			t.Errorf("Learning(%q, %q) = %v, %v", tc.from.SpecialUse, tc.to.SpecialUse, spam, ok)
		}
	}
}

// TestLearner: messages filed into Junk reach the controller's
// learnspam, out of Junk learnham, to Trash nothing; each as stored.
func TestLearner(t *testing.T) {
	e := newLearnEnv(t)
	l := NewLearner(e.client, e.st, nil, e.reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	spam := "Subject: cheap watches\r\n\r\nbuy now\r\n"
	ham := "Subject: lunch\r\n\r\nTuesday?\r\n"
	binned := "Subject: old news\r\n\r\ngone\r\n"
	l.Filed(e.inbox, e.junk, []uint32{e.deliver(t, "Junk", spam)})
	l.Filed(e.junk, e.trash, []uint32{e.deliver(t, "Trash", binned)})
	l.Filed(e.inbox, e.archive, []uint32{e.deliver(t, "Old", binned)})
	l.Filed(e.junk, e.archive, []uint32{e.deliver(t, "Old", ham), 999}) // 999: gone meanwhile
	deadline := time.Now().Add(5 * time.Second)
	for len(e.rec.requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // nothing more arrives
	reqs := e.rec.requests()
	if len(reqs) != 2 || reqs[0].path != "/learnspam" || reqs[0].body != spam || reqs[1].path != "/learnham" || reqs[1].body != ham {
		t.Fatalf("requests %+v", reqs)
	}
	m := metricsText(e.reg)
	for _, want := range []string{`pail_rspamd_learns_total{kind="spam",result="learned"} 1`, `pail_rspamd_learns_total{kind="ham",result="learned"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
}

// TestLearnerQueueFull: Filed never waits; past the queue's bound the
// surplus is dropped and counted.
func TestLearnerQueueFull(t *testing.T) {
	e := newLearnEnv(t)
	l := NewLearner(e.client, e.st, nil, e.reg) // not running: nothing drains the queue
	uids := make([]uint32, learnQueueLen+5)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	start := time.Now()
	l.Filed(e.inbox, e.junk, uids)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Filed took %s", d)
	}
	if m := metricsText(e.reg); !strings.Contains(m, `pail_rspamd_learns_total{kind="spam",result="dropped"} 5`) {
		t.Errorf("metrics:\n%s", m)
	}
}

// TestLearnerRspamdDown: a controller that fails is logged and counted,
// and the next message is still learned.
func TestLearnerRspamdDown(t *testing.T) {
	e := newLearnEnv(t)
	fail := true
	e.rec.reply = func(w http.ResponseWriter, r *http.Request) {
		if fail {
			fail = false
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"success":true}`)
	}
	l := NewLearner(e.client, e.st, nil, e.reg)
	l.Filed(e.inbox, e.junk, []uint32{e.deliver(t, "Junk", "Subject: a\r\n\r\na\r\n"), e.deliver(t, "Junk", "Subject: b\r\n\r\nb\r\n")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.rec.requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	m := metricsText(e.reg)
	for _, want := range []string{`pail_rspamd_learns_total{kind="spam",result="error"} 1`, `pail_rspamd_learns_total{kind="spam",result="learned"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
}
