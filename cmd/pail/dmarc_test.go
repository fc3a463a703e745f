package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pail/internal/dmarcrpt"
)

// TestDMARCShow prints a day's DMARC counts per policy domain and source,
// and the aggregate reports received, from the data directory's dmarc
// database.
func TestDMARCShow(t *testing.T) {
	p := newPail(t)
	ctx := context.Background()
	dir := dmarcrpt.DirIn(filepath.Join(filepath.Dir(p.config), "data"))
	db, err := dmarcrpt.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	rec := dmarcrpt.NewRecorder(db, dmarcrpt.RecorderConfig{Now: func() time.Time { return day }})
	pol := dmarcrpt.PolicyPublished{Domain: "town.test", P: "reject", Pct: 100}
	for range 3 {
		rec.Record(ctx, dmarcrpt.Outcome{Policy: pol, SourceIP: "192.0.2.1", HeaderFrom: "town.test", Disposition: "none", SPFAligned: true})
	}
	rec.Record(ctx, dmarcrpt.Outcome{Policy: pol, SourceIP: "198.51.100.7", HeaderFrom: "town.test", Disposition: "reject"})
	rec.Close()

	for _, flag := range []string{"--day", "--date"} {
		out := p.must("", "dmarc", "show", flag, "2026-12-05")
		for _, re := range []string{`(?m)^town\.test +192\.0\.2\.1 +town\.test +3 +none +fail +pass$`, `(?m)^town\.test +198\.51\.100\.7 +town\.test +1 +reject +fail +fail$`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("dmarc show %s lacks %s:\n%s", flag, re, out)
			}
		}
	}
	if out := p.must("", "dmarc", "show", "--day", "2026-12-04"); !strings.Contains(out, "no messages checked") {
		t.Errorf("another day shows counts:\n%s", out)
	}
	if _, err := p.run("", "dmarc", "show", "--day", "yesterday"); err == nil {
		t.Error("--day yesterday accepted")
	}
	if out := p.must("", "dmarc", "show", "--received"); !strings.Contains(out, "no reports received") {
		t.Errorf("show --received with none:\n%s", out)
	}
	xml, err := os.ReadFile("../../internal/dmarcrpt/testdata/google.xml")
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: noreply-dmarc-support@google.com\r\nTo: postmaster@hill.test\r\nSubject: Report domain: hill.test\r\nContent-Type: text/xml\r\n\r\n" +
		strings.ReplaceAll(string(xml), "\n", "\r\n")
	if n := dmarcrpt.NewReceiver(db, nil).Take(ctx, bytes.NewReader([]byte(msg))); n != 1 {
		t.Fatalf("stored %d reports", n)
	}
	db.Close()
	out := p.must("", "dmarc", "show", "--received")
	for _, re := range []string{`Report 4823175309856127734 from google\.com <noreply-dmarc-support@google\.com>`,
		`policy hill\.test: p=reject`, `203\.0\.113\.25 +12 +none +pass +pass +hill\.test`, `198\.51\.100\.66 +3 +reject +fail +fail`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("show --received lacks %s:\n%s", re, out)
		}
	}
	if out := p.must("", "dmarc", "show", "--received", "--day", "2026-12-07"); !strings.Contains(out, "no reports received") {
		t.Errorf("show --received from a later day:\n%s", out)
	}
}
