package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/config"
	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

// Names of the test domain.
const (
	testHost   = "mx.hill.test"
	testDomain = "hill.test"
	testSource = "192.0.2.1"
)

// testConfig is a config for mx.hill.test, domain hill.test, sending
// from 192.0.2.1, with its data directory in a temporary directory.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = testHost
	cfg.Domains = []string{testDomain}
	cfg.DataDir = t.TempDir()
	cfg.Outbound.Source = testSource
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newTestDoctor returns a doctor for cfg whose resolver asks a test name
// server serving records, with the outbound addresses learnt.
func newTestDoctor(t *testing.T, cfg *config.Config, records ...string) (*doctor, *resolvetest.Server) {
	t.Helper()
	ns := resolvetest.Start(t, records)
	d := &doctor{o: Options{Config: cfg, Resolver: resolve.New(ns.Addr, time.Second), Now: time.Now}, cfg: cfg, r: resolve.New(ns.Addr, time.Second)}
	d.outboundAddrs(context.Background())
	return d, ns
}

// servfail returns a resolver asking a name server that answers
// SERVFAIL for names: no answer, as from a broken resolver.
func servfail(t *testing.T, names ...string) *resolve.Resolver {
	t.Helper()
	return resolve.New(resolvetest.Start(t, nil, names...).Addr, time.Second)
}

// want checks a result's status and that its detail and fix contain
// the given parts.
func want(t *testing.T, r Result, status Status, parts ...string) {
	t.Helper()
	text := r.Detail + " | " + r.Fix
	if r.Status != status {
		t.Errorf("%s: %s (%s), want %s", r.Check, r.Status, text, status)
		return
	}
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s: %q lacks %q", r.Check, text, p)
		}
	}
	if status != OK && r.Fix == "" {
		t.Errorf("%s: %s without a fix", r.Check, status)
	}
}

// TestSaveLoad: the report is written as the admin page reads it, with
// exactly the documented fields and an RFC 3339 time, atomically (no
// temporary file left), and Load gives it back; no report yet is
// fs.ErrNotExist.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load before any report: %v", err)
	}
	at := time.Date(2026, 12, 7, 5, 39, 22, 0, time.UTC)
	rep := &Report{Time: at, Results: []Result{
		{Check: "mx hill.test", Status: OK, Detail: "MX mx.hill.test is this host"},
		{Check: "spf hill.test", Status: Fail, Detail: "fail for 192.0.2.1", Fix: "add ip4:192.0.2.1"},
	}}
	if !rep.Failed() {
		t.Error("Failed false with a FAIL")
	}
	if err := Save(dir, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "doctor.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["time"] != "2026-12-07T05:39:22Z" || len(raw) != 2 {
		t.Errorf("doctor.json: %s", b)
	}
	res := raw["results"].([]any)[1].(map[string]any)
	if len(res) != 4 || res["check"] != "spf hill.test" || res["status"] != "FAIL" || res["detail"] != "fail for 192.0.2.1" || res["fix"] != "add ip4:192.0.2.1" {
		t.Errorf("a result in doctor.json: %v", res)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries after Save, want doctor.json alone", len(entries))
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(at) || len(got.Results) != 2 || got.Results[1] != rep.Results[1] {
		t.Errorf("Load: %+v", got)
	}
}

// TestRunAll: Run makes every check, in order, for a domain whose
// records are all right but for DMARC's p=none, and the report is
// failed only when a check fails.
func TestRunAll(t *testing.T) {
	cfg := testConfig(t)
	cfg.DKIM.Enabled = false
	ns := resolvetest.Start(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 192.0.2.1",
		"1.2.0.192.in-addr.arpa. 300 IN PTR mx.hill.test.",
		`hill.test. 300 IN TXT "v=spf1 mx -all"`,
		`_dmarc.hill.test. 300 IN TXT "v=DMARC1; p=none"`,
		`_smtp._tls.hill.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@hill.test"`,
	})
	rep := Run(context.Background(), Options{Config: cfg, Resolver: resolve.New(ns.Addr, time.Second), ServerUID: os.Geteuid()})
	var checks []string
	for _, r := range rep.Results {
		checks = append(checks, r.Check+" "+string(r.Status))
	}
	wantChecks := []string{
		"outbound address OK", "mx hill.test OK", "ptr 192.0.2.1 OK", "spf hill.test OK", "dkim hill.test OK",
		"dmarc hill.test WARN", "mta-sts hill.test OK", "tls-rpt hill.test OK", "certificate mx.hill.test WARN",
		"dnsbl OK", "data directory OK",
	}
	if strings.Join(checks, "\n") != strings.Join(wantChecks, "\n") {
		t.Errorf("checks:\n%s\nwant:\n%s", strings.Join(checks, "\n"), strings.Join(wantChecks, "\n"))
	}
	if rep.Failed() || rep.Time.IsZero() || rep.Time.Nanosecond() != 0 {
		t.Errorf("report failed %v, time %v", rep.Failed(), rep.Time)
	}
}
