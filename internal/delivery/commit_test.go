package delivery_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"pail/internal/delivery"
	"pail/internal/maillog"
	"pail/internal/queue"
	"pail/internal/store"
)

// commitEnv is a real store and a real outgoing queue in one data
// directory, with dave and erin local and carol remote.
type commitEnv struct {
	dir        string
	st         *store.Store
	q          *queue.Queue
	dave, erin store.Account
	log        *strings.Builder
}

func newCommitEnv(t *testing.T) *commitEnv {
	t.Helper()
	ctx := context.Background()
	e := &commitEnv{dir: t.TempDir(), log: &strings.Builder{}}
	var err error
	if e.st, err = store.Open(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.openQueue(t)
	if e.dave, err = e.st.AddAccount(ctx, "dave@hill.test", "h", false); err != nil {
		t.Fatal(err)
	}
	if e.erin, err = e.st.AddAccount(ctx, "erin@hill.test", "h", false); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *commitEnv) openQueue(t *testing.T) {
	t.Helper()
	q, err := queue.Open(context.Background(), queue.Config{Dir: queue.DirIn(e.dir), Hostname: "mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	e.q = q
}

// send runs one SMTP-like transaction through a Deliverer: the same
// content from the same sender to dave, erin and carol@town.test.
func (e *commitEnv) send(t *testing.T, content string) error {
	t.Helper()
	d := delivery.NewDeliverer(e.st, e.q, maillog.New(e.log), "mx.hill.test")
	rcpts := []delivery.Recipient{
		{Address: "dave@hill.test", Route: delivery.Route{Accounts: []delivery.Target{{ID: e.dave.ID, Address: "dave@hill.test"}}}},
		{Address: "erin@hill.test", Route: delivery.Route{Accounts: []delivery.Target{{ID: e.erin.ID, Address: "erin@hill.test"}}}},
		{Address: "carol@town.test", Route: delivery.Route{Remote: []string{"carol@town.test"}}},
	}
	m, err := d.NewMessage("billing@bank.test", rcpts, delivery.Trace{Helo: "mx.bank.test", Proto: "ESMTP"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	return m.Commit(context.Background())
}

// count returns how many messages acct's INBOX holds.
func (e *commitEnv) count(t *testing.T, acct store.Account) int {
	t.Helper()
	ctx := context.Background()
	mb, err := e.st.MailboxByName(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func (e *commitEnv) queued(t *testing.T) int {
	t.Helper()
	msgs, err := e.q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

const invoice = "From: billing@bank.test\r\nMessage-ID: <invoice-2026-12@bank.test>\r\nSubject: invoice\r\n\r\nPay 10.\r\n"

// TestCommitStoreFailureKeepsNothing: when one local recipient's insert
// fails (a trigger in the real database), the message is stored for no
// one, nothing is queued, and Commit fails so that the client is told to
// try again; the retry delivers everything once.
func TestCommitStoreFailureKeepsNothing(t *testing.T) {
	e := newCommitEnv(t)
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "pail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mb, _ := e.st.MailboxByName(ctx, e.erin.ID, "INBOX")
	trigger := fmt.Sprintf(`CREATE TRIGGER fail_erin BEFORE INSERT ON messages WHEN NEW.mailbox_id = %d
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`, mb.ID)
	if _, err := db.Exec(trigger); err != nil {
		t.Fatal(err)
	}
	if err := e.send(t, invoice); err == nil {
		t.Fatal("Commit succeeded though erin's copy failed")
	}
	if d, er, q := e.count(t, e.dave), e.count(t, e.erin), e.queued(t); d+er+q != 0 {
		t.Errorf("after the failure: dave %d, erin %d, queued %d; want nothing kept", d, er, q)
	}
	if strings.Contains(e.log.String(), "bounced") || strings.Contains(e.log.String(), "delivered") {
		t.Errorf("mail log tells of a delivery that did not happen:\n%s", e.log)
	}
	if _, err := db.Exec("DROP TRIGGER fail_erin"); err != nil {
		t.Fatal(err)
	}
	if err := e.send(t, invoice); err != nil {
		t.Fatal(err)
	}
	if d, er, q := e.count(t, e.dave), e.count(t, e.erin), e.queued(t); d != 1 || er != 1 || q != 1 {
		t.Errorf("after the retry: dave %d, erin %d, queued %d; want 1 each", d, er, q)
	}
	if p, err := e.st.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("store check: %v %v", p, err)
	}
}

// TestCommitQueueFailureRetry: local copies are stored before the remote
// ones are queued; when queueing fails the client retries, and the retry
// stores no second local copy and queues the remote copy once.
func TestCommitQueueFailureRetry(t *testing.T) {
	e := newCommitEnv(t)
	e.q.Close() // Enqueue now fails: the database is closed
	if err := e.send(t, invoice); err == nil {
		t.Fatal("Commit succeeded though the queue is closed")
	}
	if d, er := e.count(t, e.dave), e.count(t, e.erin); d != 1 || er != 1 {
		t.Errorf("local copies before queueing: dave %d, erin %d; want 1 each", d, er)
	}
	e.openQueue(t)
	if err := e.send(t, invoice); err != nil {
		t.Fatal(err)
	}
	if d, er, q := e.count(t, e.dave), e.count(t, e.erin), e.queued(t); d != 1 || er != 1 || q != 1 {
		t.Errorf("after the retry: dave %d, erin %d, queued %d; want 1 each", d, er, q)
	}
}

// TestSubmitQueueFailureRetryWithoutMessageID: a submitted message without
// Date and Message-ID (pail adds new ones on every attempt) whose remote
// copy could not be queued after the local copy was stored is retried by
// the client; the retry is the same data, so the local recipient keeps one
// copy and the remote copy is queued once.
func TestSubmitQueueFailureRetryWithoutMessageID(t *testing.T) {
	e := newCommitEnv(t)
	ctx := context.Background()
	r := delivery.NewRouter(e.st, func(d string) bool { return d == "hill.test" }, "")
	submit := func() error {
		d := delivery.NewDeliverer(e.st, e.q, maillog.New(e.log), "mx.hill.test")
		_, err := d.Submit(ctx, r, e.dave, "dave@hill.test", []string{"erin@hill.test", "carol@town.test"},
			strings.NewReader("From: dave@hill.test\r\nSubject: no id\r\n\r\nhello\r\n"), delivery.Trace{Helo: "mua", Proto: "ESMTPSA"})
		return err
	}
	e.q.Close() // Enqueue now fails: the database is closed
	if err := submit(); err == nil {
		t.Fatal("Submit succeeded though the queue is closed")
	}
	if n := e.count(t, e.erin); n != 1 {
		t.Fatalf("erin has %d messages before the retry, want 1", n)
	}
	e.openQueue(t)
	if err := submit(); err != nil {
		t.Fatal(err)
	}
	if er, q := e.count(t, e.erin), e.queued(t); er != 1 || q != 1 {
		t.Errorf("after the retry: erin %d, queued %d; want 1 each", er, q)
	}
}
