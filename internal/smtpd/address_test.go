package smtpd

import (
	"regexp"
	"strings"
	"testing"

	"pail/internal/dsn"
)

// TestTrailingDotNormalised: "alice@hill.test." in MAIL and RCPT is taken,
// stored and logged as alice@hill.test.
func TestTrailingDotNormalised(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@Town.Test.>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test.>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: dot\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	msgs := env.inbox(t, "jill@hill.test")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if !strings.HasPrefix(msgs[0], "Return-Path: <jack@Town.Test>\r\n") || !strings.Contains(msgs[0], "for <jill@hill.test>;") {
		t.Errorf("stored with the dot:\n%s", msgs[0])
	}
	if l := env.mailLog.String(); !strings.Contains(l, "from=<jack@Town.Test> to=<jill@hill.test> ") {
		t.Errorf("mail log: %s", l)
	}
}

// TestPostmasterAtHostname: the address a DSN asks its reader to contact
// is accepted and delivered (RFC 5321 §4.5.1), like postmaster of the
// local domain, while other users at the host name stay foreign.
func TestPostmasterAtHostname(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	report := string(dsn.Build(dsn.Report{ReportingMTA: "mx.hill.test", To: "jack@town.test",
		Recipients: []dsn.Recipient{{Address: "x@elsewhere.test", Status: "5.1.1", Reason: "no such user"}}}))
	m := regexp.MustCompile(`contact <([^>]+)>`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("DSN names no contact:\n%s", report)
	}
	before := len(env.inbox(t, "jill@hill.test")) + len(env.inbox(t, "bob@hill.test"))
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@mx.hill.test>", `554 5\.7\.1`)
	c.cmd("RCPT TO:<"+m[1]+">", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: about your bounce\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	if after := len(env.inbox(t, "jill@hill.test")) + len(env.inbox(t, "bob@hill.test")); after != before+1 {
		t.Errorf("postmaster mail not delivered: %d messages, want %d", after, before+1)
	}
}
