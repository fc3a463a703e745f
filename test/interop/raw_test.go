//go:build interop

package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGreetingAndEHLO checks the greeting, the EHLO extensions and the
// informational commands over a raw socket.
func TestGreetingAndEHLO(t *testing.T) {
	s := startServer(t, serverOptions{})
	c := dialSMTP(t, s.smtpAddr)

	r := c.cmd("EHLO client.town.test", "250")
	exts := map[string]string{}
	for _, l := range r.lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		exts[strings.ToUpper(k)] = v
	}
	for _, want := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE",
		"ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING"} {
		if _, ok := exts[want]; !ok {
			t.Errorf("EHLO does not advertise %s; reply:\n%s", want, r)
		}
	}
	if got, want := exts["SIZE"], fmt.Sprint(maxMsgBytes); got != want {
		t.Errorf("SIZE %q, want %q (limits.max_message_bytes)", got, want)
	}
	if _, ok := exts["AUTH"]; ok {
		t.Errorf("AUTH advertised before TLS; passwords would cross in clear text:\n%s", r)
	}

	c.cmd("HELP", "214")
	c.cmd("VRFY jill", "252")
	c.cmd("NOOP", "250")
	c.cmd("RSET", "250")
	c.cmd("QUIT", "221")
	c.expectClosed(5 * time.Second)
}

// TestTelnetDialogue replays the textbook session typed into telnet: HELO,
// "MAIL FROM: <...>" with a space, dot-stuffed body lines, QUIT.
func TestTelnetDialogue(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")

	c := dialSMTP(t, s.smtpAddr)
	c.cmd("HELO town.test", "250")
	c.cmd("MAIL FROM: <jack@town.test>", "250")
	c.cmd("RCPT TO: <jill@hill.test>", "250")
	c.cmd("DATA", "354")
	c.send("From: jack@town.test\r\n" +
		"To: jill@hill.test\r\n" +
		"Subject: telnet\r\n" +
		"\r\n" +
		"Jack and Jill went up the hill\r\n" +
		"..to fetch a pail of water.\r\n" +
		"...\r\n" +
		"From the top they tumbled.\r\n" +
		">From quoted already.\r\n" +
		".\r\n")
	c.expect("250")
	c.cmd("QUIT", "221")

	m := oneWithSubject(t, s.export("jill@hill.test"), "telnet", "jill INBOX")
	checkTrace(t, m, "jack@town.test")
	want := "Jack and Jill went up the hill\n" +
		".to fetch a pail of water.\n" +
		"..\n" +
		"From the top they tumbled.\n" +
		">From quoted already.\n"
	if got := string(m.body()); got != want {
		t.Errorf("body after dot-unstuffing and mbox round trip:\n%q\nwant:\n%q", got, want)
	}
}

// TestChunking sends a message in two BDAT chunks (RFC 3030), where a
// leading dot is data, not stuffing.
func TestChunking(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")

	c := dialSMTP(t, s.smtpAddr)
	c.cmd("EHLO client.town.test", "250")
	c.cmd("MAIL FROM:<jack@town.test>", "250")
	c.cmd("RCPT TO:<jill@hill.test>", "250")
	part1 := "From: jack@town.test\r\nTo: jill@hill.test\r\nSubject: chunked\r\n\r\n"
	part2 := ".a leading dot is data in BDAT\r\nsecond chunk\r\n"
	c.send(fmt.Sprintf("BDAT %d\r\n%s", len(part1), part1))
	c.expect("250")
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(part2), part2))
	c.expect("250")
	c.cmd("QUIT", "221")

	m := oneWithSubject(t, s.export("jill@hill.test"), "chunked", "jill INBOX")
	checkTrace(t, m, "jack@town.test")
	if got, want := string(m.body()), ".a leading dot is data in BDAT\nsecond chunk\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}

// TestDeliveryRouting checks where local mail goes: subaddresses, the
// postmaster, aliases and bounces with the null sender.
func TestDeliveryRouting(t *testing.T) {
	s := newServer(t, serverOptions{})
	// Admin commands work before the server runs; the first account
	// receives postmaster's mail.
	s.addUser("alice@hill.test")
	s.addUser("bob@hill.test")
	s.addUser("carol@hill.test")
	s.addAlias("team@hill.test", "bob@hill.test", "carol@hill.test")
	s.start()

	msg := func(to, subject string) string {
		return "From: jack@town.test\nTo: " + to + "\nSubject: " + subject + "\n\nRouting test.\n"
	}
	sendMail(t, s.smtpAddr, "jack@town.test", []string{"bob+news@hill.test"}, msg("bob+news@hill.test", "subaddress"))
	sendMail(t, s.smtpAddr, "jack@town.test", []string{"postmaster@hill.test"}, msg("postmaster@hill.test", "postmaster"))
	sendMail(t, s.smtpAddr, "jack@town.test", []string{"team@hill.test"}, msg("team@hill.test", "alias"))
	sendMail(t, s.smtpAddr, "", []string{"alice@hill.test"}, msg("alice@hill.test", "null sender"))

	alice := s.export("alice@hill.test")
	bob := s.export("bob@hill.test")
	carol := s.export("carol@hill.test")

	checkTrace(t, oneWithSubject(t, bob, "subaddress", "bob INBOX"), "jack@town.test")
	checkTrace(t, oneWithSubject(t, alice, "postmaster", "alice INBOX (first account, postmaster)"), "jack@town.test")
	checkTrace(t, oneWithSubject(t, bob, "alias", "bob INBOX (via team@)"), "jack@town.test")
	checkTrace(t, oneWithSubject(t, carol, "alias", "carol INBOX (via team@)"), "jack@town.test")
	checkTrace(t, oneWithSubject(t, alice, "null sender", "alice INBOX"), "")

	if got := len(alice) + len(bob) + len(carol); got != 5 {
		t.Errorf("%d messages stored in all, want 5:\nalice:\n%sbob:\n%scarol:\n%s",
			got, summary(alice), summary(bob), summary(carol))
	}
}
