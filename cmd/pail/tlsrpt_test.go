package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pail/internal/tlsrpt"
)

// TestTLSRPTShow prints a day's counts per policy domain and the reports
// received, from the data directory's tlsrpt database.
func TestTLSRPTShow(t *testing.T) {
	p := newPail(t)
	ctx := context.Background()
	dir := tlsrpt.DirIn(filepath.Join(filepath.Dir(p.config), "data"))
	db, err := tlsrpt.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	rec := tlsrpt.NewRecorder(db, tlsrpt.RecorderConfig{Now: func() time.Time { return day }})
	for range 3 {
		rec.Record(ctx, tlsrpt.Outcome{PolicyDomain: "town.test", PolicyType: tlsrpt.PolicySTS, MXHost: "mx.town.test", Success: true})
	}
	rec.Record(ctx, tlsrpt.Outcome{PolicyDomain: "town.test", PolicyType: tlsrpt.PolicySTS, MXHost: "mx.town.test", Failure: tlsrpt.ResultCertificateExpired})
	rec.Record(ctx, tlsrpt.Outcome{PolicyDomain: "dale.test", PolicyType: tlsrpt.PolicyNone, MXHost: "mx.dale.test", Failure: tlsrpt.ResultSTARTTLSNotSupported})
	rec.Close()

	out := p.must("", "tlsrpt", "show", "--date", "2026-12-05")
	for _, re := range []string{`(?m)^dale\.test +no-policy-found +0 +starttls-not-supported=1$`, `(?m)^town\.test +sts +3 +certificate-expired=1$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("tlsrpt show lacks %s:\n%s", re, out)
		}
	}
	if out := p.must("", "tlsrpt", "show", "--date", "2026-12-04"); strings.Contains(out, "town.test") {
		t.Errorf("another day shows counts:\n%s", out)
	}
	if _, err := p.run("", "tlsrpt", "show", "--date", "yesterday"); err == nil {
		t.Error("--date yesterday accepted")
	}
	if out := p.must("", "tlsrpt", "show", "--received"); !strings.Contains(out, "no reports received") {
		t.Errorf("show --received with none:\n%s", out)
	}

	sub := tlsrpt.Submitter{Organization: "Town Mail", Contact: "postmaster@town.test", Host: "mx.town.test"}
	rows := []tlsrpt.Row{{Day: "2026-12-05", PolicyDomain: "hill.test", PolicyType: tlsrpt.PolicyTLSA, MXHost: "mx.hill.test",
		Result: tlsrpt.ResultTLSAInvalid, ReceivingIP: "192.0.2.25", Sessions: 4}}
	rep, _ := tlsrpt.BuildReport("2026-12-05", "hill.test", rows, sub)
	gz, _ := rep.Gzip()
	msg := tlsrpt.ComposeMail(sub, "postmaster@town.test", "postmaster@hill.test", rep, gz, time.Now())
	if n := tlsrpt.NewReceiver(db, nil).Take(ctx, bytes.NewReader(msg)); n != 1 {
		t.Fatalf("stored %d reports", n)
	}
	db.Close()
	out = p.must("", "tlsrpt", "show", "--received")
	for _, want := range []string{"from Town Mail <postmaster@town.test>", "period 2026-12-05T00:00:00Z to 2026-12-05T23:59:59Z",
		"policy hill.test tlsa: 0 successful, 4 failed", "4 x tlsa-invalid mx=mx.hill.test receiving-ip=192.0.2.25"} {
		if !strings.Contains(out, want) {
			t.Errorf("show --received lacks %q:\n%s", want, out)
		}
	}
}
