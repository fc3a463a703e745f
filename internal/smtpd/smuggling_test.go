package smtpd

import (
	"fmt"
	"regexp"
	"testing"
)

// TestSmugglingVariants sends, over a real socket, each known SMTP
// smuggling end-of-data variant followed by a smuggled second message, in
// DATA and in BDAT. pail must refuse the message (554 5.6.0) and end the
// session, so that the smuggled message is never taken for one. That
// includes the two DATA variants whose line starts ".\r" (not followed by
// LF): dot-unstuffing drops only the period (RFC 5321 §4.5.2), so the CR
// left is a bare CR. (On go-smtp's reader, which dropped the CR too, they
// were stored as one message.)
func TestSmugglingVariants(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	smuggled := "MAIL FROM:<evil@town.test>\r\nRCPT TO:<bob@hill.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"
	lone := regexp.MustCompile("\r[^\n]|[^\r]\n|\r$")
	stored := 0
	for _, end := range []string{
		"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r.\r", "\r\n.\n", "\r\n.\r\r\n", "\r\n\r.\r\n",
	} {
		for _, cmd := range []string{"DATA", "BDAT"} {
			t.Run(fmt.Sprintf("%s %q", cmd, end), func(t *testing.T) {
				c := dial(t, env.addr)
				c.expect("220 ")
				c.cmd("EHLO town.test", "250-")
				c.cmd("MAIL FROM:<jack@town.test>", "250 ")
				c.cmd("RCPT TO:<jill@hill.test>", "250 ")
				body := "Subject: first\r\n\r\nhello" + end + smuggled
				if cmd == "DATA" {
					c.cmd("DATA", "354 ")
					c.send(body + ".\r\n")
				} else {
					c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
				}
				c.expect(`554 5\.6\.0 `)
				if r, err := c.reply(); err == nil {
					t.Errorf("session goes on after the refusal: %q", r)
				}
			})
		}
	}
	if n := len(env.inbox(t, "bob@hill.test")); n != 0 {
		t.Errorf("a smuggled message was delivered: bob has %d", n)
	}
	msgs := env.inbox(t, "jill@hill.test")
	if len(msgs) != stored {
		t.Errorf("jill has %d messages, want %d", len(msgs), stored)
	}
	for _, m := range msgs {
		if lone.MatchString(m) {
			t.Errorf("stored with a lone CR or LF: %q", m)
		}
	}
}
