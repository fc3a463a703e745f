//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/resolve/resolvetest"
	"pail/internal/testnet"
)

// deliveryTimeout bounds the wait for a message to cross from one server
// to the other (the queue tries at once, and within its poll interval of
// a flush).
const deliveryTimeout = 30 * time.Second

// newMailServer writes the config of one of two servers that send each
// other mail, finding each other through the test's DNS server at resolver
// and reaching each other's SMTP port peerPort (the MX port in the real
// world is 25). Like newServer, it does not start the server, stops it when
// the test ends, and logs its output if the test failed.
func newMailServer(t *testing.T, hostname, domain, smtpAddr, submissionAddr, resolver, peerPort string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{
		t:              t,
		dir:            dir,
		config:         filepath.Join(dir, "pail.toml"),
		dataDir:        filepath.Join(dir, "data"),
		smtpAddr:       smtpAddr,
		submissionAddr: submissionAddr,
		log:            &syncBuffer{},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hostname = %q\ndomains  = [%q]\ndata_dir = %q\nresolver = %q\n\n", hostname, domain, s.dataDir, resolver)
	fmt.Fprintf(&b, "[listen]\nsmtp = %q\n", smtpAddr)
	if submissionAddr != "" {
		fmt.Fprintf(&b, "submission = %q\n", submissionAddr)
	}
	fmt.Fprintf(&b, "\n[limits]\nmax_message_bytes = %d\nmax_recipients = %d\n", maxMsgBytes, maxRcpts)
	fmt.Fprintf(&b, "\n[outbound]\nport = %s\nqueue_lifetime = \"1h\"\n", peerPort)
	if err := os.WriteFile(s.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("%s config %s:\n%s", hostname, s.config, b.String())
			t.Logf("%s pail serve output:\n%s", hostname, s.log.tail(maxLogDump))
		}
	})
	return s
}

// relayScript is run as `python3 script.py PORT USER PASSWORD`: it submits
// one message over STARTTLS with AUTH, as a user agent does.
const relayScript = `
import smtplib
import ssl
import sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.town.test", timeout=20)
s.ehlo()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
code, _ = s.starttls(context=ctx)
assert code == 220, code
s.ehlo()
s.login(user, password)
msg = (b"From: Alice <alice@town.test>\r\n"
       b"To: Bob <bob@hill.test>\r\n"
       b"Subject: python to hill\r\n"
       b"\r\n"
       b"Sent with smtplib, no Date or Message-ID of its own.\r\n")
refused = s.sendmail(user, ["bob@hill.test"], msg)
assert refused == {}, refused
s.quit()
print("ok: submitted")
`

// TestQueueTwoServers is the whole path of issue 3: alice@town.test
// submits to town's server, which finds hill.test's MX through DNS and
// delivers over SMTP; a stopped hill makes the message wait in town's
// queue, through a SIGKILL of town, until a flush; a recipient hill
// rejects comes back to alice as a DSN.
func TestQueueTwoServers(t *testing.T) {
	python := needPeer(t, "python3")
	needPeer(t, "swaks")

	townSMTP, townSub, hillSMTP := testnet.Addr(t), testnet.Addr(t), testnet.Addr(t)
	_, townPort, _ := net.SplitHostPort(townSMTP)
	_, hillPort, _ := net.SplitHostPort(hillSMTP)
	dns := resolvetest.Start(t, []string{
		"town.test. 300 IN MX 10 mx.town.test.",
		"mx.town.test. 300 IN A 127.0.0.1",
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 127.0.0.1",
	})
	town := newMailServer(t, "mx.town.test", "town.test", townSMTP, townSub, dns.Addr, hillPort)
	hill := newMailServer(t, "mx.hill.test", "hill.test", hillSMTP, "", dns.Addr, townPort)
	town.addUser("alice@town.test")
	hill.addUser("bob@hill.test")
	town.start()
	hill.start()

	submit := func(to, subject, body string) string {
		t.Helper()
		return runSwaks(t, town.submissionAddr, "--tls",
			"--auth", "PLAIN", "--auth-user", "alice@town.test", "--auth-password", passwordFor("alice@town.test"),
			"--from", "alice@town.test", "--to", to,
			"--header", "Subject: "+subject, "--body", body)
	}

	// 1. swaks over STARTTLS + AUTH PLAIN.
	out := submit("bob@hill.test", "swaks to hill", "Hello Bob, from swaks.")
	if !strings.Contains(out, "TLS started") {
		t.Errorf("swaks did not use TLS:\n%s", out)
	}
	m := waitForMessage(t, hill, town, "bob@hill.test", "swaks to hill")
	checkRelayed(t, m)
	if !strings.Contains(string(m.body()), "Hello Bob, from swaks.") {
		t.Errorf("body %q", m.body())
	}
	if asked := strings.Join(dns.Queries(), ","); !strings.Contains(asked, "hill.test. MX") || !strings.Contains(asked, "mx.hill.test. A") {
		t.Errorf("town did not look up hill's MX and its address; queries: %s", asked)
	}

	// 2. python3 smtplib over STARTTLS + AUTH.
	script := filepath.Join(t.TempDir(), "relay.py")
	if err := os.WriteFile(script, []byte(relayScript), 0o600); err != nil {
		t.Fatal(err)
	}
	_, subPort, _ := net.SplitHostPort(town.submissionAddr)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, script, subPort, "alice@town.test", passwordFor("alice@town.test")).CombinedOutput(); err != nil {
		t.Fatalf("python3 smtplib: %v\n%s", err, out)
	}
	m = waitForMessage(t, hill, town, "bob@hill.test", "python to hill")
	checkRelayed(t, m)
	if m.header("Message-Id") == "" || m.header("Date") == "" {
		t.Errorf("town's submission did not add Message-ID and Date:\n%s", headerBlock(m))
	}

	// 3. hill is down: the message waits in town's queue, survives a
	// SIGKILL of town, and arrives after hill is back and the queue is
	// flushed.
	hill.stop()
	submit("bob@hill.test", "while hill was down", "Patience.")
	list := waitForQueue(t, town, func(l string) bool {
		return strings.Contains(l, "pending   bob@hill.test  attempts=1")
	})
	if !strings.Contains(list, "<alice@town.test>") || !strings.Contains(list, "connect to mx.hill.test") {
		t.Errorf("queue list does not show the sender and the failed attempt:\n%s", list)
	}
	town.kill()
	if l := string(town.pail("", []string{"queue", "list"})); !strings.Contains(l, "pending   bob@hill.test  attempts=1") {
		t.Fatalf("the queued message did not survive SIGKILL:\n%s", l)
	}
	town.start()
	hill.start()
	if out := string(town.pail("", []string{"queue", "flush"})); !strings.HasPrefix(out, "1 recipient(s) due now") {
		t.Errorf("queue flush: %s", out)
	}
	m = waitForMessage(t, hill, town, "bob@hill.test", "while hill was down")
	checkRelayed(t, m)
	waitForQueue(t, town, func(l string) bool { return l == "queue is empty\n" })

	// 4. hill rejects one recipient with 550: bob gets the message, alice
	// a DSN naming the other recipient and hill's reply.
	submit("bob@hill.test,nobody@hill.test", "partly unknown", "One of you does not exist.")
	waitForMessage(t, hill, town, "bob@hill.test", "partly unknown")
	dsn := waitForMessage(t, town, town, "alice@town.test", "Undelivered Mail Returned to Sender")
	if got := dsn.firstLine(); got != "Return-Path: <>" {
		t.Errorf("DSN first line %q, want the null sender", got)
	}
	if ct := dsn.header("Content-Type"); !strings.Contains(ct, "multipart/report") || !strings.Contains(ct, "report-type=delivery-status") {
		t.Errorf("DSN Content-Type %q", ct)
	}
	if got := dsn.header("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("DSN Auto-Submitted %q", got)
	}
	raw := string(dsn.Raw)
	for _, want := range []string{
		"<nobody@hill.test>:",
		"Final-Recipient: rfc822; nobody@hill.test\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.hill.test\nDiagnostic-Code: smtp; 550 5.1.1",
		"Content-Type: text/rfc822-headers",
		"Subject: partly unknown",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("DSN lacks %q:\n%s", want, raw)
		}
	}
	if strings.Contains(raw, "rfc822; bob@hill.test") || strings.Contains(raw, "One of you does not exist.") {
		t.Errorf("DSN names the delivered recipient or returns the body:\n%s", raw)
	}
	waitForQueue(t, town, func(l string) bool { return l == "queue is empty\n" })
}

// waitForMessage waits until addr's INBOX at s holds a message with the
// subject and returns it; it fails the test if none arrives in time, or
// more than one does. sender's queue is shown on failure.
func waitForMessage(t *testing.T, s, sender *server, addr, subject string) mboxMessage {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		msgs := s.export(addr)
		if found := withSubject(msgs, subject); len(found) > 0 {
			return oneWithSubject(t, msgs, subject, addr+" INBOX")
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q did not reach %s within %v; INBOX:\n%ssender's queue:\n%s",
				subject, addr, deliveryTimeout, summary(msgs), sender.pail("", []string{"queue", "list"}))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitForQueue polls `pail queue list` on s until ok accepts its output,
// and returns that output.
func waitForQueue(t *testing.T, s *server, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		out := string(s.pail("", []string{"queue", "list"}))
		if ok(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not reach the expected state within %v:\n%s", deliveryTimeout, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkRelayed checks the trace of a message that alice submitted to town
// and town relayed to hill: Return-Path, town's Received header for the
// authenticated submission, and hill's for the relay over STARTTLS.
func checkRelayed(t *testing.T, m mboxMessage) {
	t.Helper()
	if got, want := m.firstLine(), "Return-Path: <alice@town.test>"; got != want {
		t.Errorf("first header line %q, want %q", got, want)
	}
	var byTown, byHill bool
	for _, r := range m.headers("Received") {
		r = strings.Join(strings.Fields(r), " ")
		if strings.Contains(r, "by mx.town.test (pail) with ESMTPSA") {
			byTown = true
		}
		if strings.HasPrefix(r, "from mx.town.test ") && strings.Contains(r, "by mx.hill.test (pail) with ESMTPS ") {
			byHill = true
		}
	}
	if !byTown || !byHill {
		t.Errorf("Received headers lack town's submission (%v) or hill's STARTTLS relay from town (%v):\n%s", byTown, byHill, headerBlock(m))
	}
}
