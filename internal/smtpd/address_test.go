package smtpd

import (
	"strings"
	"testing"
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

