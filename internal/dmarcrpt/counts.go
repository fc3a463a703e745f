package dmarcrpt

import (
	"context"
	"strings"

	"pail/internal/reporting"
)

// MaxRowsPerDay bounds the distinct count rows (policy, source and
// result combinations) kept for one day, in memory and in the database:
// a small site sees a few hundred sources a day; beyond this the new
// combinations of the day are dropped (and logged), never the counts of
// those already known.
const MaxRowsPerDay = 50000

// Field bounds: what one message may add to a row, so that a forged From
// or a signature's long d= cannot make rows large.
const (
	maxFieldLen   = 255 // a domain name, an address, a selector
	maxSignatures = 5   // DKIM results kept per row (verify.MaxSignatures)
)

// key is what counts are aggregated by: the day, the record that applied
// and everything one report record says about a message.
type key struct {
	Day          string
	PolicyDomain string
	P, SP        string
	Pct          int
	ADKIM, ASPF  string
	FO           string
	SourceIP     string
	HeaderFrom   string
	EnvelopeFrom string
	Disposition  string
	DKIMAligned  bool
	SPFAligned   bool
	Reasons      string // joined with ","
	Auth         string // encodeAuth
}

// Count is one row of a day's counts.
type Count struct {
	Day      string
	Policy   PolicyPublished
	Outcome  Outcome
	Messages int64
}

const countColumns = "day, policy_domain, p, sp, pct, adkim, aspf, fo, source_ip, header_from, envelope_from, disposition, dkim_aligned, spf_aligned, reasons, auth"

var countTable = reporting.CountTable[key]{
	Name: name, Table: "counts", CountColumn: "messages", MaxRowsPerDay: MaxRowsPerDay,
	KeyColumns: strings.Split(countColumns, ", "),
	Args: func(k key) []any {
		return []any{k.Day, k.PolicyDomain, k.P, k.SP, k.Pct, k.ADKIM, k.ASPF, k.FO, k.SourceIP, k.HeaderFrom,
			k.EnvelopeFrom, k.Disposition, k.DKIMAligned, k.SPFAligned, k.Reasons, k.Auth}
	},
	Dest: func(k *key) []any {
		return []any{&k.Day, &k.PolicyDomain, &k.P, &k.SP, &k.Pct, &k.ADKIM, &k.ASPF, &k.FO, &k.SourceIP, &k.HeaderFrom,
			&k.EnvelopeFrom, &k.Disposition, &k.DKIMAligned, &k.SPFAligned, &k.Reasons, &k.Auth}
	},
	Day: func(k key) string { return k.Day },
}

// outcomeKey is the row an outcome counts in, its fields bounded.
func outcomeKey(day string, o Outcome) key {
	f := func(s string) string { return clip(strings.ToLower(strings.TrimSuffix(s, ".")), maxFieldLen) }
	p := o.Policy
	return key{
		Day: day, PolicyDomain: f(p.Domain), P: f(p.P), SP: f(p.SP), Pct: p.Pct, ADKIM: f(p.ADKIM), ASPF: f(p.ASPF), FO: f(p.FO),
		SourceIP: clip(o.SourceIP, maxFieldLen), HeaderFrom: f(o.HeaderFrom), EnvelopeFrom: f(o.EnvelopeFrom),
		Disposition: f(o.Disposition), DKIMAligned: o.DKIMAligned, SPFAligned: o.SPFAligned,
		Reasons: clip(strings.Join(o.Reasons, ","), maxFieldLen), Auth: encodeAuth(o.DKIM, o.SPF),
	}
}

// encodeAuth writes the results one a line, "dkim DOMAIN SELECTOR
// RESULT" and "spf DOMAIN SCOPE RESULT", with "-" for an empty field.
func encodeAuth(dkim []DKIMAuthResult, spf SPFAuthResult) string {
	word := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f {
				return '?'
			}
			return r
		}, clip(strings.ToLower(s), maxFieldLen))
		if s == "" {
			return "-"
		}
		return s
	}
	var lines []string
	for i, d := range dkim {
		if i == maxSignatures {
			break
		}
		lines = append(lines, "dkim "+word(d.Domain)+" "+word(d.Selector)+" "+word(d.Result))
	}
	lines = append(lines, "spf "+word(spf.Domain)+" "+word(spf.Scope)+" "+word(spf.Result))
	return strings.Join(lines, "\n")
}

// decodeAuth undoes encodeAuth.
func decodeAuth(s string) (dkim []DKIMAuthResult, spf SPFAuthResult) {
	word := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		switch f[0] {
		case "dkim":
			dkim = append(dkim, DKIMAuthResult{Domain: word(f[1]), Selector: word(f[2]), Result: word(f[3])})
		case "spf":
			spf = SPFAuthResult{Domain: word(f[1]), Scope: word(f[2]), Result: word(f[3])}
		}
	}
	return dkim, spf
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Counts returns the counts of day, of one policy domain unless domain is
// "", in a fixed order.
func (d *DB) Counts(ctx context.Context, day, domain string) ([]Count, error) {
	rows, err := countTable.Rows(ctx, d.db, day, domain)
	if err != nil {
		return nil, err
	}
	out := make([]Count, len(rows))
	for i, r := range rows {
		out[i] = r.Key.count(r.N)
	}
	return out, nil
}

func (k key) count(n int64) Count {
	p := PolicyPublished{Domain: k.PolicyDomain, P: k.P, SP: k.SP, Pct: k.Pct, ADKIM: k.ADKIM, ASPF: k.ASPF, FO: k.FO}
	o := Outcome{Policy: p, SourceIP: k.SourceIP, HeaderFrom: k.HeaderFrom, EnvelopeFrom: k.EnvelopeFrom,
		Disposition: k.Disposition, DKIMAligned: k.DKIMAligned, SPFAligned: k.SPFAligned}
	if k.Reasons != "" {
		o.Reasons = strings.Split(k.Reasons, ",")
	}
	o.DKIM, o.SPF = decodeAuth(k.Auth)
	return Count{Day: k.Day, Policy: p, Outcome: o, Messages: n}
}

// Domains returns the policy domains with counts on day.
func (d *DB) Domains(ctx context.Context, day string) ([]string, error) {
	return countTable.Domains(ctx, d.db, day)
}
