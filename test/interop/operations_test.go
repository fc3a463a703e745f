//go:build interop

package interop

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP adds a domain to the config file, sends SIGHUP, and
// checks that the running server accepts mail for it on a connection that
// was open across the reload.
func TestReloadOnSIGHUP(t *testing.T) {
	s := startServer(t, serverOptions{})
	c := dialSMTP(t, s.smtpAddr)
	c.cmd("EHLO town.test", "250")
	c.cmd("MAIL FROM:<jack@town.test>", "250")
	c.cmd("RCPT TO:<jill@dale.test>", "554 5.7.1")

	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), `domains  = ["hill.test"]`, `domains  = ["hill.test", "dale.test"]`, 1)
	if text == string(cfg) {
		t.Fatalf("config has no domains line to change:\n%s", cfg)
	}
	if err := os.WriteFile(s.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s.addUser("jill@dale.test")
	s.proc.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log.String(), "configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload in the log:\n%s", s.log.tail(2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The domain added by the reload has its DKIM keys, as the first
	// domain got them at start.
	for _, d := range []string{"hill.test", "dale.test"} {
		if _, err := os.Stat(filepath.Join(s.dataDir, "dkim", d, "manifest.json")); err != nil {
			t.Errorf("no DKIM keys for %s after the reload: %v", d, err)
		}
	}
	c.cmd("RCPT TO:<jill@dale.test>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: after reload\r\n\r\nhi\r\n.\r\n")
	c.expect("250")
	c.cmd("QUIT", "221")
}

// TestStatus asks the running server what it is doing.
func TestStatus(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	c := dialSMTP(t, s.smtpAddr)
	c.cmd("EHLO town.test", "250")
	c.cmd("MAIL FROM:<jack@town.test>", "250")
	c.cmd("RCPT TO:<jill@hill.test>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: counted\r\n\r\nhi\r\n.\r\n")
	c.expect("250")

	out := string(s.pail("", []string{"status"}))
	for _, want := range []string{"smtp", "1 connections", "queue: 0 messages", `pail_mail_events_total{event="received"} 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	metrics := string(s.pail("", []string{"status"}, "--metrics"))
	if !strings.Contains(metrics, "# TYPE pail_store_commits_total counter") || !strings.Contains(metrics, `pail_connections{service="smtp"} 1`) {
		t.Errorf("metrics:\n%s", metrics)
	}
	c.cmd("QUIT", "221")
}
