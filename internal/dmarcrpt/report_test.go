package dmarcrpt

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"pail/internal/reporting"
	"pail/internal/reporting/reportingtest"
)

var testSubmitter = Submitter{Organization: "Hill Mail", Email: "postmaster@mx.hill.test", Host: "mx.hill.test"}

// elementPaths returns every element path of an XML document with its
// text ("feedback/report_metadata/org_name" -> "Hill Mail"), repeated
// paths joined with "|".
func elementPaths(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report does not parse as XML: %v\n%s", err, data)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tk.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(tk)
		case xml.EndElement:
			p := strings.Join(stack, "/")
			if v := strings.TrimSpace(text.String()); v != "" {
				if old, ok := out[p]; ok {
					v = old + "|" + v
				}
				out[p] = v
			} else if _, ok := out[p]; !ok {
				out[p] = ""
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	return out
}

func seedCounts(t *testing.T, db *DB, day time.Time, outcomes ...Outcome) []Count {
	t.Helper()
	reportingtest.Seed(t, NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(day)}), outcomes...)
	counts, err := db.Counts(context.Background(), reporting.Day(day), "")
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// TestReportXML builds a day's report from stored counts and reads the
// gzipped XML back element by element: the fields and nesting of RFC
// 7489 Appendix C, the counts per source, the period of the UTC day.
func TestReportXML(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	day := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	counts := seedCounts(t, db, day, passing("192.0.2.1"), passing("192.0.2.1"), failing("198.51.100.7"))
	rep, err := BuildReport("2026-12-06", "town.test", counts, testSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := rep.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	data := reportingtest.Gunzip(t, gz)
	got := elementPaths(t, data)
	want := map[string]string{
		"feedback/version":                                 "1.0",
		"feedback/report_metadata/org_name":                "Hill Mail",
		"feedback/report_metadata/email":                   "postmaster@mx.hill.test",
		"feedback/report_metadata/report_id":               "20261206.town.test@mx.hill.test",
		"feedback/report_metadata/date_range/begin":        "1796515200",
		"feedback/report_metadata/date_range/end":          "1796601599",
		"feedback/policy_published/domain":                 "town.test",
		"feedback/policy_published/adkim":                  "r",
		"feedback/policy_published/aspf":                   "r",
		"feedback/policy_published/p":                      "reject",
		"feedback/policy_published/sp":                     "reject",
		"feedback/policy_published/pct":                    "100",
		"feedback/policy_published/fo":                     "0",
		"feedback/record/row/source_ip":                    "192.0.2.1|198.51.100.7",
		"feedback/record/row/count":                        "2|1",
		"feedback/record/row/policy_evaluated/disposition": "none|reject",
		"feedback/record/row/policy_evaluated/dkim":        "pass|fail",
		"feedback/record/row/policy_evaluated/spf":         "pass|fail",
		"feedback/record/identifiers/envelope_from":        "town.test|spam.test",
		"feedback/record/identifiers/header_from":          "town.test|town.test",
		"feedback/record/auth_results/dkim/domain":         "town.test",
		"feedback/record/auth_results/dkim/selector":       "sel",
		"feedback/record/auth_results/dkim/result":         "pass",
		"feedback/record/auth_results/spf/domain":          "town.test|spam.test",
		"feedback/record/auth_results/spf/scope":           "mfrom|mfrom",
		"feedback/record/auth_results/spf/result":          "pass|fail",
	}
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s = %q, want %q", p, got[p], v)
		}
	}
	for _, p := range []string{"feedback", "feedback/report_metadata", "feedback/report_metadata/date_range", "feedback/policy_published",
		"feedback/record", "feedback/record/row", "feedback/record/row/policy_evaluated", "feedback/record/identifiers", "feedback/record/auth_results",
		"feedback/record/auth_results/dkim", "feedback/record/auth_results/spf"} {
		want[p] = ""
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected element %s", p)
		}
	}
	back, err := ParseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Metadata.ReportID != rep.Metadata.ReportID || back.Metadata.DateRange != rep.Metadata.DateRange || back.Policy != rep.Policy || len(back.Records) != 2 || back.Records[0].Row.Count != 2 {
		t.Errorf("parsed back %+v, want %+v", back, rep)
	}
}

// TestBuildReportPolicyOfMost takes the record most messages met as
// policy_published when the record changed during the day, and refuses a
// domain without counts.
func TestBuildReportPolicyOfMost(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	day := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	old := passing("192.0.2.1")
	old.Policy.P = "none"
	counts := seedCounts(t, db, day, old, passing("192.0.2.1"), passing("192.0.2.2"))
	rep, err := BuildReport("2026-12-06", "town.test", counts, testSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Policy.P != "reject" || len(rep.Records) != 3 {
		t.Errorf("policy %+v, %d records", rep.Policy, len(rep.Records))
	}
	if _, err := BuildReport("2026-12-06", "dale.test", counts, testSubmitter); err == nil {
		t.Error("a report about a domain without counts")
	}
}

// TestComposeMail names the attachment and the Subject as RFC 7489
// §7.2.1.1 says, and the report comes back out of the message.
func TestComposeMail(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	counts := seedCounts(t, db, time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC), passing("192.0.2.1"))
	rep, _ := BuildReport("2026-12-06", "town.test", counts, testSubmitter)
	gz, _ := rep.Gzip()
	msg := string(ComposeMail(testSubmitter, "postmaster@hill.test", "dmarc@town.test", rep, gz, time.Now()))
	for _, want := range []string{
		"Subject: Report Domain: town.test Submitter: mx.hill.test Report-ID: <20261206.town.test@mx.hill.test>\r\n",
		"From: <postmaster@hill.test>\r\n", "To: <dmarc@town.test>\r\n",
		"Content-Type: application/gzip\r\n",
		`filename="mx.hill.test!town.test!1796515200!1796601599.xml.gz"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	got, err := ExtractReports(strings.NewReader(msg))
	if err != nil || len(got) != 1 || got[0].Report.Metadata.ReportID != rep.Metadata.ReportID {
		t.Fatalf("extracted %+v, %v", got, err)
	}
}
