package dmarcrpt

import (
	"bytes"
	"context"
	"testing"
	"time"

	"pail/internal/reporting"
	"pail/internal/reporting/reportingtest"
	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

// newSender returns a Sender on a fresh database with a day of counts
// for town.test, looking records up in a real name server on loopback
// that serves records (names in servfail answer SERVFAIL).
func newSender(t *testing.T, records []string, servfail ...string) (*Sender, *reportingtest.Mailbox) {
	t.Helper()
	srv := resolvetest.Start(t, records, servfail...)
	db := openTestDB(t, t.TempDir())
	seedCounts(t, db, time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC), passing("192.0.2.1"), failing("198.51.100.7"))
	mb := &reportingtest.Mailbox{}
	return &Sender{DB: db, Resolver: resolve.New(srv.Addr, time.Second), Enqueue: mb.Enqueue, Submitter: testSubmitter,
		From: "postmaster@hill.test", Now: fixedClock(time.Date(2026, 12, 7, 0, 10, 0, 0, time.UTC))}, mb
}

// TestSenderSendsOnce sends the day's report to a rua of the policy
// domain's own organisation, records it, and sends nothing on a second
// run.
func TestSenderSendsOnce(t *testing.T) {
	ctx := context.Background()
	s, mb := newSender(t, []string{`_dmarc.town.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@reports.town.test"`})
	res, err := s.SendDay(ctx, "2026-12-06")
	if err != nil || res.Sent != 1 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	if len(mb.To) != 1 || mb.To[0] != "dmarc@reports.town.test" {
		t.Fatalf("sent to %v", mb.To)
	}
	got, err := ExtractReports(bytes.NewReader(mb.Msgs[0]))
	if err != nil || len(got) != 1 || len(got[0].Report.Records) != 2 || got[0].Report.Policy.Domain != "town.test" {
		t.Fatalf("report sent: %+v %v", got, err)
	}
	res, err = s.SendDay(ctx, "2026-12-06")
	if err != nil || res.Sent != 0 || res.Skipped != 1 || len(mb.Msgs) != 1 {
		t.Errorf("second run: %+v %v, %d sent in all", res, err, len(mb.Msgs))
	}
}

// TestSenderExternalDestination sends to a rua in another organisation
// only when it publishes town.test._report._dmarc.DEST (RFC 7489 §7.1),
// gives up on one that does not, and tries one whose check failed in DNS
// again later.
func TestSenderExternalDestination(t *testing.T) {
	ctx := context.Background()
	s, mb := newSender(t, []string{
		`_dmarc.town.test. TXT "v=DMARC1; p=reject; rua=mailto:r@far.test,mailto:r@nowhere.test,mailto:r@flaky.test,mailto:r@wrong.test"`,
		`town.test._report._dmarc.far.test. TXT "v=DMARC1"`,
		`town.test._report._dmarc.wrong.test. TXT "v=spf1 -all"`,
		`other.test._report._dmarc.nowhere.test. TXT "v=DMARC1"`,
	}, "town.test._report._dmarc.flaky.test")
	res, err := s.SendDay(ctx, "2026-12-06")
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1 || res.GaveUp != 2 || res.Failed != 1 || len(mb.To) != 1 || mb.To[0] != "r@far.test" {
		t.Fatalf("result %+v, sent to %v; want far.test only, nowhere and wrong given up, flaky to retry", res, mb.To)
	}
	sent, _ := s.DB.SentFor(ctx, "2026-12-06", "town.test")
	states := map[string]reporting.SendState{}
	for _, r := range sent {
		states[r.RUA] = r.State
	}
	if states["mailto:r@flaky.test"] != reporting.StateFailed || states["mailto:r@nowhere.test"] != reporting.StateGaveUp {
		t.Errorf("states %v", states)
	}
	res, _ = s.SendDay(ctx, "2026-12-06")
	if res.Failed != 1 || res.Skipped != 3 || len(mb.To) != 1 {
		t.Errorf("second run %+v: only flaky is tried again", res)
	}
}

// TestSenderSizeLimit honours a rua's "!" size (RFC 7489 §6.2): a report
// over it is not sent there, one within it is.
func TestSenderSizeLimit(t *testing.T) {
	s, mb := newSender(t, []string{`_dmarc.town.test. TXT "v=DMARC1; p=reject; rua=mailto:small@town.test!1k,mailto:big@town.test!1m"`})
	res, err := s.SendDay(context.Background(), "2026-12-06")
	if err != nil || res.Sent != 1 || res.GaveUp != 1 || len(mb.To) != 1 || mb.To[0] != "big@town.test" {
		t.Errorf("result %+v %v, sent to %v; want big only", res, err, mb.To)
	}
}

// TestSenderNoPolicy sends nothing for a domain whose record asks for no
// reports now, remembers that, and tries again a domain whose record
// could not be looked up.
func TestSenderNoPolicy(t *testing.T) {
	ctx := context.Background()
	s, mb := newSender(t, []string{`_dmarc.town.test. TXT "v=DMARC1; p=none"`})
	if res, err := s.SendDay(ctx, "2026-12-06"); err != nil || res.Skipped != 1 || len(mb.Msgs) != 0 {
		t.Errorf("no rua: %+v %v", res, err)
	}
	sent, _ := s.DB.SentFor(ctx, "2026-12-06", "town.test")
	if len(sent) != 1 || sent[0].State != reporting.StateNoPolicy {
		t.Errorf("no rua recorded as %+v", sent)
	}
	s, _ = newSender(t, nil, "_dmarc.town.test")
	if res, err := s.SendDay(ctx, "2026-12-06"); err != nil || res.Failed != 1 {
		t.Errorf("SERVFAIL: %+v %v, want a failure to retry", res, err)
	}
}
