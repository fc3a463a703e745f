package smtpd

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"pail/internal/store"
)

// noticeQueue keeps what delivery queues (the notices to senders).
type noticeQueue struct {
	mu   sync.Mutex
	msgs []string
}

func (q *noticeQueue) Enqueue(ctx context.Context, id, from string, rcpts []string, body *io.SectionReader, sign bool) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, "to:"+strings.Join(rcpts, ",")+"\n"+string(b))
	return nil
}

// fill stores a message of n octets for addr, outside SMTP.
func (e *testEnv) fill(t *testing.T, addr string, n int) {
	t.Helper()
	ctx := context.Background()
	acct, err := e.st.AccountByAddress(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := e.st.NewBody()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Write([]byte("Subject: filler\r\n\r\n" + strings.Repeat("x", n) + "\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: acct.ID}}); err != nil {
		t.Fatal(err)
	}
}

// TestQuotaAtRcpt: a recipient already at its quota is refused at RCPT
// with 452 4.2.2; the other recipient of the transaction gets the message.
func TestQuotaAtRcpt(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	ctx := context.Background()
	if err := env.st.SetQuota(ctx, "jill@hill.test", 100); err != nil {
		t.Fatal(err)
	}
	env.fill(t, "jill@hill.test", 100)
	c := dial(t, env.addr)
	c.expect(`220 `)
	c.cmd("EHLO town.test", "250[ -]")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", `452 4\.2\.2 Mailbox full`)
	c.cmd("RCPT TO:<bob@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: pail\r\n\r\nof water\r\n.\r\n")
	c.expect("250 ")
	if n := len(env.inbox(t, "jill@hill.test")); n != 1 {
		t.Errorf("jill has %d messages, want only the filler", n)
	}
	if n := len(env.inbox(t, "bob@hill.test")); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
	if !strings.Contains(env.mailLog.String(), "reason=\"452 4.2.2 Mailbox full\"") {
		t.Errorf("mail log: %s", env.mailLog)
	}
}

// TestQuotaAtData: a message that would take its only recipient past its
// quota is refused at the end of data with 452 4.2.2 and not stored;
// with another recipient that has room, that one gets it, the full one
// does not, and the sender is sent a notice naming the full mailbox.
func TestQuotaAtData(t *testing.T) {
	q := &noticeQueue{}
	env := newTestEnv(t, testOpts{queue: q})
	ctx := context.Background()
	if err := env.st.SetQuota(ctx, "jill@hill.test", 300); err != nil {
		t.Fatal(err)
	}
	big := "Subject: pail\r\n\r\n" + strings.Repeat("water ", 100) + "\r\n.\r\n"
	c := dial(t, env.addr)
	c.expect(`220 `)
	c.cmd("EHLO town.test", "250[ -]")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(big)
	c.expect(`452 4\.2\.2 Mailbox full`)
	if n := len(env.inbox(t, "jill@hill.test")); n != 0 {
		t.Errorf("jill has %d messages after 452", n)
	}
	// A small one still fits.
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: drop\r\n\r\nsmall\r\n.\r\n")
	c.expect("250 ")

	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.cmd("RCPT TO:<bob@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(big)
	c.expect("250 ")
	if n := len(env.inbox(t, "jill@hill.test")); n != 1 {
		t.Errorf("jill has %d messages, want the small one", n)
	}
	if n := len(env.inbox(t, "bob@hill.test")); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) != 1 || !strings.HasPrefix(q.msgs[0], "to:jack@town.test\n") ||
		!strings.Contains(q.msgs[0], "Final-Recipient: rfc822; jill@hill.test") || !strings.Contains(q.msgs[0], "Status: 5.2.2") {
		t.Errorf("notices: %q", q.msgs)
	}
}
