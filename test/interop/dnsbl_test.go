//go:build interop

package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// swaksRefused runs swaks like runSwaks but wants the transaction refused:
// it fails the test when swaks exits 0, and returns the transcript.
func swaksRefused(t *testing.T, addr string, args ...string) string {
	t.Helper()
	bin := needPeer(t, "swaks")
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	argv := append([]string{"--server", addr, "--helo", "client.town.test", "--timeout", "20s"}, args...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("swaks %s: accepted, want refused\n%s", strings.Join(argv, " "), out.Bytes())
	}
	return out.String()
}

// inboundServer is a pail whose own name server (the [dns] service, also
// its resolver) serves the blocklist zone bl.test, with the [inbound]
// lines given; loopback clients are checked (check_loopback), since the
// test's clients are on 127.0.0.0/8.
func inboundServer(t *testing.T, inbound ...string) (*server, string) {
	t.Helper()
	dnsAddr, metricsAddr := freeUDPTCPAddr(t), testnet.Addr(t)
	s := newServer(t, serverOptions{listen: []string{fmt.Sprintf("metrics = %q", metricsAddr)},
		inbound: append([]string{"check_loopback = true"}, inbound...)})
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 2.0.0.127 is the entry every list has for testing, 127.0.0.1 the
	// address none may list (RFC 5782 §5); this list breaks that rule on
	// purpose, as the test's client is 127.0.0.1. 127.0.0.3 is not listed.
	fmt.Fprintf(f, `
[outbound]
resolver = %q

[dns]
listen = %q
[[dns.zones]]
origin = "bl.test"
records = ["@ IN NS ns1", "ns1 IN A 127.0.0.1",
  "2.0.0.127 IN A 127.0.0.2", "2.0.0.127 IN TXT \"RFC 5782 test entry\"",
  "1.0.0.127 IN A 127.0.0.2", "1.0.0.127 IN TXT \"Listed for the interop test\""]
`, dnsAddr, dnsAddr)
	f.Close()
	s.start()
	deadline := time.Now().Add(startTimeout)
	if err := waitDNS(dnsAddr, s.proc, deadline); err != nil {
		t.Fatalf("dns: %v", err)
	}
	if err := waitListening(metricsAddr, s.proc, deadline); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	s.addUser("jill@hill.test")
	return s, metricsAddr
}

// metric returns the line of a metric (name and labels) from pail's
// /metrics, or "".
func metric(t *testing.T, addr, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, series+" ") {
			return l
		}
	}
	return ""
}

// TestDNSBLSwaks: swaks from 127.0.0.1, which the list served by pail's
// own name server lists, is refused 554 5.7.1 naming the list and its
// reason; from 127.0.0.3, which it does not list, the mail is delivered.
func TestDNSBLSwaks(t *testing.T) {
	s, metrics := inboundServer(t, `dnsbl = ["bl.test"]`)

	out := swaksRefused(t, s.smtpAddr, "--from", "jack@town.test", "--to", "jill@hill.test", "--header", "Subject: listed")
	if !strings.Contains(out, "<** 554 5.7.1 Client address 127.0.0.1 listed by bl.test: Listed for the interop test") {
		t.Errorf("swaks from a listed address was not told 554 naming the list:\n%s", out)
	}

	runSwaks(t, s.smtpAddr, "--local-interface", "127.0.0.3",
		"--from", "jack@town.test", "--to", "jill@hill.test", "--header", "Subject: not listed")
	msgs := s.export("jill@hill.test")
	oneWithSubject(t, msgs, "not listed", "jill INBOX")
	if len(msgs) != 1 {
		t.Errorf("%d messages in jill's INBOX, want only the unlisted client's", len(msgs))
	}
	if m := metric(t, metrics, `pail_dnsbl_listed_total{list="bl.test"}`); !strings.HasSuffix(m, " 1") {
		t.Errorf("pail_dnsbl_listed_total: %q, want 1", m)
	}
}

// TestGreylistSwaks: with greylisting on (a two-second delay), swaks's
// first attempt and an immediate retry get 451 4.7.1; a retry after the
// delay is delivered; after a restart the triple is still known and the
// next message is accepted at once.
func TestGreylistSwaks(t *testing.T) {
	const delay = 2 * time.Second
	s, metrics := inboundServer(t, "greylist = true", fmt.Sprintf("greylist_delay = %q", delay.String()))
	mail := func(subject string) []string {
		return []string{"--from", "jack@town.test", "--to", "jill@hill.test", "--header", "Subject: " + subject}
	}
	first := time.Now()
	for i := range 2 {
		out := swaksRefused(t, s.smtpAddr, mail(fmt.Sprintf("try %d", i))...)
		if !strings.Contains(out, "<** 451 4.7.1 Greylisted") {
			t.Fatalf("attempt %d was not greylisted:\n%s", i, out)
		}
	}
	if m := metric(t, metrics, "pail_greylist_deferred_total"); !strings.HasSuffix(m, " 2") {
		t.Errorf("pail_greylist_deferred_total: %q, want 2", m)
	}
	// The delay is counted in whole seconds by the store; wait it out.
	time.Sleep(time.Until(first.Add(delay + time.Second)))
	runSwaks(t, s.smtpAddr, mail("after the delay")...)
	oneWithSubject(t, s.export("jill@hill.test"), "after the delay", "jill INBOX")

	s.stop()
	s.start()
	runSwaks(t, s.smtpAddr, mail("after a restart")...)
	oneWithSubject(t, s.export("jill@hill.test"), "after a restart", "jill INBOX")
}
