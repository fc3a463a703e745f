package dmarcrpt

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"pail/internal/reporting"
)

// printable is reporting.Printable.
var printable = reporting.Printable

// WriteCounts prints a day's counts for people: per policy domain and row
// the source address, From domain, messages, disposition and whether DKIM
// and SPF passed aligned.
func WriteCounts(w io.Writer, day string, counts []Count) error {
	fmt.Fprintf(w, "DMARC results on %s (UTC)\n", day)
	if len(counts) == 0 {
		_, err := fmt.Fprintln(w, "no messages checked")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY DOMAIN\tSOURCE IP\tHEADER FROM\tMESSAGES\tDISPOSITION\tDKIM\tSPF")
	for _, c := range counts {
		o := c.Outcome
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", c.Policy.Domain, o.SourceIP, o.HeaderFrom, c.Messages,
			o.Disposition, passFail(o.DKIMAligned), passFail(o.SPFAligned))
	}
	return tw.Flush()
}

// WriteReceived prints received reports for people: per report its
// reporter, period and published policy, and per record the source
// address, message count, disposition and aligned DKIM and SPF results,
// then the raw results.
func WriteReceived(w io.Writer, reps []Received) error {
	return reporting.WriteReceived(w, reps, func(f *Feedback) reporting.Head {
		m := f.Metadata
		return reporting.Head{ID: m.ReportID, Organization: m.OrgName, Contact: m.Email,
			Begin: time.Unix(m.DateRange.Begin, 0), End: time.Unix(m.DateRange.End, 0)}
	}, writeRecords)
}

// writeRecords prints the published policy and the records of a report.
func writeRecords(w io.Writer, f *Feedback) {
	p := f.Policy
	fmt.Fprintf(w, "  policy %s: p=%s sp=%s pct=%d adkim=%s aspf=%s\n", printable(p.Domain), printable(p.P), printable(p.SP),
		p.Pct, printable(p.ADKIM), printable(p.ASPF))
	var total int64
	for _, rec := range f.Records {
		total += rec.Row.Count
	}
	fmt.Fprintf(w, "  %d messages in %d records\n", total, len(f.Records))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    SOURCE IP\tCOUNT\tDISPOSITION\tDKIM\tSPF\tHEADER FROM\tAUTH RESULTS")
	for _, rec := range f.Records {
		pe := rec.Row.PolicyEvaluated
		auth := ""
		for _, d := range rec.AuthResults.DKIM {
			auth += fmt.Sprintf("dkim=%s (%s", d.Result, d.Domain)
			if d.Selector != "" {
				auth += " s=" + d.Selector
			}
			auth += ") "
		}
		for _, s := range rec.AuthResults.SPF {
			auth += fmt.Sprintf("spf=%s (%s) ", s.Result, s.Domain)
		}
		for _, rs := range pe.Reasons {
			auth += "reason=" + rs.Type + " "
		}
		fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\t%s\t%s\t%s\n", printable(rec.Row.SourceIP), rec.Row.Count, printable(pe.Disposition),
			printable(pe.DKIM), printable(pe.SPF), printable(rec.Identifiers.HeaderFrom), printable(strings.TrimSpace(auth)))
	}
	tw.Flush()
}
