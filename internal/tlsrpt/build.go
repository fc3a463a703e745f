package tlsrpt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"pail/internal/reporting"
)

// Submitter describes the organisation that sends reports.
type Submitter struct {
	// Organization is "organization-name" (§4.4).
	Organization string
	// Contact is "contact-info" (§4.4): an address or URI.
	Contact string
	// Host is the submitter in file names and headers (§5.1, §5.3): the
	// sending MTA's host name.
	Host string
}

// dayRange returns the first and last second of a UTC day (§4.4: the
// example's "date-range" runs 00:00:00Z to 23:59:59Z).
func dayRange(day string) (time.Time, time.Time, error) {
	start, end, err := reporting.DayRange(day)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("tlsrpt: day %q: %w", day, err)
	}
	return start, end, nil
}

// ReportID is the id of the report about domain for day: the same on
// every try, so that a receiver can tell a resent report (§4.4
// "report-id": a unique identifier).
func ReportID(day, domain string, sub Submitter) string {
	return strings.ReplaceAll(day, "-", "") + "." + domain + "@" + sub.Host
}

// BuildReport makes the report for one policy domain from the day's rows
// (RFC 8460 §4.4): one entry per policy, with its session totals and a
// failure detail per kind of failure.
func BuildReport(day, domain string, rows []Row, sub Submitter) (*Report, error) {
	start, end, err := dayRange(day)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		OrganizationName: sub.Organization,
		DateRange:        DateRange{Start: start, End: end},
		ContactInfo:      sub.Contact,
		ReportID:         ReportID(day, domain, sub),
		Policies:         []PolicyResult{},
	}
	index := map[string]int{}
	for _, r := range rows {
		if r.PolicyDomain != domain || r.Day != day {
			continue
		}
		pk := string(r.PolicyType) + "\x00" + strings.Join(r.PolicyStrings, "\n")
		i, ok := index[pk]
		if !ok {
			i = len(rep.Policies)
			index[pk] = i
			rep.Policies = append(rep.Policies, PolicyResult{Policy: PolicyDesc{
				Type: r.PolicyType, String: r.PolicyStrings, Domain: domain,
			}})
		}
		p := &rep.Policies[i]
		if r.MXHost != "" && !slices.Contains(p.Policy.MXHost, r.MXHost) {
			p.Policy.MXHost = append(p.Policy.MXHost, r.MXHost)
		}
		if r.Result == "" {
			p.Summary.Successful += r.Sessions
			continue
		}
		p.Summary.Failed += r.Sessions
		p.FailureDetails = append(p.FailureDetails, FailureDetail{
			ResultType:            r.Result,
			SendingMTAIP:          r.SendingIP,
			ReceivingMXHostname:   r.MXHost,
			ReceivingMXHelo:       r.ReceivingHELO,
			ReceivingIP:           r.ReceivingIP,
			FailedSessionCount:    r.Sessions,
			AdditionalInformation: r.Additional,
		})
	}
	if len(rep.Policies) == 0 {
		return nil, fmt.Errorf("tlsrpt: no counts for %s on %s", domain, day)
	}
	return rep, nil
}
