package smtpd

import (
	"strings"
	"testing"
	"time"

	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
	"pail/internal/verify"
)

// judgeEnv is an MX server whose end of DATA runs the real checks against
// a test name server.
func judgeEnv(t *testing.T) *testEnv {
	dns := resolvetest.Start(t, []string{
		`town.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.town.test. TXT "v=DMARC1; p=reject"`,
		`bank.test. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.bank.test. TXT "v=DMARC1; p=reject"`,
		`shop.test. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.shop.test. TXT "v=DMARC1; p=quarantine"`,
		`1.0.0.127.in-addr.arpa. PTR mx.town.test.`,
		`mx.town.test. A 127.0.0.1`,
	})
	p := &verify.Pipeline{
		Checker: &verify.Checker{Hostname: "mx.hill.test", Resolver: resolve.New(dns.Addr, time.Second)},
		Judges: []verify.Judge{
			&verify.PolicyJudge{OnReject: verify.Reject, OnQuarantine: verify.Junk, IsLocal: func(d string) bool { return d == "hill.test" }},
			&verify.ScoreJudge{},
		},
	}
	return newTestEnv(t, testOpts{judge: p})
}

// sendFrom runs one MX transaction and returns the reply to the end of
// DATA.
func sendFrom(t *testing.T, e *testEnv, mailFrom, content string) string {
	c := dial(t, e.addr)
	c.expect("220 ")
	c.send("EHLO mx.town.test\r\n")
	c.expect("250-")
	c.send("MAIL FROM:<" + mailFrom + ">\r\n")
	c.expect("250 ")
	c.send("RCPT TO:<jill@hill.test>\r\n")
	c.expect("250 ")
	c.send("DATA\r\n")
	c.expect("354 ")
	c.send(content + ".\r\n")
	r, err := c.reply()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestJudgeAtEndOfData(t *testing.T) {
	e := judgeEnv(t)
	body := "To: jill@hill.test\r\nSubject: hi\r\n" +
		"Authentication-Results: MX.HILL.TEST; dmarc=pass header.from=bank.test\r\n" +
		"Authentication-Results: mx.town.test; spf=pass\r\n\r\nHello.\r\n"

	// DMARC pass: the INBOX, the results on top, the forged field gone,
	// the foreign one kept.
	if r := sendFrom(t, e, "jack@town.test", "From: jack@town.test\r\n"+body); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("pass: %q", r)
	}
	in := e.inbox(t, "jill@hill.test")
	if len(in) != 1 {
		t.Fatalf("INBOX holds %d", len(in))
	}
	lines := strings.SplitN(in[0], "\r\n", 3)
	if !strings.HasPrefix(lines[0], "Return-Path: ") || lines[1] != "Authentication-Results: mx.hill.test;" {
		t.Fatalf("stored copy starts %q", in[0][:200])
	}
	if !strings.Contains(in[0], "dmarc=pass header.from=town.test") || strings.Contains(in[0], "MX.HILL.TEST") || !strings.Contains(in[0], "Authentication-Results: mx.town.test; spf=pass\r\n") {
		t.Fatalf("stored copy:\n%s", in[0])
	}

	// p=reject failed: 550 5.7.1, nothing stored.
	if r := sendFrom(t, e, "jack@town.test", "From: billing@bank.test\r\n"+body); !strings.HasPrefix(r, "550 5.7.1 ") {
		t.Fatalf("reject: %q", r)
	}
	// p=quarantine failed: Junk.
	if r := sendFrom(t, e, "jack@town.test", "From: orders@shop.test\r\n"+body); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("quarantine: %q", r)
	}
	// From a local domain without a pass: Junk too.
	if r := sendFrom(t, e, "jack@town.test", "From: boss@hill.test\r\n"+body); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("local From: %q", r)
	}
	if in := e.inbox(t, "jill@hill.test"); len(in) != 1 {
		t.Fatalf("INBOX holds %d, want 1", len(in))
	}
	junk := e.mailbox(t, "jill@hill.test", "Junk")
	if len(junk) != 2 || !strings.Contains(junk[0], "header.from=shop.test") || !strings.Contains(junk[1], "header.from=hill.test") {
		t.Fatalf("Junk holds %d: %q", len(junk), junk)
	}
	if !strings.Contains(e.mailLog.String(), "verdict=junk") || !strings.Contains(e.mailLog.String(), "rejected") {
		t.Fatalf("mail log:\n%s", e.mailLog)
	}
}

// TestJudgeRejectLogged: a message the judgement refuses at the end of
// DATA is logged with the recipients it was refused for and what the
// checks found, not with an empty to=<>.
func TestJudgeRejectLogged(t *testing.T) {
	e := judgeEnv(t)
	if r := sendFrom(t, e, "jack@town.test", "From: billing@bank.test\r\nTo: jill@hill.test\r\nSubject: pay\r\n\r\nPay now.\r\n"); !strings.HasPrefix(r, "550 5.7.1 ") {
		t.Fatalf("reject: %q", r)
	}
	var line string
	for l := range strings.SplitSeq(e.mailLog.String(), "\n") {
		if strings.Contains(l, " rejected ") {
			line = l
		}
	}
	want := ` rejected client=127.0.0.1 helo=mx.town.test from=<jack@town.test> to=<jill@hill.test> ` +
		`reason="550 5.7.1 DMARC policy of bank.test (p=reject) failed" verdict=reject spf=pass dmarc=fail iprev=pass score=3.0`
	if !strings.HasSuffix(line, want) {
		t.Fatalf("mail log line\n%q\nwant it to end\n%q\nlog:\n%s", line, want, e.mailLog)
	}
}
