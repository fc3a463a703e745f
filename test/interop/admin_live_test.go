//go:build interop

package interop

import (
	"strings"
	"testing"
)

// TestAdminChangesSeenLive checks that a running server sees accounts and
// aliases added and removed by the admin commands, without a restart.
func TestAdminChangesSeenLive(t *testing.T) {
	s := startServer(t, serverOptions{})

	c := dialSMTP(t, s.smtpAddr)
	c.cmd("EHLO town.test", "250")
	c.cmd("MAIL FROM:<jack@town.test>", "250")
	c.cmd("RCPT TO:<late@hill.test>", "550 5.1.1")

	s.addUser("late@hill.test")
	c.cmd("RCPT TO:<late@hill.test>", "250")
	s.addAlias("crew@hill.test", "late@hill.test")
	c.cmd("RCPT TO:<crew@hill.test>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: live\r\n\r\nhello\r\n.\r\n")
	c.expect("250")

	msgs := s.export("late@hill.test")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Raw), "Subject: live") {
		t.Fatalf("late@hill.test has %d messages", len(msgs))
	}

	s.pail("", []string{"user", "delete"}, "late@hill.test")
	c.cmd("MAIL FROM:<jack@town.test>", "250")
	c.cmd("RCPT TO:<late@hill.test>", "550 5.1.1")
	c.cmd("QUIT", "221")
}
