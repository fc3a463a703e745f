package tlsrpt

import (
	"context"

	"pail/internal/reporting"
)

// SendState is where one report to one rua stands.
type SendState = reporting.SendState

// The send states (reporting's).
const (
	StateSent     = reporting.StateSent
	StateFailed   = reporting.StateFailed
	StateGaveUp   = reporting.StateGaveUp
	StateNoPolicy = reporting.StateNoPolicy
)

// Sent is the record of one report sent, or tried, to one rua.
type Sent = reporting.Sent

// SentFor returns what was done about domain's report for day.
func (d *DB) SentFor(ctx context.Context, day, domain string) ([]Sent, error) {
	return d.book.SentFor(ctx, day, domain)
}

// MarkSent records the outcome of one try; attempts counts the tries
// made so far.
func (d *DB) MarkSent(ctx context.Context, s Sent) error { return d.book.MarkSent(ctx, s) }

// Prune drops the counts and send records of days before day (kept for
// `pail tlsrpt show` for a while, not for ever).
func (d *DB) Prune(ctx context.Context, before string) error {
	return d.book.Prune(ctx, before, "counts")
}
