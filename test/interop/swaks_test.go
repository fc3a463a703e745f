//go:build interop

package interop

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// runSwaks runs swaks against addr with args and fails the test unless it
// exits 0. It returns swaks's transcript.
func runSwaks(t *testing.T, addr string, args ...string) string {
	t.Helper()
	bin := needPeer(t, "swaks")
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	argv := append([]string{"--server", addr, "--helo", "client.town.test", "--timeout", "20s"}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("swaks %s: %v\n%s", strings.Join(argv, " "), err, out.Bytes())
	}
	return out.String()
}

// swaksSupports reports whether this swaks knows a command-line option.
func swaksSupports(t *testing.T, option string) bool {
	t.Helper()
	out, err := exec.Command(needPeer(t, "swaks"), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks --help: %v\n%s", err, out)
	}
	return bytes.Contains(out, []byte(option))
}

// TestSwaksPlain sends one plain message with swaks's defaults.
func TestSwaksPlain(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")

	out := runSwaks(t, s.smtpAddr,
		"--from", "jack@town.test", "--to", "jill@hill.test",
		"--header", "Subject: plain",
		"--body", "Jack and Jill went up the hill to fetch a pail of water.")

	m := oneWithSubject(t, s.export("jill@hill.test"), "plain", "jill INBOX")
	checkTrace(t, m, "jack@town.test")
	if !bytes.Contains(m.body(), []byte("Jack and Jill went up the hill to fetch a pail of water.\n")) {
		t.Errorf("body %q lacks the text swaks sent; transcript:\n%s", m.body(), out)
	}
	if m.header("Message-Id") == "" {
		t.Errorf("swaks's Message-Id header was lost:\n%s", headerBlock(m))
	}
}

// TestSwaksSTARTTLS sends over STARTTLS with the self-signed certificate the
// server made on first start (swaks does not verify it by default).
func TestSwaksSTARTTLS(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")

	out := runSwaks(t, s.smtpAddr, "--tls",
		"--from", "jack@town.test", "--to", "jill@hill.test",
		"--header", "Subject: starttls",
		"--body", "Sent over TLS.")
	if !strings.Contains(out, "TLS started") {
		t.Errorf("swaks did not report TLS; transcript:\n%s", out)
	}

	m := oneWithSubject(t, s.export("jill@hill.test"), "starttls", "jill INBOX")
	checkTrace(t, m, "jack@town.test")
	if !bytes.Contains(m.body(), []byte("Sent over TLS.\n")) {
		t.Errorf("body %q lacks the text swaks sent", m.body())
	}
}

// TestSwaksPipeline sends MAIL, RCPTs and DATA in one PIPELINING batch
// (RFC 2920) to two recipients.
func TestSwaksPipeline(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	s.addUser("bob@hill.test")

	runSwaks(t, s.smtpAddr, "--pipeline",
		"--from", "jack@town.test", "--to", "jill@hill.test,bob@hill.test",
		"--header", "Subject: pipelined",
		"--body", "Two recipients, one batch.")

	for _, who := range []string{"jill@hill.test", "bob@hill.test"} {
		m := oneWithSubject(t, s.export(who), "pipelined", who+" INBOX")
		checkTrace(t, m, "jack@town.test")
	}
}

// TestSwaks8bit sends a UTF-8 body as 8-bit text and checks its bytes come
// back unchanged.
func TestSwaks8bit(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")

	body := "Grüße aus dem Hügelland!\nÄÖÜ äöü ß – 10 € – 水\n"
	args := []string{
		"--from", "jack@town.test", "--to", "jill@hill.test",
		"--header", "Subject: eight bit",
		"--add-header", "MIME-Version: 1.0",
		"--add-header", "Content-Type: text/plain; charset=utf-8",
		"--add-header", "Content-Transfer-Encoding: 8bit",
		"--body", body,
	}
	// Older swaks (20201014 in Debian 12) has no --8bitmime; it then sends
	// without BODY=8BITMIME, which servers accept in practice.
	if swaksSupports(t, "--8bitmime") {
		args = append(args, "--8bitmime")
	}
	runSwaks(t, s.smtpAddr, args...)

	m := oneWithSubject(t, s.export("jill@hill.test"), "eight bit", "jill INBOX")
	checkTrace(t, m, "jack@town.test")
	if !bytes.Contains(m.body(), []byte(body)) {
		t.Errorf("8-bit body changed:\ngot  %q\nwant %q", m.body(), body)
	}
	if got := m.header("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
}
