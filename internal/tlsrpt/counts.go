package tlsrpt

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
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

// AddCounts adds counts to the database in one transaction. Rows new to a
// day that already has MaxRowsPerDay are not added; their number is
// returned.
func (d *DB) AddCounts(ctx context.Context, counts map[key]int64) (dropped int, err error) {
	if len(counts) == 0 {
		return 0, nil
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	// A fixed order, so that concurrent writers never lock rows in
	// opposite orders (SQLite locks the whole file, but the order also
	// makes the cap deterministic).
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	err = d.tx(ctx, func(tx *sql.Tx) error {
		rows := map[string]int{}
		for _, k := range keys {
			res, err := tx.ExecContext(ctx, "UPDATE counts SET sessions = sessions + ? WHERE ("+countColumns+") = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				append([]any{counts[k]}, k.args()...)...)
			if err != nil {
				return fmt.Errorf("tlsrpt: add counts: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				continue
			}
			have, ok := rows[k.Day]
			if !ok {
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM counts WHERE day = ?", k.Day).Scan(&have); err != nil {
					return fmt.Errorf("tlsrpt: add counts: %w", err)
				}
			}
			if have >= MaxRowsPerDay {
				dropped++
				rows[k.Day] = have
				continue
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO counts ("+countColumns+", sessions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				append(k.args(), counts[k])...); err != nil {
				return fmt.Errorf("tlsrpt: add counts: %w", err)
			}
			rows[k.Day] = have + 1
		}
		return nil
	})
	return dropped, err
}

// Counts returns the counts of day, of one policy domain unless domain is
// "", ordered by domain, policy and result.
func (d *DB) Counts(ctx context.Context, day, domain string) ([]Row, error) {
	q := "SELECT " + countColumns + ", sessions FROM counts WHERE day = ?"
	args := []any{day}
	if domain != "" {
		q += " AND policy_domain = ?"
		args = append(args, domain)
	}
	rows, err := d.db.QueryContext(ctx, q+" ORDER BY "+countColumns, args...)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: counts: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var k key
		var n int64
		if err := rows.Scan(&k.Day, &k.PolicyDomain, &k.PolicyType, &k.PolicyStrings, &k.MXHost, &k.Result,
			&k.SendingIP, &k.ReceivingIP, &k.ReceivingHELO, &k.Additional, &n); err != nil {
			return nil, fmt.Errorf("tlsrpt: counts: %w", err)
		}
		out = append(out, k.row(n))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tlsrpt: counts: %w", err)
	}
	return out, nil
}

// Domains returns the policy domains with counts on day.
func (d *DB) Domains(ctx context.Context, day string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, "SELECT DISTINCT policy_domain FROM counts WHERE day = ? ORDER BY policy_domain", day)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: domains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("tlsrpt: domains: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
