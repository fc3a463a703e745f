package tlsrpt

import (
	"context"
	"strings"

	"pail/internal/reporting"
)

// MaxRowsPerDay bounds the distinct count rows (policy and failure detail
// combinations) kept for one day, in memory and in the database: a
// sender talking to many domains fills a few thousand; beyond this the
// new combinations of the day are dropped (and logged), never the
// counts of those already known.
const MaxRowsPerDay = 20000

// key is what counts are aggregated by: one day, one policy, and for a
// failure its details. Successes carry only the policy and MX host: a
// report lists no details for them (RFC 8460 §4.4).
type key struct {
	Day           string
	PolicyDomain  string
	PolicyType    PolicyType
	PolicyStrings string // joined with "\n"
	MXHost        string
	Result        ResultType // "" for a success
	SendingIP     string
	ReceivingIP   string
	ReceivingHELO string
	Additional    string
}

// Row is one line of a day's counts.
type Row struct {
	Day           string
	PolicyDomain  string
	PolicyType    PolicyType
	PolicyStrings []string
	MXHost        string
	// Result is "" for successful sessions.
	Result        ResultType
	SendingIP     string
	ReceivingIP   string
	ReceivingHELO string
	Additional    string
	Sessions      int64
}

func (k key) row(n int64) Row {
	var ps []string
	if k.PolicyStrings != "" {
		ps = strings.Split(k.PolicyStrings, "\n")
	}
	return Row{Day: k.Day, PolicyDomain: k.PolicyDomain, PolicyType: k.PolicyType, PolicyStrings: ps,
		MXHost: k.MXHost, Result: k.Result, SendingIP: k.SendingIP, ReceivingIP: k.ReceivingIP,
		ReceivingHELO: k.ReceivingHELO, Additional: k.Additional, Sessions: n}
}

const countColumns = "day, policy_domain, policy_type, policy_strings, mx_host, result_type, sending_ip, receiving_ip, receiving_helo, additional"

func (k key) args() []any {
	return []any{k.Day, k.PolicyDomain, string(k.PolicyType), k.PolicyStrings, k.MXHost, string(k.Result),
		k.SendingIP, k.ReceivingIP, k.ReceivingHELO, k.Additional}
}

// countTable is where counts are written.
var countTable = reporting.CountTable[key]{
	Name: "tlsrpt", Table: "counts", CountColumn: "sessions", MaxRowsPerDay: MaxRowsPerDay,
	KeyColumns: strings.Split(countColumns, ", "),
	Args:       key.args,
	Dest: func(k *key) []any {
		return []any{&k.Day, &k.PolicyDomain, &k.PolicyType, &k.PolicyStrings, &k.MXHost, &k.Result,
			&k.SendingIP, &k.ReceivingIP, &k.ReceivingHELO, &k.Additional}
	},
	Day: func(k key) string { return k.Day },
}

// Counts returns the counts of day, of one policy domain unless domain is
// "", ordered by domain, policy and result.
func (d *DB) Counts(ctx context.Context, day, domain string) ([]Row, error) {
	rows, err := countTable.Rows(ctx, d.db, day, domain)
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = r.Key.row(r.N)
	}
	return out, nil
}

// Domains returns the policy domains with counts on day.
func (d *DB) Domains(ctx context.Context, day string) ([]string, error) {
	return countTable.Domains(ctx, d.db, day)
}
