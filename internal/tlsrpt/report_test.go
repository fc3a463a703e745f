package tlsrpt

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pail/internal/reporting/reportingtest"
)

var testSubmitter = Submitter{Organization: "Ash Mail", Contact: "postmaster@ash.test", Host: "mx.ash.test"}

func testRows() []Row {
	sts := []string{"version: STSv1", "mode: enforce", "mx: *.mail.hill.test", "max_age: 86400"}
	return []Row{
		{Day: "2026-12-06", PolicyDomain: "hill.test", PolicyType: PolicySTS, PolicyStrings: sts, MXHost: "mx1.mail.hill.test", Sessions: 40},
		{Day: "2026-12-06", PolicyDomain: "hill.test", PolicyType: PolicySTS, PolicyStrings: sts, MXHost: "mx1.mail.hill.test",
			Result: ResultCertificateExpired, SendingIP: "192.0.2.1", ReceivingIP: "198.51.100.7", ReceivingHELO: "mx1", Sessions: 3},
		{Day: "2026-12-06", PolicyDomain: "hill.test", PolicyType: PolicyNone, MXHost: "mx2.mail.hill.test", Sessions: 2},
		{Day: "2026-12-06", PolicyDomain: "other.test", PolicyType: PolicyNone, MXHost: "mx.other.test", Sessions: 9},
	}
}

// TestReportJSONShape checks the report against the field names of RFC
// 8460 §4.4 by decoding it as generic JSON.
func TestReportJSONShape(t *testing.T) {
	rep, err := BuildReport("2026-12-06", "hill.test", testRows(), testSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if got, want := keys(m), []string{"contact-info", "date-range", "organization-name", "policies", "report-id"}; !slices.Equal(got, want) {
		t.Errorf("top-level fields %q, want %q", got, want)
	}
	dr := m["date-range"].(map[string]any)
	if dr["start-datetime"] != "2026-12-06T00:00:00Z" || dr["end-datetime"] != "2026-12-06T23:59:59Z" {
		t.Errorf("date-range %v", dr)
	}
	pols := m["policies"].([]any)
	if len(pols) != 2 {
		t.Fatalf("policies: %d, want 2 (sts and no-policy-found)", len(pols))
	}
	p0 := pols[0].(map[string]any)
	if got := keys(p0); !slices.Equal(got, []string{"failure-details", "policy", "summary"}) {
		t.Errorf("policy entry fields %q", got)
	}
	pol := p0["policy"].(map[string]any)
	if got := keys(pol); !slices.Equal(got, []string{"mx-host", "policy-domain", "policy-string", "policy-type"}) {
		t.Errorf("policy fields %q", got)
	}
	if pol["policy-type"] != "sts" || pol["policy-domain"] != "hill.test" || len(pol["policy-string"].([]any)) != 4 {
		t.Errorf("policy %v", pol)
	}
	sum := p0["summary"].(map[string]any)
	if sum["total-successful-session-count"] != 40.0 || sum["total-failure-session-count"] != 3.0 {
		t.Errorf("summary %v", sum)
	}
	fd := p0["failure-details"].([]any)[0].(map[string]any)
	if got := keys(fd); !slices.Equal(got, []string{"failed-session-count", "receiving-ip", "receiving-mx-helo", "receiving-mx-hostname", "result-type", "sending-mta-ip"}) {
		t.Errorf("failure-detail fields %q", got)
	}
	if fd["result-type"] != "certificate-expired" || fd["failed-session-count"] != 3.0 || fd["receiving-mx-hostname"] != "mx1.mail.hill.test" {
		t.Errorf("failure detail %v", fd)
	}
	p1 := pols[1].(map[string]any)
	if p1["policy"].(map[string]any)["policy-type"] != "no-policy-found" {
		t.Errorf("second policy %v", p1)
	}
	if _, ok := p1["failure-details"]; ok {
		t.Errorf("a policy without failures lists failure-details: %v", p1)
	}
}

func TestGzipRoundTrip(t *testing.T) {
	rep, err := BuildReport("2026-12-06", "hill.test", testRows(), testSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := rep.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	raw := reportingtest.Gunzip(t, gz)
	if !json.Valid(raw) {
		t.Fatalf("not JSON: %s", raw)
	}
	back, err := ParseReport(bytes.NewReader(gz), true)
	if err != nil {
		t.Fatal(err)
	}
	if back.ReportID != rep.ReportID || back.Policies[0].Summary != rep.Policies[0].Summary || !back.DateRange.Start.Equal(rep.DateRange.Start) {
		t.Errorf("round trip: %+v, want %+v", back, rep)
	}
}

// TestMXHostString reads the "mx-host" of RFC 8460's own example, a
// string, as well as the list pail writes.
func TestMXHostString(t *testing.T) {
	var p PolicyDesc
	if err := json.Unmarshal([]byte(`{"policy-type":"sts","policy-domain":"x.test","mx-host":"*.mail.x.test"}`), &p); err != nil || !slices.Equal(p.MXHost, []string{"*.mail.x.test"}) {
		t.Errorf("string mx-host: %v %v", p.MXHost, err)
	}
	if err := json.Unmarshal([]byte(`{"policy-type":"sts","policy-domain":"x.test","mx-host":["a","b"]}`), &p); err != nil || !slices.Equal(p.MXHost, []string{"a", "b"}) {
		t.Errorf("list mx-host: %v %v", p.MXHost, err)
	}
}

func TestFilename(t *testing.T) {
	rep, err := BuildReport("2026-12-06", "hill.test", testRows(), testSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).Unix()
	name := Filename(testSubmitter, rep)
	// RFC 8460 §5.1: sender!policy-domain!begin!end[!unique-id].json.gz
	re := regexp.MustCompile(`^mx\.ash\.test!hill\.test!(\d+)!(\d+)![A-Za-z0-9]+\.json\.gz$`)
	m := re.FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("file name %q does not follow RFC 8460 §5.1", name)
	}
	if m[1] != itoa(start) || m[2] != itoa(start+86399) {
		t.Errorf("file name %q: timestamps, want %d and %d", name, start, start+86399)
	}
	if Filename(testSubmitter, rep) != name {
		t.Error("file name differs between calls for the same report")
	}
	if strings.Contains(name, "/") {
		t.Errorf("file name %q has a slash", name)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
