package dmarcrpt

import (
	"fmt"
	"strings"

	"pail/internal/reporting"
)

// Submitter describes the receiver that sends reports.
type Submitter struct {
	// Organization is report_metadata org_name.
	Organization string
	// Email is report_metadata email.
	Email string
	// Host is the receiver in file names and the Subject (§7.2.1.1): pail's
	// host name.
	Host string
}

// ReportID is the id of the report about domain for day: the same on
// every try, so that a receiver can tell a resent report (§7.2.1.1: the
// Report-ID lets the Domain Owner ignore duplicates); it has the form of
// a msg-id's inside.
func ReportID(day, domain string, sub Submitter) string {
	return strings.ReplaceAll(day, "-", "") + "." + domain + "@" + sub.Host
}

// BuildReport makes the aggregate report for one policy domain from the
// day's counts (RFC 7489 §7.2, Appendix C): one record per row. When the
// domain's record changed during the day, policy_published is the one
// most messages met.
func BuildReport(day, domain string, counts []Count, sub Submitter) (*Feedback, error) {
	start, end, err := reporting.DayRange(day)
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: day %q: %w", day, err)
	}
	f := &Feedback{
		Version: reportVersion,
		Metadata: ReportMetadata{
			OrgName: sub.Organization, Email: sub.Email, ReportID: ReportID(day, domain, sub),
			DateRange: DateRange{Begin: start.Unix(), End: end.Unix()},
		},
	}
	perPolicy := map[PolicyPublished]int64{}
	var most int64
	for _, c := range counts {
		if c.Day != day || c.Policy.Domain != domain {
			continue
		}
		o := c.Outcome
		if perPolicy[c.Policy] += c.Messages; perPolicy[c.Policy] > most {
			most, f.Policy = perPolicy[c.Policy], c.Policy
		}
		rec := Record{
			Row: Row{SourceIP: o.SourceIP, Count: c.Messages, PolicyEvaluated: PolicyEvaluated{
				Disposition: o.Disposition, DKIM: passFail(o.DKIMAligned), SPF: passFail(o.SPFAligned),
			}},
			Identifiers: Identifiers{EnvelopeFrom: o.EnvelopeFrom, HeaderFrom: o.HeaderFrom},
			AuthResults: AuthResults{DKIM: o.DKIM, SPF: []SPFAuthResult{o.SPF}},
		}
		for _, r := range o.Reasons {
			rec.Row.PolicyEvaluated.Reasons = append(rec.Row.PolicyEvaluated.Reasons, PolicyOverrideReason{Type: r})
		}
		f.Records = append(f.Records, rec)
	}
	if len(f.Records) == 0 {
		return nil, fmt.Errorf("dmarcrpt: no counts for %s on %s", domain, day)
	}
	if f.Policy.SP == "" {
		// §6.3: sp defaults to p; the schema wants it written.
		f.Policy.SP = f.Policy.P
	}
	return f, nil
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

// Filename is the report's file name (RFC 7489 §7.2.1.1):
//
//	filename = receiver "!" policy-domain "!" begin-timestamp
//	           "!" end-timestamp [ "!" unique-id ] "." extension
//
// with extension "xml.gz" for the gzipped XML pail sends.
func Filename(sub Submitter, f *Feedback) string {
	return fmt.Sprintf("%s!%s!%d!%d.xml.gz", sub.Host, f.Policy.Domain, f.Metadata.DateRange.Begin, f.Metadata.DateRange.End)
}

// MediaTypeGzip is the attachment's media type (§7.2.1.1).
const MediaTypeGzip = "application/gzip"
