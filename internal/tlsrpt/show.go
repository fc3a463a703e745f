package tlsrpt

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"pail/internal/reporting"
)

// WriteCounts prints a day's counts for people: per policy domain and
// policy type the successful sessions and the failures by result type.
func WriteCounts(w io.Writer, day string, rows []Row) error {
	type line struct {
		succ     int64
		failures map[ResultType]int64
	}
	lines := map[[2]string]*line{}
	var order [][2]string
	for _, r := range rows {
		k := [2]string{r.PolicyDomain, string(r.PolicyType)}
		l := lines[k]
		if l == nil {
			l = &line{failures: map[ResultType]int64{}}
			lines[k] = l
			order = append(order, k)
		}
		if r.Result == "" {
			l.succ += r.Sessions
		} else {
			l.failures[r.Result] += r.Sessions
		}
	}
	slices.SortFunc(order, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	fmt.Fprintf(w, "TLS sessions on %s (UTC)\n", day)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tPOLICY\tSUCCESSES\tFAILURES")
	for _, k := range order {
		l := lines[k]
		var fs []string
		for rt, n := range l.failures {
			fs = append(fs, fmt.Sprintf("%s=%d", rt, n))
		}
		slices.Sort(fs)
		f := "0"
		if len(fs) > 0 {
			f = strings.Join(fs, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", k[0], k[1], l.succ, f)
	}
	return tw.Flush()
}

// WriteReceived prints received reports for people: per report its
// reporter and period, and per policy its sessions and failures.
func WriteReceived(w io.Writer, reps []Received) error {
	return reporting.WriteReceived(w, reps, func(r *Report) reporting.Head {
		return reporting.Head{ID: r.ReportID, Organization: r.OrganizationName, Contact: r.ContactInfo,
			Begin: r.DateRange.Start, End: r.DateRange.End}
	}, writePolicies)
}

// writePolicies prints the policies of a report with their failures.
func writePolicies(w io.Writer, rep *Report) {
	for _, p := range rep.Policies {
		fmt.Fprintf(w, "  policy %s %s: %d successful, %d failed\n", printable(p.Policy.Domain), printable(string(p.Policy.Type)),
			p.Summary.Successful, p.Summary.Failed)
		if len(p.Policy.MXHost) > 0 {
			fmt.Fprintf(w, "    mx: %s\n", printable(strings.Join(p.Policy.MXHost, ", ")))
		}
		for _, f := range p.FailureDetails {
			fmt.Fprintf(w, "    %d x %s", f.FailedSessionCount, printable(string(f.ResultType)))
			for _, kv := range [][2]string{{"mx", f.ReceivingMXHostname}, {"helo", f.ReceivingMXHelo},
				{"receiving-ip", f.ReceivingIP}, {"sending-ip", f.SendingMTAIP},
				{"reason", f.FailureReasonCode}, {"info", f.AdditionalInformation}} {
				if kv[1] != "" {
					fmt.Fprintf(w, " %s=%s", kv[0], printable(kv[1]))
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// printable is reporting.Printable.
var printable = reporting.Printable
