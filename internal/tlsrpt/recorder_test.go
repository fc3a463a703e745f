package tlsrpt

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pail/internal/reporting/reportingtest"
)

func openTestDB(t *testing.T, dir string) *DB { return reportingtest.Open(t, Open, dir) }

// fixedClock is reportingtest.Clock.
var fixedClock = reportingtest.Clock

// TestRecorderAggregates counts outcomes per day, policy and failure
// detail, in a real database file, and keeps them across a restart (a new
// Recorder on the reopened file adds to them).
func TestRecorderAggregates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	db := openTestDB(t, dir)
	r := NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(day)})
	ok := Outcome{PolicyDomain: "Hill.Test.", PolicyType: PolicySTS, PolicyStrings: []string{"version: STSv1", "mode: enforce"},
		MXHost: "MX1.hill.test", SendingIP: "192.0.2.1", ReceivingIP: "198.51.100.7", Success: true}
	bad := ok
	bad.Success, bad.Failure = false, ResultCertificateNotTrusted
	for range 5 {
		r.Record(ctx, ok)
	}
	r.Record(ctx, bad)
	r.Record(ctx, bad)
	if rows, _ := db.Counts(ctx, "2026-12-06", ""); len(rows) != 0 {
		t.Fatalf("counts written before a flush: %v", rows)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Record(ctx, ok) // after Close: not counted
	db.Close()

	db = openTestDB(t, dir)
	r = NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(day)})
	r.Record(ctx, ok)
	r.Record(ctx, Outcome{PolicyDomain: "other.test", PolicyType: PolicyNone, MXHost: "mx.other.test", Success: true})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Counts(ctx, "2026-12-06", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, row := range rows {
		got[fmt.Sprintf("%s %s %s %s %s", row.PolicyDomain, row.PolicyType, row.MXHost, row.Result, row.SendingIP)] = row.Sessions
	}
	want := map[string]int64{
		"hill.test sts mx1.hill.test  ":                                 6,
		"hill.test sts mx1.hill.test certificate-not-trusted 192.0.2.1": 2,
		"other.test no-policy-found mx.other.test  ":                    1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	for _, row := range rows {
		if row.PolicyDomain == "hill.test" && len(row.PolicyStrings) != 2 {
			t.Errorf("policy strings %q", row.PolicyStrings)
		}
	}
	r.Close()
}

// TestRecorderBounded keeps at most MaxRowsPerDay distinct rows a day.
func TestRecorderBounded(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, t.TempDir())
	r := NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))})
	defer r.Close()
	for i := range MaxRowsPerDay + 10 {
		r.Record(ctx, Outcome{PolicyDomain: fmt.Sprintf("d%d.test", i), PolicyType: PolicyNone, Success: true})
	}
	n := r.Pending()
	if n != MaxRowsPerDay {
		t.Errorf("%d rows pending, want %d", n, MaxRowsPerDay)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The database's cap holds across flushes too.
	r.Record(ctx, Outcome{PolicyDomain: "late.test", PolicyType: PolicyNone, Success: true})
	r.Record(ctx, Outcome{PolicyDomain: "d0.test", PolicyType: PolicyNone, Success: true})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _ := db.Counts(ctx, "2026-12-06", "")
	if len(rows) != MaxRowsPerDay {
		t.Errorf("%d rows stored, want %d", len(rows), MaxRowsPerDay)
	}
	d0, _ := db.Counts(ctx, "2026-12-06", "d0.test")
	if len(d0) != 1 || d0[0].Sessions != 2 {
		t.Errorf("a known row stops counting at the cap: %v", d0)
	}
}
