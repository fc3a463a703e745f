package tlsrpt

import (
	"strings"

	"pail/internal/reporting"
)

// DefaultFlushInterval is how often a Recorder writes its counts
// (reporting.DefaultFlushInterval).
const DefaultFlushInterval = reporting.DefaultFlushInterval

// Field bounds: what one Outcome may add to a row, so that a peer's long
// HELO name cannot make rows large.
const (
	maxFieldLen      = 255  // a host name, an address, a URI
	maxPolicyLen     = 8192 // an MTA-STS policy file is at most 64 KiB; real ones are tiny
	maxPolicyStrings = 64   // lines of a policy, or TLSA records
)

// RecorderConfig configures a Recorder.
type RecorderConfig = reporting.RecorderConfig

// Recorder counts TLS session outcomes per UTC day and row
// (reporting.Recorder): Record only updates a map, the counts are written
// every FlushInterval, and Close writes what is left.
type Recorder = reporting.Recorder[Outcome, key]

// NewRecorder returns a Recorder writing to db and starts its flusher.
func NewRecorder(db *DB, cfg RecorderConfig) *Recorder {
	return reporting.NewRecorder(cfg, outcomeKey, &countTable, db.db)
}

// outcomeKey is the row an outcome counts in, its fields bounded.
func outcomeKey(day string, o Outcome) key {
	ps := o.PolicyStrings
	if len(ps) > maxPolicyStrings {
		ps = ps[:maxPolicyStrings]
	}
	lines := make([]string, len(ps))
	for i, s := range ps {
		lines[i] = strings.Map(oneLine, s)
	}
	k := key{
		Day:           day,
		PolicyDomain:  clip(strings.ToLower(strings.TrimSuffix(o.PolicyDomain, ".")), maxFieldLen),
		PolicyType:    PolicyType(clip(string(o.PolicyType), maxFieldLen)),
		PolicyStrings: clip(strings.Join(lines, "\n"), maxPolicyLen),
		MXHost:        clip(strings.ToLower(strings.TrimSuffix(o.MXHost, ".")), maxFieldLen),
	}
	if k.PolicyType == "" {
		k.PolicyType = PolicyNone
	}
	if o.Success {
		return k
	}
	k.Result = ResultType(clip(string(o.Failure), maxFieldLen))
	if k.Result == "" {
		k.Result = ResultValidationFailure
	}
	k.SendingIP = clip(o.SendingIP, maxFieldLen)
	k.ReceivingIP = clip(o.ReceivingIP, maxFieldLen)
	k.ReceivingHELO = clip(o.ReceivingHELO, maxFieldLen)
	k.Additional = clip(o.AdditionalInfo, maxFieldLen)
	return k
}

// oneLine replaces the line breaks that would split a policy line.
func oneLine(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
