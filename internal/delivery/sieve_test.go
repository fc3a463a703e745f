package delivery_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"pail/internal/delivery"
	"pail/internal/maillog"
	"pail/internal/queue"
	"pail/internal/sieve"
	"pail/internal/store"
)

// sieveEnv is commitEnv with Sieve on: dave and erin local, their
// scripts set by each test.
type sieveEnv struct {
	*commitEnv
	d    *delivery.Deliverer
	slog *strings.Builder
}

func newSieveEnv(t *testing.T) *sieveEnv {
	e := &sieveEnv{commitEnv: newCommitEnv(t), slog: &strings.Builder{}}
	e.d = delivery.NewDeliverer(e.st, e.q, maillog.New(e.log), "mx.hill.test")
	e.d.SetSieve(&delivery.Sieve{Store: e.st, Log: slog.New(slog.NewTextHandler(e.slog, nil))})
	return e
}

func (e *sieveEnv) setScript(t *testing.T, acct store.Account, src string) {
	t.Helper()
	ctx := context.Background()
	if _, err := sieve.Compile([]byte(src), sieve.Options{}); err != nil {
		t.Fatalf("script: %v", err)
	}
	if err := e.st.PutSieveScript(ctx, acct.ID, "s", []byte(src), store.SieveLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetActiveSieveScript(ctx, acct.ID, "s"); err != nil {
		t.Fatal(err)
	}
}

// deliver sends content from sender to the local accounts given.
func (e *sieveEnv) deliver(t *testing.T, from, content string, junk bool, accts ...store.Account) error {
	t.Helper()
	var rcpts []delivery.Recipient
	for _, a := range accts {
		rcpts = append(rcpts, delivery.Recipient{Address: a.Address, Route: delivery.Route{Accounts: []delivery.Target{{ID: a.ID, Address: a.Address}}}})
	}
	m, err := e.d.NewMessage(from, rcpts, delivery.Trace{Helo: "mx.bank.test", Proto: "ESMTP"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if junk {
		m.FileIn(delivery.Junk)
	}
	return m.Commit(context.Background())
}

// mailbox lists the flags of each message in acct's mailbox name; nil
// when the mailbox does not exist.
func (e *sieveEnv) mailbox(t *testing.T, acct store.Account, name string) [][]string {
	t.Helper()
	ctx := context.Background()
	mb, err := e.st.MailboxByName(ctx, acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := [][]string{}
	for _, m := range msgs {
		out = append(out, m.Flags)
	}
	return out
}

// queued returns the queued messages with their bytes.
func (e *sieveEnv) queued(t *testing.T) ([]queue.Message, []string) {
	t.Helper()
	msgs, err := e.q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		b, err := readBody(e.q.OpenBody(context.Background(), m))
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	return msgs, texts
}

const sieveMail = "From: Bill <billing@bank.test>\r\nTo: dave@hill.test, erin@hill.test\r\nSubject: Your bill\r\nMessage-ID: <b1@bank.test>\r\n\r\nPay up.\r\n"

func TestSieveFileInto(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `require ["fileinto", "imap4flags", "copy", "mailbox"];
if header :contains "subject" "bill" { fileinto :flags "\\Flagged" :create "Bills/2026"; fileinto :copy "Nowhere"; }
`)
	if err := e.deliver(t, "billing@bank.test", sieveMail, false, e.dave, e.erin); err != nil {
		t.Fatal(err)
	}
	if got := e.mailbox(t, e.dave, "Bills/2026"); len(got) != 1 || !slices.Contains(got[0], `\Flagged`) {
		t.Errorf("Bills/2026: %v", got)
	}
	// fileinto a missing mailbox without :create: INBOX, logged; the
	// :copy leaves no implicit keep of its own (the other fileinto
	// cancelled it).
	if got := e.mailbox(t, e.dave, "INBOX"); len(got) != 1 {
		t.Errorf("dave's INBOX: %v", got)
	}
	if e.mailbox(t, e.dave, "Nowhere") != nil || !strings.Contains(e.slog.String(), "no such mailbox") {
		t.Errorf("missing mailbox created or not logged: %s", e.slog.String())
	}
	if got := e.mailbox(t, e.erin, "INBOX"); len(got) != 1 {
		t.Errorf("erin, who has no script: %v", got)
	}
	// The same data again (a client's retry) is a duplicate for every copy.
	if err := e.deliver(t, "billing@bank.test", sieveMail, false, e.dave, e.erin); err != nil {
		t.Fatal(err)
	}
	if len(e.mailbox(t, e.dave, "Bills/2026")) != 1 || len(e.mailbox(t, e.dave, "INBOX")) != 1 {
		t.Errorf("retry stored copies again")
	}
}

func TestSieveKeepDiscardAndErrors(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `require ["imap4flags"]; if header :is "subject" "junk" { discard; stop; } addflag "\\Seen"; keep;`)
	if err := e.deliver(t, "x@bank.test", "Subject: junk\r\n\r\nx\r\n", false, e.dave); err != nil {
		t.Fatal(err)
	}
	if got := e.mailbox(t, e.dave, "INBOX"); len(got) != 0 || !strings.Contains(e.log.String(), "status=discarded") {
		t.Errorf("discarded: %v\n%s", got, e.log.String())
	}
	// Keep after the spam verdict files in Junk, with the flags.
	if err := e.deliver(t, "x@bank.test", "Subject: hi\r\n\r\nx\r\n", true, e.dave); err != nil {
		t.Fatal(err)
	}
	if got := e.mailbox(t, e.dave, "Junk"); len(got) != 1 || !slices.Contains(got[0], `\Seen`) {
		t.Errorf("keep of junk: %v", got)
	}
	// A run-time error (include with no loader's script) keeps in INBOX.
	e.setScript(t, e.dave, `require ["include"]; include "missing"; discard;`)
	if err := e.deliver(t, "x@bank.test", "Subject: hi\r\n\r\ny\r\n", false, e.dave); err != nil {
		t.Fatal(err)
	}
	if got := e.mailbox(t, e.dave, "INBOX"); len(got) != 1 || !strings.Contains(e.slog.String(), "sieve script failed") {
		t.Errorf("failing script: %v\n%s", got, e.slog.String())
	}
}

func TestSieveReject(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `require ["reject"]; reject "I do not want bills";`)
	err := e.deliver(t, "billing@bank.test", sieveMail, false, e.dave)
	var re *delivery.RejectError
	if !errors.As(err, &re) || re.Reason != "I do not want bills" {
		t.Fatalf("one recipient, reject: %v", err)
	}
	if msgs, _ := e.queued(t); len(msgs) != 0 || len(e.mailbox(t, e.dave, "INBOX")) != 0 {
		t.Errorf("a refused message left something behind: %v", msgs)
	}
	// With another recipient that takes it: accepted, a DSN to the sender.
	if err := e.deliver(t, "billing@bank.test", sieveMail, false, e.dave, e.erin); err != nil {
		t.Fatal(err)
	}
	msgs, texts := e.queued(t)
	if len(msgs) != 1 || msgs[0].From != "" || msgs[0].Recipients[0].Address != "billing@bank.test" ||
		!strings.Contains(texts[0], "I do not want bills") || !strings.Contains(texts[0], "Status: 5.7.1") {
		t.Errorf("reject notice: %+v\n%s", msgs, texts)
	}
	if len(e.mailbox(t, e.erin, "INBOX")) != 1 || len(e.mailbox(t, e.dave, "INBOX")) != 0 {
		t.Error("copies")
	}
}

func TestSieveRedirect(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `redirect "dave@elsewhere.test";`)
	if err := e.deliver(t, "billing@bank.test", sieveMail, false, e.dave); err != nil {
		t.Fatal(err)
	}
	msgs, texts := e.queued(t)
	if len(msgs) != 1 || msgs[0].From != "billing@bank.test" || msgs[0].Recipients[0].Address != "dave@elsewhere.test" ||
		!strings.HasPrefix(texts[0], "X-Pail-Redirected-By: dave@hill.test\r\n") || !strings.Contains(texts[0], "Pay up.") {
		t.Fatalf("redirect: %+v\n%q", msgs, texts)
	}
	if len(e.mailbox(t, e.dave, "INBOX")) != 0 {
		t.Error("redirect kept a copy")
	}
	// The copy coming back is kept, not redirected again.
	if err := e.deliver(t, "billing@bank.test", texts[0], false, e.dave); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.queued(t); len(msgs) != 1 || len(e.mailbox(t, e.dave, "INBOX")) != 1 || !strings.Contains(e.slog.String(), "already redirected") {
		t.Errorf("loop: %d queued\n%s", len(msgs), e.slog.String())
	}
}

func TestSieveVacation(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `require "vacation"; vacation :days 3 :subject "Away" "Back on Monday.";`)
	for range 2 {
		if err := e.deliver(t, "billing@bank.test", sieveMail+"\r\n", false, e.dave); err != nil {
			t.Fatal(err)
		}
	}
	msgs, texts := e.queued(t)
	if len(msgs) != 1 {
		t.Fatalf("%d answers, want 1", len(msgs))
	}
	for _, want := range []string{"From: dave@hill.test\r\n", "To: <billing@bank.test>\r\n", "Subject: Away\r\n",
		"In-Reply-To: <b1@bank.test>\r\n", "References: <b1@bank.test>\r\n", "Auto-Submitted: auto-replied", "Back on Monday."} {
		if !strings.Contains(texts[0], want) {
			t.Errorf("answer lacks %q:\n%s", want, texts[0])
		}
	}
	if msgs[0].From != "" || msgs[0].Recipients[0].Address != "billing@bank.test" {
		t.Errorf("envelope: %+v", msgs[0])
	}
	// Never to lists or bulk mail, nor the null sender.
	for _, c := range []struct{ from, content string }{
		{"news@list.test", "List-Id: <news.list.test>\r\nTo: dave@hill.test\r\n\r\nx\r\n"},
		{"bulk@list.test", "Precedence: bulk\r\nTo: dave@hill.test\r\n\r\nx\r\n"},
		{"", "To: dave@hill.test\r\n\r\nx\r\n"},
	} {
		if err := e.deliver(t, c.from, c.content, false, e.dave); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, _ := e.queued(t); len(msgs) != 1 {
		t.Errorf("%d answers after list, bulk and null-sender mail", len(msgs))
	}
}

// A redirect that cannot be queued fails the message (the client is told
// to try again), although the copies kept by :copy are stored: a 250
// would promise a redirect that never happens.
func TestSieveRedirectQueueFailure(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `require "copy"; redirect :copy "dave@elsewhere.test";`)
	e.q.Close() // Enqueue now fails: the database is closed
	if err := e.deliver(t, "billing@bank.test", sieveMail, false, e.dave); err == nil {
		t.Fatal("Commit succeeded though the redirect was not queued")
	}
	if got := e.mailbox(t, e.dave, "INBOX"); len(got) != 1 {
		t.Errorf("the kept copy: %v", got)
	}
}

// duplicate (RFC 7352) sees the keys recorded after earlier deliveries:
// a second message with the same Message-ID is discarded.
func TestSieveDuplicate(t *testing.T) {
	e := newSieveEnv(t)
	e.setScript(t, e.dave, `require "duplicate"; if duplicate { discard; }`)
	for _, body := range []string{"one\r\n", "two, a different body\r\n"} {
		if err := e.deliver(t, "billing@bank.test", "Message-ID: <same@bank.test>\r\nSubject: x\r\n\r\n"+body, false, e.dave); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.mailbox(t, e.dave, "INBOX"); len(got) != 1 {
		t.Errorf("INBOX has %d messages, want 1", len(got))
	}
}

// Vacation takes the aliases that reach the account as the user's own
// addresses (RFC 5230 §4.5): mail addressed to an alias is answered, and
// mail sent from one (the user writing to themself) is not.
func TestSieveVacationAliases(t *testing.T) {
	e := newSieveEnv(t)
	ctx := context.Background()
	if err := e.st.AddAlias(ctx, "sales@hill.test", []string{e.dave.Address}); err != nil {
		t.Fatal(err)
	}
	e.setScript(t, e.dave, `require "vacation"; vacation :days 3 "Away.";`)
	if err := e.deliver(t, "sam@bank.test", "From: sam@bank.test\r\nTo: sales@hill.test\r\nSubject: q\r\n\r\nx\r\n", false, e.dave); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.queued(t); len(msgs) != 1 {
		t.Fatalf("%d answers to mail for the alias, want 1", len(msgs))
	}
	if err := e.deliver(t, "sales@hill.test", "From: sales@hill.test\r\nTo: sales@hill.test\r\nSubject: note\r\n\r\nx\r\n", false, e.dave); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.queued(t); len(msgs) != 1 {
		t.Errorf("%d answers after mail from the user's own alias, want still 1", len(msgs))
	}
}
