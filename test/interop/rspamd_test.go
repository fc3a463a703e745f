//go:build interop

package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/rspamd"
	"pail/internal/testnet"
)

// gtubeMsg carries the GTUBE pattern, which rspamd rejects whatever else
// it finds (its GTUBE symbol forces the reject action).
const gtubeMsg = "From: Jack <jack@town.test>\r\nTo: bob@hill.test\r\nSubject: gtube\r\n" +
	"Message-ID: <gtube-1@town.test>\r\nDate: Mon, 07 Dec 2026 05:00:00 +0000\r\n\r\n" +
	"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"

// gtubeVariant is the GTUBE pattern with its first letter changed: with
// rspamd's enable_test_patterns, "Y" forces add header, "Z" rewrite
// subject, "A" no action.
func gtubeVariant(letter, subject string) string {
	return "From: Jack <jack@town.test>\nTo: bob@hill.test\nSubject: " + subject + "\n" +
		"Message-ID: <" + subject + "@town.test>\nDate: Mon, 07 Dec 2026 05:00:00 +0000\n\n" +
		letter + "JS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n"
}

// cleanMsg is ordinary mail.
const cleanMsg = "From: Jack <jack@town.test>\r\nTo: Bob <bob@hill.test>\r\nSubject: lunch on Tuesday\r\n" +
	"Message-ID: <lunch-1@town.test>\r\nDate: Mon, 07 Dec 2026 05:00:00 +0000\r\n\r\n" +
	"Shall we meet for lunch on Tuesday at the place by the river? Jill said she might come too.\r\n"

// spamMsg returns a message with enough words for rspamd's Bayes
// classifier (it skips messages of fewer than 11 tokens).
func spamMsg(n int) string {
	return fmt.Sprintf("From: Deals <deals@shop.test>\r\nTo: bob@hill.test\r\nSubject: offer %d\r\n"+
		"Message-ID: <offer-%d@shop.test>\r\nDate: Mon, 07 Dec 2026 05:00:00 +0000\r\n\r\n"+
		"Buy cheap replica watches today number %d, genuine discount prices, limited offer, click the "+
		"link below to order now and save money on luxury brands before the stock runs out.\r\n", n, n, n)
}

// imapMoveScript moves the messages whose Subject contains argv[7] from
// mailbox argv[5] to argv[6] with UID MOVE (RFC 6851) over python3's
// imaplib and prints "moved N".
const imapMoveScript = `
import imaplib, sys
host, port, user, pw, src, dst, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
M = imaplib.IMAP4(host, port)
typ, data = M.login(user, pw)
if typ != 'OK': sys.exit('LOGIN %r' % data)
typ, data = M.select(src)
if typ != 'OK': sys.exit('SELECT %s %r' % (src, data))
typ, data = M.uid('SEARCH', 'SUBJECT', '"%s"' % subject)
if typ != 'OK' or not data[0]: sys.exit('SEARCH %r %r' % (typ, data))
uids = data[0].decode().split()
typ, data = M.uid('MOVE', ','.join(uids), dst)
if typ != 'OK': sys.exit('MOVE %r' % data)
M.logout()
print('moved %d' % len(uids))
`

// TestRspamd runs Debian's rspamd for real: pail's client gets reject
// for GTUBE and no action for a clean message (with the X-Spam-* fields
// that delivery would add); a whole pail with [spam] set asks rspamd at
// the end of DATA (GTUBE over SMTP refused 554 5.7.1, add header filed
// in Junk, no action in the INBOX, each with rspamd's fields), teaches
// rspamd what a user does over IMAP: MOVE into Junk arrives as
// learnspam, out of Junk as learnham (rspamd's learned count grows each
// time), Junk to Trash teaches nothing; and, rspamd stopped, still
// delivers mail and counts the failure.
func TestRspamd(t *testing.T) {
	python := needPeer(t, "/usr/bin/python3")
	rs := startRspamd(t)
	ctx := context.Background()

	client, err := rspamd.New(rspamd.Config{URL: rs.normal, ControllerURL: rs.controller, Password: rspamdPassword, Timeout: 10 * time.Second, MTAName: testHostname}, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := rspamd.Envelope{From: "jack@town.test", Rcpts: []string{"bob@hill.test"}, ClientIP: netip.MustParseAddr("192.0.2.10"), Helo: "mail.town.test", QueueID: "Q1"}
	res, err := client.Check(ctx, strings.NewReader(gtubeMsg), env)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Verdict(); res.Action != rspamd.Reject || v.Disposition != rspamd.Refuse || v.Code != 554 || v.Enhanced != "5.7.1" {
		t.Errorf("GTUBE: %+v → %+v", res, v)
	}
	if _, ok := res.Symbols["GTUBE"]; !ok {
		t.Errorf("GTUBE: symbols %v", res.Symbols)
	}
	// From a file, as pail's spool is: sent chunked, length unknown.
	f := filepath.Join(t.TempDir(), "clean.eml")
	writeHarnessFile(t, f, []byte(cleanMsg), 0o644)
	file, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	res, err = client.Check(ctx, file, env)
	if err != nil {
		t.Fatal(err)
	}
	v := res.Verdict()
	if res.Action != rspamd.NoAction || v.Disposition != rspamd.Deliver || res.RequiredScore <= 0 {
		t.Errorf("clean message: %+v → %+v", res, v)
	}
	if fields, _ := v.Edit(nil); !strings.HasPrefix(fields, "X-Spam-Status: No, score=") || !strings.Contains(fields, "\r\nX-Spam-Action: no action\r\n") ||
		strings.Contains(fields, "X-Spam-Flag") {
		t.Errorf("clean message's fields:\n%s", fields)
	}

	// The controller wants its password from 127.0.0.1 here, so the
	// learning below works only if pail sends it.
	noPassword, err := rspamd.New(rspamd.Config{URL: rs.normal, ControllerURL: rs.controller, Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := noPassword.Learn(ctx, true, strings.NewReader(spamMsg(0))); err == nil || errors.Is(err, rspamd.ErrNotLearned) {
		t.Fatalf("learnspam without the password: %v", err)
	}

	// A whole pail with [spam], and a user moving mail over IMAP.
	imapAddr, metricsAddr := testnet.Addr(t), testnet.Addr(t)
	s := newServer(t, serverOptions{listen: []string{fmt.Sprintf("imap = %q", imapAddr), fmt.Sprintf("metrics = %q", metricsAddr)}})
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = fmt.Appendf(cfg, "\n[spam]\nrspamd = %q\nrspamd_controller = %q\nrspamd_password = %q\ntimeout = \"10s\"\n", rs.normal, rs.controller, rspamdPassword)
	writeHarnessFile(t, s.config, cfg, 0o600)
	bob := "bob@" + testDomain
	s.addUser(bob)
	s.start()
	if err := waitListening(imapAddr, s.proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatal(err)
	}
	host, port := dnsHostPort(t, imapAddr)
	move := func(src, dst, subject string) {
		t.Helper()
		got := runPeer(t, peerTimeout, "", python, "-c", imapMoveScript, host, port, bob, passwordFor(bob), src, dst, subject)
		if !strings.Contains(got, "moved 1") {
			t.Fatalf("imaplib MOVE %s → %s: %s", src, dst, got)
		}
	}
	// learnedAfter waits until rspamd's learned count passes n.
	learnedAfter := func(n int, what string) int {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got := rs.learned()
			if got > n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: rspamd's learned count stayed %d\npail:\n%s", what, got, s.log.tail(8000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	metrics := func() string {
		t.Helper()
		resp, err := rspamdHTTP.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("pail /metrics: %s", resp.Status)
		}
		return string(b)
	}

	// At the end of DATA, with [inbound] checks off (this harness has no
	// name server): rspamd's reject is refused 554 5.7.1 and stored
	// nowhere; add header goes to Junk, no action to the INBOX, each with
	// rspamd's X-Spam-* fields and without the sender's.
	data := func(name, msg string) string {
		f := filepath.Join(t.TempDir(), name)
		writeHarnessFile(t, f, []byte(strings.ReplaceAll(msg, "\r\n", "\n")), 0o644)
		return "@" + f
	}
	swaks := []string{"--from", "jack@town.test", "--to", bob, "--data"}
	out := swaksRefused(t, s.smtpAddr, append(swaks, data("gtube.eml", gtubeMsg))...)
	if !strings.Contains(out, "<** 554 5.7.1 ") {
		t.Fatalf("GTUBE over SMTP: want 554 5.7.1 at the end of DATA\n%s", out)
	}
	forged := "X-Spam-Flag: NO\nX-Spam-Status: No, score=-20.00 required=15.00\n"
	runSwaks(t, s.smtpAddr, append(swaks, data("clean.eml", forged+cleanMsg))...)
	runSwaks(t, s.smtpAddr, append(swaks, data("addheader.eml", forged+gtubeVariant("Y", "maybe-spam")))...)
	runSwaks(t, s.smtpAddr, append(swaks, data("rewrite.eml", gtubeVariant("Z", "rewrite-me")))...)
	inbox, junk := s.export(bob), s.exportFolder(bob, "Junk")
	if len(inbox) != 1 || len(junk) != 2 {
		t.Fatalf("after GTUBE, a clean message, an add-header and a rewrite-subject one: INBOX %d, Junk %d messages; want 1 and 2", len(inbox), len(junk))
	}
	head := func(m mboxMessage) string { h, _, _ := strings.Cut(string(m.Raw), "\n\n"); return h + "\n" }
	if h := head(inbox[0]); !strings.Contains(h, "Subject: lunch on Tuesday\n") || !strings.Contains(h, "\nX-Spam-Status: No, score=") ||
		!strings.Contains(h, "\nX-Spam-Action: no action\n") || strings.Contains(h, "X-Spam-Flag") || strings.Contains(h, "score=-20") {
		t.Errorf("clean message in the INBOX:\n%s", h)
	}
	if h := head(junk[0]); !strings.Contains(h, "Subject: maybe-spam\n") || !strings.Contains(h, "\nX-Spam-Flag: YES\n") ||
		!strings.Contains(h, "\nX-Spam-Status: Yes, score=") || !strings.Contains(h, "\nX-Spam-Action: add header\n") ||
		strings.Contains(h, "X-Spam-Flag: NO") || strings.Contains(h, "score=-20") {
		t.Errorf("add-header message in Junk:\n%s", h)
	}
	// rspamd's rewritten Subject replaces the sender's.
	if h := head(junk[1]); strings.Count(h, "\nSubject: ") != 1 || !strings.Contains(h, "\nSubject: *** SPAM *** rewrite-me\n") ||
		!strings.Contains(h, "\nX-Spam-Action: rewrite subject\n") {
		t.Errorf("rewrite-subject message in Junk:\n%s", h)
	}
	if m := metrics(); !strings.Contains(m, `pail_rspamd_checks_total{result="reject"} 1`) || !strings.Contains(m, `pail_rspamd_checks_total{result="add header"} 1`) ||
		!strings.Contains(m, `pail_rspamd_checks_total{result="rewrite subject"} 1`) ||
		!strings.Contains(m, `pail_rspamd_checks_total{result="no action"} 1`) {
		t.Errorf("pail's metrics after three checks:\n%s", m)
	}

	sendMail(t, s.smtpAddr, "deals@shop.test", []string{bob}, strings.ReplaceAll(spamMsg(1), "\r\n", "\n"))
	sendMail(t, s.smtpAddr, "deals@shop.test", []string{bob}, strings.ReplaceAll(spamMsg(2), "\r\n", "\n"))
	n := rs.learned()
	move("INBOX", "Junk", "offer 1")
	n = learnedAfter(n, "MOVE INBOX → Junk")
	if m := metrics(); !strings.Contains(m, `pail_rspamd_learns_total{kind="spam",result="learned"} 1`) {
		t.Errorf("pail's metrics after a learnspam:\n%s", m)
	}
	move("Junk", "INBOX", "offer 1")
	n = learnedAfter(n, "MOVE Junk → INBOX")
	if m := metrics(); !strings.Contains(m, `pail_rspamd_learns_total{kind="ham",result="learned"} 1`) {
		t.Errorf("pail's metrics after a learnham:\n%s", m)
	}
	move("INBOX", "Junk", "offer 2")
	n = learnedAfter(n, "MOVE INBOX → Junk (2)")
	move("Junk", "Trash", "offer 2")
	time.Sleep(time.Second)
	if got := rs.learned(); got != n {
		t.Errorf("MOVE Junk → Trash taught rspamd: learned %d → %d", n, got)
	}
	if m := metrics(); !strings.Contains(m, `pail_rspamd_learns_total{kind="spam",result="learned"} 2`) || strings.Contains(m, `kind="ham",result="learned"} 2`) {
		t.Errorf("pail's metrics after the moves:\n%s", m)
	}

	// rspamd stopped: mail is delivered all the same, without rspamd's
	// fields (and still without the sender's), and the failure counted.
	rs.stop()
	before := len(s.export(bob))
	runSwaks(t, s.smtpAddr, append(swaks, data("down.eml", forged+strings.Replace(cleanMsg, "lunch on Tuesday", "rspamd down", 1)))...)
	inbox = s.export(bob)
	if len(inbox) != before+1 {
		t.Fatalf("rspamd down: INBOX %d → %d messages", before, len(inbox))
	}
	if h := head(inbox[len(inbox)-1]); !strings.Contains(h, "Subject: rspamd down\n") || strings.Contains(h, "X-Spam-") {
		t.Errorf("delivered while rspamd was down:\n%s", h)
	}
	if m := metrics(); !strings.Contains(m, `pail_rspamd_checks_total{result="error"} 1`) {
		t.Errorf("pail's metrics with rspamd down:\n%s", m)
	}
	if !strings.Contains(s.log.String(), "rspamd gave no answer") {
		t.Errorf("pail logged nothing of rspamd's failure:\n%s", s.log.tail(4000))
	}
}
