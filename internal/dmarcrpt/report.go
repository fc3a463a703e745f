package dmarcrpt

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"pail/internal/reporting"
)

// Feedback is an aggregate report: the XML document of RFC 7489
// Appendix C ("feedback"). Names in the namespace of the schema
// (http://dmarc.org/dmarc-xml/0.1) and without one are read alike.
type Feedback struct {
	XMLName  xml.Name        `xml:"feedback"`
	Version  string          `xml:"version,omitempty"`
	Metadata ReportMetadata  `xml:"report_metadata"`
	Policy   PolicyPublished `xml:"policy_published"`
	Records  []Record        `xml:"record"`
}

// ReportMetadata is the report generator's metadata (ReportMetadataType).
type ReportMetadata struct {
	OrgName          string    `xml:"org_name"`
	Email            string    `xml:"email"`
	ExtraContactInfo string    `xml:"extra_contact_info,omitempty"`
	ReportID         string    `xml:"report_id"`
	DateRange        DateRange `xml:"date_range"`
	Errors           []string  `xml:"error,omitempty"`
}

// DateRange is the period covered, in seconds since the epoch, UTC
// (DateRangeType).
type DateRange struct {
	Begin int64 `xml:"begin"`
	End   int64 `xml:"end"`
}

// PolicyPublished is the DMARC record as it applied
// (PolicyPublishedType).
type PolicyPublished struct {
	// Domain is where the record was found.
	Domain string `xml:"domain"`
	ADKIM  string `xml:"adkim,omitempty"` // r or s
	ASPF   string `xml:"aspf,omitempty"`
	P      string `xml:"p"`
	SP     string `xml:"sp,omitempty"`
	Pct    int    `xml:"pct"`
	FO     string `xml:"fo,omitempty"`
}

// Record is one row of counts with its identifiers and authentication
// results (RecordType).
type Record struct {
	Row         Row         `xml:"row"`
	Identifiers Identifiers `xml:"identifiers"`
	AuthResults AuthResults `xml:"auth_results"`
}

// Row is a source address, its message count and what was done (RowType).
type Row struct {
	SourceIP        string          `xml:"source_ip"`
	Count           int64           `xml:"count"`
	PolicyEvaluated PolicyEvaluated `xml:"policy_evaluated"`
}

// PolicyEvaluated is the DMARC result that was applied
// (PolicyEvaluatedType): the disposition and whether DKIM and SPF passed
// aligned ("pass" or "fail").
type PolicyEvaluated struct {
	Disposition string                 `xml:"disposition"`
	DKIM        string                 `xml:"dkim"`
	SPF         string                 `xml:"spf"`
	Reasons     []PolicyOverrideReason `xml:"reason,omitempty"`
}

// PolicyOverrideReason says why the disposition is not what the policy
// asks (PolicyOverrideReason).
type PolicyOverrideReason struct {
	Type    string `xml:"type"`
	Comment string `xml:"comment,omitempty"`
}

// Identifiers are the message's domains (IdentifierType).
type Identifiers struct {
	EnvelopeTo   string `xml:"envelope_to,omitempty"`
	EnvelopeFrom string `xml:"envelope_from"`
	HeaderFrom   string `xml:"header_from"`
}

// AuthResults are the DKIM and SPF results, unaligned as they came
// (AuthResultType).
type AuthResults struct {
	DKIM []DKIMAuthResult `xml:"dkim,omitempty"`
	SPF  []SPFAuthResult  `xml:"spf"`
}

// DKIMAuthResult is one signature's result (DKIMAuthResultType).
type DKIMAuthResult struct {
	Domain      string `xml:"domain"`
	Selector    string `xml:"selector,omitempty"`
	Result      string `xml:"result"`
	HumanResult string `xml:"human_result,omitempty"`
}

// SPFAuthResult is the SPF result (SPFAuthResultType); Scope is "mfrom"
// or "helo".
type SPFAuthResult struct {
	Domain string `xml:"domain"`
	Scope  string `xml:"scope,omitempty"`
	Result string `xml:"result"`
}

// reportVersion is the feedback version pail writes.
const reportVersion = "1.0"

// XML returns the report as an XML document.
func (f *Feedback) XML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("dmarcrpt: encode report: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// Gzip returns the report as gzip-compressed XML, the form it is sent in
// (RFC 7489 §7.2.1.1: "application/gzip").
func (f *Feedback) Gzip() ([]byte, error) {
	data, err := f.XML()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("dmarcrpt: gzip report: %w", err)
	}
	return buf.Bytes(), nil
}

// MaxReportBytes bounds a received report's XML, and the compressed data
// it is read from: a large receiver's day for a busy domain is a few
// megabytes; a gzip or zip bomb stops here.
const MaxReportBytes = 8 << 20

// maxZipFiles bounds the files looked at in a zip archive.
const maxZipFiles = 8

// ErrTooLarge means a report is over MaxReportBytes.
var ErrTooLarge = reporting.ErrTooLarge

// Magic numbers of the compressed forms.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zipMagic  = []byte("PK\x03\x04")
)

// Decode returns a report's XML from an attachment as §7.2.1.1 and the
// field send them: gzip, zip (the first .xml file inside) or plain XML,
// told apart by their first bytes; at most MaxReportBytes are read and
// returned.
func Decode(r io.Reader) ([]byte, error) {
	data, err := reporting.ReadLimited(r, false, MaxReportBytes)
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: report: %w", err)
	}
	switch {
	case bytes.HasPrefix(data, gzipMagic):
		data, err = reporting.ReadLimited(bytes.NewReader(data), true, MaxReportBytes)
		if err != nil {
			return nil, fmt.Errorf("dmarcrpt: report: %w", err)
		}
		return data, nil
	case bytes.HasPrefix(data, zipMagic):
		return unzip(data)
	}
	return data, nil
}

// unzip returns the first .xml file of a zip archive (or its only file),
// reading at most MaxReportBytes of it whatever its header claims.
func unzip(data []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: report: zip: %w", err)
	}
	files := zr.File
	if len(files) > maxZipFiles {
		files = files[:maxZipFiles]
	}
	var pick *zip.File
	for _, f := range files {
		if strings.HasSuffix(strings.ToLower(f.Name), ".xml") {
			pick = f
			break
		}
	}
	if pick == nil && len(zr.File) == 1 {
		pick = zr.File[0]
	}
	if pick == nil {
		return nil, errors.New("dmarcrpt: report: zip holds no .xml file")
	}
	rc, err := pick.Open()
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: report: zip: %w", err)
	}
	defer rc.Close()
	out, err := reporting.ReadLimited(rc, false, MaxReportBytes)
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: report: zip: %w", err)
	}
	return out, nil
}

// ParseReport parses an aggregate report's XML and checks the fields
// every report has (RFC 7489 Appendix C: org_name, report_id, date_range,
// policy_published domain).
func ParseReport(data []byte) (*Feedback, error) {
	if len(data) > MaxReportBytes {
		return nil, ErrTooLarge
	}
	var f Feedback
	dec := xml.NewDecoder(bytes.NewReader(data))
	// Reports are US-ASCII or UTF-8; a declared ISO-8859-1 (seen in the
	// field) is read as it is rather than refused.
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("dmarcrpt: report: %w", err)
	}
	m := f.Metadata
	if strings.TrimSpace(m.OrgName) == "" || strings.TrimSpace(m.ReportID) == "" || m.DateRange.Begin == 0 || strings.TrimSpace(f.Policy.Domain) == "" {
		return nil, errors.New("dmarcrpt: report lacks org_name, report_id, date_range or policy_published domain")
	}
	return &f, nil
}
