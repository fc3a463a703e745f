package smtpd

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/delivery"
	"pail/internal/dnsbl"
	"pail/internal/greylist"
	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

// tracingDeliverer hands each message's trace to a channel, then lets the
// real deliverer store it.
type tracingDeliverer struct {
	Deliverer
	traces chan<- delivery.Trace
}

func (d tracingDeliverer) NewMessage(from string, rcpts []delivery.Recipient, tr delivery.Trace) (*delivery.Message, error) {
	d.traces <- tr
	return d.Deliverer.NewMessage(from, rcpts, tr)
}

// blocklist is a real dnsbl.Checker asking a test name server that lists
// the test client, 127.0.0.1, in bl.test (and in no other list).
func blocklist(t *testing.T, lists ...string) *dnsbl.Checker {
	t.Helper()
	dns := resolvetest.Start(t, []string{
		"1.0.0.127.bl.test. IN A 127.0.0.2",
		"1.0.0.127.bl.test. IN TXT \"Listed for testing, see https://bl.test/127.0.0.1\"",
	})
	return dnsbl.New(dnsbl.Config{Lists: lists, Timeout: time.Second}, resolve.New(dns.Addr, time.Second))
}

// TestDNSBLReject: a listed client is refused 554 5.7.1 at RCPT with the
// list and its reason named, except for mail to postmaster; a client no
// list lists, or a loopback client when loopback is exempt, is accepted.
func TestDNSBLReject(t *testing.T) {
	env := newTestEnv(t, testOpts{blocklist: blocklist(t, "clean.test", "bl.test"), checkLoopback: true})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", `554 5\.7\.1 Client address 127\.0\.0\.1 listed by bl\.test: Listed for testing, see https://bl\.test/127\.0\.0\.1\r\n`)
	c.cmd("RCPT TO:<nobody@hill.test>", `550 5\.1\.1`)
	c.cmd("RCPT TO:<PostMaster@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: why am I listed?\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
	if l := env.mailLog.String(); !strings.Contains(l, `to=<jill@hill.test> reason="554 5.7.1 Client address 127.0.0.1 listed by bl.test`) {
		t.Errorf("mail log has no rejection naming the list:\n%s", l)
	}
	// Only the message to postmaster (whoever that is) was delivered.
	if got := append(env.inbox(t, "jill@hill.test"), env.inbox(t, "bob@hill.test")...); len(got) != 1 || !strings.Contains(got[0], "why am I listed?") {
		t.Errorf("want only the postmaster message delivered, got %q", got)
	}

	for name, o := range map[string]testOpts{
		"not listed":         {blocklist: blocklist(t, "clean.test"), checkLoopback: true},
		"loopback is exempt": {blocklist: blocklist(t, "bl.test")},
	} {
		env := newTestEnv(t, o)
		c := dial(t, env.addr)
		c.expect("220 ")
		c.cmd("EHLO town.test", "250-")
		c.cmd("MAIL FROM:<jack@town.test>", "250 ")
		if r := c.cmd("RCPT TO:<jill@hill.test>", "[0-9]{3} "); !strings.HasPrefix(r, "250 ") {
			t.Errorf("%s: RCPT answered %q", name, r)
		}
	}
}

// TestDNSBLScore: with the score action a listed client's mail is
// accepted and the listing reaches the delivery in Trace.DNSBL.
func TestDNSBLScore(t *testing.T) {
	traces := make(chan delivery.Trace, 1)
	env := newTestEnv(t, testOpts{blocklist: blocklist(t, "bl.test", "clean.test"), checkLoopback: true, dnsblScore: true, traces: traces})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: hello\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	if tr := <-traces; !slices.Equal(tr.DNSBL, []string{"bl.test"}) {
		t.Errorf("Trace.DNSBL = %v, want [bl.test]", tr.DNSBL)
	}
	if n := len(env.inbox(t, "jill@hill.test")); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
}

// TestGreylistSession: the first contact of a triple is deferred 451
// 4.7.1 at RCPT, a retry before the delay too; a retry after it (the
// clock moved, no sleeping) is accepted and delivered, and so is the next
// message. Submission is never greylisted.
func TestGreylistSession(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	gc := &greylist.Config{Delay: 5 * time.Minute, Expire: 35 * 24 * time.Hour}
	env := newTestEnv(t, testOpts{greylist: gc, now: clock, checkLoopback: true})
	sent := 0
	send := func(rcptReply string) {
		t.Helper()
		c := dial(t, env.addr)
		c.expect("220 ")
		c.cmd("EHLO town.test", "250-")
		c.cmd("MAIL FROM:<jack@town.test>", "250 ")
		c.cmd("RCPT TO:<nobody@hill.test>", `550 5\.1\.1`) // unknown users are refused first
		c.cmd("RCPT TO:<jill@hill.test>", rcptReply)
		if strings.HasPrefix(rcptReply, "250") {
			c.cmd("DATA", "354 ")
			sent++
			c.send(fmt.Sprintf("Subject: hello %d\r\n\r\nx\r\n.\r\n", sent))
			c.expect("250 ")
		}
		c.cmd("QUIT", "221 ")
	}
	send(`451 4\.7\.1 Greylisted`)
	advance(4 * time.Minute)
	send(`451 4\.7\.1 `)
	advance(time.Minute)
	send("250 ")
	advance(time.Hour)
	send("250 ")
	if n := len(env.inbox(t, "jill@hill.test")); n != 2 {
		t.Errorf("%d messages delivered, want 2", n)
	}
	if l := env.mailLog.String(); strings.Count(l, `reason="451 4.7.1 Greylisted`) != 2 {
		t.Errorf("mail log should show two deferrals:\n%s", l)
	}

	sub := newTestEnv(t, testOpts{role: RoleSubmission, greylist: gc, now: clock, checkLoopback: true})
	c := dial(t, sub.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("AUTH PLAIN AGppbGxAaGlsbC50ZXN0AHMzY3JldA==", "235 ") // jill@hill.test, testPassword
	c.cmd("MAIL FROM:<jill@hill.test>", "250 ")
	c.cmd("RCPT TO:<bob@hill.test>", "250 ")
}
