package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"pail/internal/reporting"
)

// Report is an aggregate report, the JSON object of RFC 8460 §4.4.
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyResult `json:"policies"`
}

// DateRange is the report's period (§4.4 "date-range"), RFC 3339 times.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyResult is the counts for one policy (§4.4 "policies").
type PolicyResult struct {
	Policy         PolicyDesc      `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// PolicyDesc names the policy that applied (§4.4 "policy").
type PolicyDesc struct {
	Type   PolicyType `json:"policy-type"`
	String []string   `json:"policy-string,omitempty"`
	Domain string     `json:"policy-domain"`
	// MXHost lists the MX hosts (or the MTA-STS mx patterns) the policy
	// covers. RFC 8460 §4.4 shows a string in its example and a list in
	// its text; pail writes a list and reads either.
	MXHost MXHosts `json:"mx-host,omitempty"`
}

// Summary is the session totals (§4.4 "summary").
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail is one kind of failure and its count (§4.4
// "failure-details").
type FailureDetail struct {
	ResultType            ResultType `json:"result-type"`
	SendingMTAIP          string     `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname   string     `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo       string     `json:"receiving-mx-helo,omitempty"`
	ReceivingIP           string     `json:"receiving-ip,omitempty"`
	FailedSessionCount    int64      `json:"failed-session-count"`
	AdditionalInformation string     `json:"additional-information,omitempty"`
	FailureReasonCode     string     `json:"failure-reason-code,omitempty"`
}

// MXHosts is the "mx-host" value: written as a list, read from a list or
// a single string.
type MXHosts []string

// UnmarshalJSON takes a string or a list of strings.
func (m *MXHosts) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*m = MXHosts{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("tlsrpt: mx-host: %w", err)
	}
	*m = list
	return nil
}

// Gzip returns the report as gzip-compressed JSON, the form it is sent in
// (RFC 8460 §5: "application/tlsrpt+gzip").
func (r *Report) Gzip() ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, fmt.Errorf("tlsrpt: encode report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("tlsrpt: gzip report: %w", err)
	}
	return buf.Bytes(), nil
}

// MaxReportBytes bounds a report's JSON, compressed or not, when one is
// read: real reports are a few kilobytes; this leaves room for a large
// sender's day and stops a gzip bomb after that many bytes.
const MaxReportBytes = 4 << 20

// ErrTooLarge means a report's JSON is over MaxReportBytes (it is
// reporting.ErrTooLarge).
var ErrTooLarge = reporting.ErrTooLarge

// ParseReport reads a report, gzip-compressed when gz, reading at most
// MaxReportBytes of JSON.
func ParseReport(r io.Reader, gz bool) (*Report, error) {
	data, err := readReport(r, gz)
	if err != nil {
		return nil, err
	}
	return parseJSON(data)
}

// readReport returns a report's JSON bytes, reading at most
// MaxReportBytes of compressed data and MaxReportBytes of JSON: a gzip
// bomb stops there.
func readReport(r io.Reader, gz bool) ([]byte, error) {
	data, err := reporting.ReadLimited(r, gz, MaxReportBytes)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: report: %w", err)
	}
	return data, nil
}

// parseJSON parses a report's JSON and checks the fields every report
// has (RFC 8460 §4.4).
func parseJSON(data []byte) (*Report, error) {
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("tlsrpt: report: %w", err)
	}
	if rep.ReportID == "" || rep.OrganizationName == "" || rep.DateRange.Start.IsZero() {
		return nil, fmt.Errorf("tlsrpt: report lacks organization-name, report-id or date-range")
	}
	return &rep, nil
}
