package smtpd

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// sendMail runs one transaction on a fresh connection and returns the
// reply to the end of data.
func sendMail(t *testing.T, addr, from string, rcpts []string, content string) string {
	t.Helper()
	c := dial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<"+from+">", "250 ")
	for _, r := range rcpts {
		c.cmd("RCPT TO:<"+r+">", "250 ")
	}
	c.cmd("DATA", "354 ")
	c.send(content + ".\r\n")
	r, err := c.reply()
	if err != nil {
		t.Fatalf("end of data: %q, %v", r, err)
	}
	c.cmd("QUIT", "221 ")
	return r
}

const (
	forgery = "From: billing@bank.test\r\nMessage-ID: <invoice-2026-12@bank.test>\r\nSubject: invoice\r\n\r\nPay to the attacker.\r\n"
	invoice = "From: billing@bank.test\r\nMessage-ID: <invoice-2026-12@bank.test>\r\nSubject: invoice\r\n\r\nPay to the bank.\r\n"
)

// TestForgedMessageIDDoesNotSuppress: a message that reuses another's
// Message-ID is a different message and is stored; only the same data
// from the same sender to the same recipient (a queue's retry) is stored
// once.
func TestForgedMessageIDDoesNotSuppress(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	jill := []string{"jill@hill.test"}
	if r := sendMail(t, env.addr, "attacker@evil.test", jill, forgery); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("forgery: %q", r)
	}
	if r := sendMail(t, env.addr, "billing@bank.test", jill, invoice); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("invoice: %q", r)
	}
	msgs := env.inbox(t, "jill@hill.test")
	if len(msgs) != 2 || !strings.HasSuffix(msgs[1], "Pay to the bank.\r\n") {
		t.Fatalf("jill has %d messages, want the forgery and the invoice: %q", len(msgs), msgs)
	}
	// The same bytes, even from the same sender, to a different recipient
	// or from a different sender are other messages.
	sendMail(t, env.addr, "billing@bank.test", []string{"bob@hill.test"}, invoice)
	sendMail(t, env.addr, "other@bank.test", jill, invoice)
	if n := len(env.inbox(t, "bob@hill.test")); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
	if n := len(env.inbox(t, "jill@hill.test")); n != 3 {
		t.Errorf("jill has %d messages, want 3", n)
	}
	// The bank's queue retries (it lost our 250 in a crash): 250 again,
	// and no second copy.
	if r := sendMail(t, env.addr, "billing@bank.test", jill, invoice); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("retry: %q", r)
	}
	if n := len(env.inbox(t, "jill@hill.test")); n != 3 {
		t.Errorf("after the retry jill has %d messages, want 3", n)
	}
}

// TestStoreFailureIs451: when storing fails for one local recipient of a
// message (here a trigger in the real database refuses bob's copy), the
// client gets 451 4.3.0 and no recipient gets the message.
func TestStoreFailureIs451(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	ctx := context.Background()
	bob, err := env.st.AccountByAddress(ctx, "bob@hill.test")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := env.st.MailboxByName(ctx, bob.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(env.st.Dir(), "pail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(`CREATE TRIGGER fail_bob BEFORE INSERT ON messages WHEN NEW.mailbox_id = %d
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`, mb.ID)); err != nil {
		t.Fatal(err)
	}
	if r := sendMail(t, env.addr, "jack@town.test", []string{"jill@hill.test", "bob@hill.test"}, invoice); !strings.HasPrefix(r, "451 4.3.0 ") {
		t.Errorf("end of data: %q, want 451 4.3.0", r)
	}
	if n := len(env.inbox(t, "jill@hill.test")); n != 0 {
		t.Errorf("jill has %d messages from a failed delivery", n)
	}
	if p, err := env.st.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("store check: %v %v", p, err)
	}
}

// TestSubmissionRetryWithoutMessageID: a user agent that sends no Date or
// Message-ID and sends the message again (it lost our 250) sends the same
// data; pail's added fields differ between the two, but bob gets it once.
func TestSubmissionRetryWithoutMessageID(t *testing.T) {
	env := newTestEnv(t, testOpts{role: RoleSubmission})
	for range 2 {
		c := dial(t, env.addr)
		c.expect("220 ")
		c.cmd("EHLO client.test", "250")
		c.cmd("AUTH PLAIN AGppbGxAaGlsbC50ZXN0AHMzY3JldA==", "235 ")
		c.cmd("MAIL FROM:<jill@hill.test>", "250 ")
		c.cmd("RCPT TO:<bob@hill.test>", "250 ")
		c.cmd("DATA", "354 ")
		c.send("From: jill@hill.test\r\nSubject: no id\r\n\r\nhello\r\n.\r\n")
		c.expect("250 ")
		c.cmd("QUIT", "221 ")
	}
	msgs := env.inbox(t, "bob@hill.test")
	if len(msgs) != 1 || !strings.Contains(msgs[0], "\r\nMessage-ID: <") {
		t.Errorf("bob has %d messages, want 1 with pail's Message-ID: %q", len(msgs), msgs)
	}
}
