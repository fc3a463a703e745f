package dmarcrpt

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"pail/internal/reporting/reportingtest"
	"pail/internal/verify"
)

func openTestDB(t *testing.T, dir string) *DB { return reportingtest.Open(t, Open, dir) }

// fixedClock is reportingtest.Clock.
var fixedClock = reportingtest.Clock

var townPolicy = PolicyPublished{Domain: "town.test", P: "reject", Pct: 100, ADKIM: "r", ASPF: "r", FO: "0"}

// passing is a message from town.test that passed DMARC by both.
func passing(ip string) Outcome {
	return Outcome{Policy: townPolicy, SourceIP: ip, HeaderFrom: "town.test", EnvelopeFrom: "town.test",
		Disposition: DispositionNone, DKIMAligned: true, SPFAligned: true,
		DKIM: []DKIMAuthResult{{Domain: "town.test", Selector: "sel", Result: "pass"}},
		SPF:  SPFAuthResult{Domain: "town.test", Scope: "mfrom", Result: "pass"}}
}

// failing is a forgery of town.test refused under p=reject.
func failing(ip string) Outcome {
	return Outcome{Policy: townPolicy, SourceIP: ip, HeaderFrom: "town.test", EnvelopeFrom: "spam.test",
		Disposition: DispositionReject,
		SPF:         SPFAuthResult{Domain: "spam.test", Scope: "mfrom", Result: "fail"}}
}

// TestRecorderAggregates counts messages per day, policy domain and row
// in a real database file, and keeps them across a restart.
func TestRecorderAggregates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	db := openTestDB(t, dir)
	r := NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(day)})
	for range 3 {
		r.Record(ctx, passing("192.0.2.1"))
	}
	r.Record(ctx, passing("192.0.2.2"))
	r.Record(ctx, failing("198.51.100.7"))
	if counts, _ := db.Counts(ctx, "2026-12-06", ""); len(counts) != 0 {
		t.Fatalf("counts written before a flush: %v", counts)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Record(ctx, passing("192.0.2.1")) // after Close: not counted
	db.Close()

	db = openTestDB(t, dir)
	r = NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(day)})
	defer r.Close()
	r.Record(ctx, passing("192.0.2.1"))
	other := passing("192.0.2.1")
	other.Policy.Domain, other.HeaderFrom = "Dale.Test.", "sub.dale.test"
	r.Record(ctx, other)
	r.Record(ctx, passing("192.0.2.1")) // counted on the next day
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	counts, err := db.Counts(ctx, "2026-12-06", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		o := c.Outcome
		got[fmt.Sprintf("%s %s %s %s %v/%v", c.Policy.Domain, o.SourceIP, o.HeaderFrom, o.Disposition, o.DKIMAligned, o.SPFAligned)] = c.Messages
	}
	want := map[string]int64{
		"dale.test 192.0.2.1 sub.dale.test none true/true":    1,
		"town.test 192.0.2.1 town.test none true/true":        5,
		"town.test 192.0.2.2 town.test none true/true":        1,
		"town.test 198.51.100.7 town.test reject false/false": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	for _, c := range counts {
		if c.Outcome.SourceIP == "198.51.100.7" {
			if c.Outcome.SPF != (SPFAuthResult{Domain: "spam.test", Scope: "mfrom", Result: "fail"}) || len(c.Outcome.DKIM) != 0 || c.Policy != townPolicy {
				t.Errorf("failing row read back as %+v", c)
			}
		}
		if c.Outcome.SourceIP == "192.0.2.2" && (len(c.Outcome.DKIM) != 1 || c.Outcome.DKIM[0].Selector != "sel") {
			t.Errorf("dkim results read back as %+v", c.Outcome.DKIM)
		}
	}
}

// TestRecorderBounded keeps at most MaxRowsPerDay distinct rows a day in
// memory.
func TestRecorderBounded(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	r := NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))})
	defer r.Close()
	for i := range MaxRowsPerDay + 10 {
		r.Record(context.Background(), passing(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255)))
	}
	if n := r.Pending(); n != MaxRowsPerDay {
		t.Errorf("%d rows pending, want %d", n, MaxRowsPerDay)
	}
}

// TestOutcomeOf turns the end-of-DATA judgement into what a report says:
// the disposition pail applied, override reasons when it differs from
// the policy, the unaligned results; nothing for submission, for a From
// domain without a record, or for a message refused for now.
func TestOutcomeOf(t *testing.T) {
	pub := &verify.PublishedPolicy{Domain: "town.test", P: "quarantine", Pct: 50, ADKIM: "r", ASPF: "s", FO: "0"}
	results := func(value, policy string, sampled bool) *verify.Results {
		return &verify.Results{
			SPF:   verify.SPFResult{Value: "fail", MailFrom: "jack@spam.test", Domain: "spam.test"},
			DKIM:  []verify.DKIMResult{{Value: "fail", Domain: "town.test", Selector: "s1"}, {Value: "none"}},
			DMARC: verify.DMARCResult{Value: value, Domain: "town.test", Policy: policy, Published: pub, SampledOut: sampled},
		}
	}
	msg := &verify.Message{ClientIP: netip.MustParseAddr("::ffff:192.0.2.9"), MailFrom: "jack@Spam.Test"}
	for _, tc := range []struct {
		name        string
		res         *verify.Results
		action      verify.Action
		disposition string
		reasons     string
	}{
		{"quarantined as asked", results("fail", "quarantine", false), verify.Junk, "quarantine", "[]"},
		{"sampled out", results("fail", "none", true), verify.Deliver, "none", "[sampled_out]"},
		{"softened", results("fail", "quarantine", false), verify.Deliver, "none", "[local_policy]"},
		{"junked though it passed", results("pass", "", false), verify.Junk, "quarantine", "[local_policy]"},
		{"rejected", results("fail", "quarantine", false), verify.Reject, "reject", "[local_policy]"},
	} {
		o, ok := OutcomeOf(msg, verify.Decision{Action: tc.action, Results: tc.res})
		if !ok || o.Disposition != tc.disposition || fmt.Sprint(o.Reasons) != tc.reasons {
			t.Errorf("%s: %v %+v, want %s %s", tc.name, ok, o, tc.disposition, tc.reasons)
			continue
		}
		if o.SourceIP != "192.0.2.9" || o.EnvelopeFrom != "spam.test" || o.HeaderFrom != "town.test" || o.Policy.Domain != "town.test" ||
			o.Policy.Pct != 50 || o.Policy.ASPF != "s" || len(o.DKIM) != 1 || o.DKIM[0] != (DKIMAuthResult{Domain: "town.test", Selector: "s1", Result: "fail"}) ||
			o.SPF != (SPFAuthResult{Domain: "spam.test", Scope: "mfrom", Result: "fail"}) {
			t.Errorf("%s: outcome %+v", tc.name, o)
		}
	}
	noRecord := results("none", "", false)
	noRecord.DMARC.Published = nil
	for name, tc := range map[string]struct {
		m *verify.Message
		d verify.Decision
	}{
		"submission": {&verify.Message{User: "dave@hill.test"}, verify.Decision{Results: &verify.Results{User: "dave@hill.test"}}},
		"no record":  {msg, verify.Decision{Results: noRecord}},
		"tempfail":   {msg, verify.Decision{Action: verify.TempFail, Results: results("fail", "quarantine", false)}},
		"no results": {msg, verify.Decision{}},
	} {
		if o, ok := OutcomeOf(tc.m, tc.d); ok {
			t.Errorf("%s: recorded %+v", name, o)
		}
	}
}
