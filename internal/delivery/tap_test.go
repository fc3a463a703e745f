package delivery_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"pail/internal/delivery"
	"pail/internal/dmarcrpt"
	"pail/internal/maillog"
	"pail/internal/tlsrpt"
)

// TestTapTLSReport delivers a TLS report (RFC 8460 §5.3, as pail sends
// one) to postmaster@ a local domain through Inject: the tlsrpt Receiver
// stores it from the spool, and the message is in the mailbox as well; a
// report to another local address is only delivered.
func TestTapTLSReport(t *testing.T) {
	e := newCommitEnv(t)
	ctx := context.Background()
	db, err := tlsrpt.Open(ctx, tlsrpt.DirIn(e.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sub := tlsrpt.Submitter{Organization: "Town Mail", Contact: "postmaster@town.test", Host: "mx.town.test"}
	mail := func(day, to string) []byte {
		rows := []tlsrpt.Row{{Day: day, PolicyDomain: "hill.test", PolicyType: tlsrpt.PolicyNone, MXHost: "mx.hill.test", Sessions: 7}}
		rep, err := tlsrpt.BuildReport(day, "hill.test", rows, sub)
		if err != nil {
			t.Fatal(err)
		}
		gz, _ := rep.Gzip()
		return tlsrpt.ComposeMail(sub, "postmaster@town.test", to, rep, gz, time.Now())
	}
	router := delivery.NewRouter(e.st, func(d string) bool { return d == "hill.test" }, "dave@hill.test")
	d := delivery.NewDeliverer(e.st, e.q, maillog.New(e.log), "mx.hill.test")
	d.SetTap(tlsrpt.NewReceiver(db, nil))
	if err := d.Inject(ctx, router, "postmaster@town.test", []string{"postmaster@hill.test"}, mail("2026-12-05", "postmaster@hill.test")); err != nil {
		t.Fatal(err)
	}
	if err := d.Inject(ctx, router, "postmaster@town.test", []string{"erin@hill.test"}, mail("2026-12-06", "erin@hill.test")); err != nil {
		t.Fatal(err)
	}
	got, err := db.ReceivedReports(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Report.OrganizationName != "Town Mail" || got[0].Report.Policies[0].Summary.Successful != 7 {
		t.Fatalf("received reports %+v, want the one to postmaster", got)
	}
	if n := e.count(t, e.dave); n != 1 {
		t.Errorf("postmaster's (dave's) INBOX has %d messages, want the report", n)
	}
	if n := e.count(t, e.erin); n != 1 {
		t.Errorf("erin's INBOX has %d messages, want the report", n)
	}
	var out bytes.Buffer
	tlsrpt.WriteReceived(&out, got)
	if !strings.Contains(out.String(), "hill.test no-policy-found: 7 successful, 0 failed") {
		t.Errorf("show --received:\n%s", out.String())
	}
}

// TestTapsTLSAndDMARC shows postmaster's mail to both taps the server
// sets: a DMARC aggregate report lands in the dmarc database, a TLS
// report in the tlsrpt one, each tap reading the message from its start.
func TestTapsTLSAndDMARC(t *testing.T) {
	e := newCommitEnv(t)
	ctx := context.Background()
	tdb, err := tlsrpt.Open(ctx, tlsrpt.DirIn(e.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer tdb.Close()
	ddb, err := dmarcrpt.Open(ctx, dmarcrpt.DirIn(e.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer ddb.Close()
	router := delivery.NewRouter(e.st, func(d string) bool { return d == "hill.test" }, "dave@hill.test")
	d := delivery.NewDeliverer(e.st, e.q, maillog.New(e.log), "mx.hill.test")
	d.AddTap(tlsrpt.NewReceiver(tdb, nil))
	d.AddTap(dmarcrpt.NewReceiver(ddb, nil))

	sub := dmarcrpt.Submitter{Organization: "Town Mail", Email: "postmaster@town.test", Host: "mx.town.test"}
	pol := dmarcrpt.PolicyPublished{Domain: "hill.test", P: "reject", Pct: 100}
	counts := []dmarcrpt.Count{{Day: "2026-12-05", Policy: pol, Messages: 9, Outcome: dmarcrpt.Outcome{Policy: pol, SourceIP: "192.0.2.1",
		HeaderFrom: "hill.test", Disposition: "none", DKIMAligned: true}}}
	rep, err := dmarcrpt.BuildReport("2026-12-05", "hill.test", counts, sub)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := rep.Gzip()
	msg := dmarcrpt.ComposeMail(sub, "postmaster@town.test", "postmaster@hill.test", rep, gz, time.Now())
	if err := d.Inject(ctx, router, "postmaster@town.test", []string{"postmaster@hill.test"}, msg); err != nil {
		t.Fatal(err)
	}
	got, err := ddb.ReceivedReports(ctx, time.Time{})
	if err != nil || len(got) != 1 || got[0].Report.Records[0].Row.Count != 9 {
		t.Fatalf("dmarc reports %+v %v, want the one", got, err)
	}
	if tl, _ := tdb.ReceivedReports(ctx, time.Time{}); len(tl) != 0 {
		t.Errorf("a DMARC report stored as a TLS report: %+v", tl)
	}
	if n := e.count(t, e.dave); n != 1 {
		t.Errorf("postmaster's INBOX has %d messages, want the report", n)
	}
}
