package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pail/internal/doctor"
	"pail/internal/resolve/resolvetest"
)

// TestDoctorCommand: pail doctor prints one line per check with its
// status and fix, asks the configured resolver, keeps the report in
// data_dir/doctor.json, fails (exit status 1) when a check FAILs, and
// with --json prints the report it saved.
func TestDoctorCommand(t *testing.T) {
	ns := resolvetest.Start(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 192.0.2.1",
		"1.2.0.192.in-addr.arpa. 300 IN PTR mx.hill.test.",
		`hill.test. 300 IN TXT "v=spf1 ip4:198.51.100.7 -all"`,
		`_dmarc.hill.test. 300 IN TXT "v=DMARC1; p=reject"`,
	})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &pailT{t: t, config: filepath.Join(dir, "pail.toml")}
	conf := "hostname = \"mx.hill.test\"\ndomains = [\"hill.test\"]\ndata_dir = \"" + data + "\"\nresolver = \"" + ns.Addr + "\"\n" +
		"[outbound]\nsource = \"192.0.2.1\"\n[dkim]\nenabled = false\n"
	if err := os.WriteFile(p.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := p.run("", "doctor")
	if err == nil || !strings.Contains(err.Error(), "doctor: 1 of 11 checks failed") {
		t.Errorf("pail doctor with a failing check: err %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Errorf("%d lines:\n%s", len(lines), out)
	}
	for _, l := range []string{
		"OK    mx hill.test: MX mx.hill.test is this host",
		"OK    ptr 192.0.2.1: 192.0.2.1 → mx.hill.test → 192.0.2.1 (forward-confirmed)",
		"FAIL  spf hill.test: SPF of hill.test does not allow the outbound address: fail for 192.0.2.1 -- fix: add ip4:192.0.2.1 to the SPF record of hill.test",
		"OK    dmarc hill.test: p=reject",
	} {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
	if !ns.Asked("hill.test. TXT") {
		t.Errorf("the configured resolver was not asked")
	}
	saved, err := doctor.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.Results) != 11 || saved.Results[3].Check != "spf hill.test" || saved.Results[3].Status != doctor.Fail {
		t.Errorf("doctor.json: %+v", saved)
	}

	out, err = p.run("", "doctor", "--json")
	if err == nil {
		t.Error("pail doctor --json with a failing check succeeded")
	}
	var printed doctor.Report
	if err := json.Unmarshal([]byte(out), &printed); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	saved, err = doctor.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if !printed.Time.Equal(saved.Time) || len(printed.Results) != len(saved.Results) || printed.Results[3] != saved.Results[3] {
		t.Errorf("--json printed %+v, saved %+v", printed, saved)
	}

	// The SPF record fixed: nothing fails, exit status 0.
	ns2 := resolvetest.Start(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 192.0.2.1",
		"1.2.0.192.in-addr.arpa. 300 IN PTR mx.hill.test.",
		`hill.test. 300 IN TXT "v=spf1 mx -all"`,
		`_dmarc.hill.test. 300 IN TXT "v=DMARC1; p=reject"`,
	})
	if err := os.WriteFile(p.config, []byte(strings.Replace(conf, ns.Addr, ns2.Addr, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := p.run("", "doctor"); err != nil || strings.Contains(out, "FAIL") {
		t.Errorf("pail doctor, all right: err %v\n%s", err, out)
	}
	if _, err := p.run("", "doctor", "extra"); err == nil || !strings.Contains(err.Error(), "usage: pail doctor") {
		t.Errorf("pail doctor extra: %v", err)
	}
}

// TestDoctorInboundDNSBL: with [doctor] dnsbl not set, pail doctor looks
// the outbound address up in the lists of [inbound] dnsbl (here one that
// lists it: FAIL naming the list); [doctor] dnsbl = [] asks none.
func TestDoctorInboundDNSBL(t *testing.T) {
	ns := resolvetest.Start(t, []string{
		"1.2.0.192.bl.example.net. 300 IN A 127.0.0.2",
		`1.2.0.192.bl.example.net. 300 IN TXT "listed for the test"`,
	})
	dir := t.TempDir()
	p := &pailT{t: t, config: filepath.Join(dir, "pail.toml")}
	conf := "hostname = \"mx.hill.test\"\ndomains = [\"hill.test\"]\ndata_dir = \"" + filepath.Join(dir, "data") + "\"\nresolver = \"" + ns.Addr + "\"\n" +
		"[outbound]\nsource = \"192.0.2.1\"\n[dkim]\nenabled = false\n[inbound]\ndnsbl = [\"bl.example.net\"]\n"
	for _, c := range []struct {
		name, extra, line string
	}{
		{"inbound lists", "", "FAIL  dnsbl bl.example.net: listed: 192.0.2.1 (127.0.0.2: listed for the test)"},
		{"doctor none", "[doctor]\ndnsbl = []\n", "OK    dnsbl: no blocklists configured"},
	} {
		if err := os.WriteFile(p.config, []byte(conf+c.extra), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := p.run("", "doctor")
		if !strings.Contains(out, "\n"+c.line) {
			t.Errorf("%s: output lacks %q:\n%s", c.name, c.line, out)
		}
	}
	if !ns.Asked("1.2.0.192.bl.example.net. A") {
		t.Errorf("the inbound list was not asked: %v", ns.Queries())
	}
}
