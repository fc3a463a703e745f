package reporting

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"
)

// Received is a stored report R that another receiver sent.
type Received[R any] struct {
	ID       int64
	Received time.Time
	Report   *R
}

// MaxListed bounds the reports ReceivedTable.List returns.
const MaxListed = 1000

// ReceivedTable describes the table "received" of a report database:
// one row per report, its id, when it was received (Unix milliseconds),
// its organization and report_id (unique together: a resent report is
// kept once), the start of its date range in column Start, and the
// report as it came in column Raw.
type ReceivedTable[R any] struct {
	Name       string // prefixes errors
	Raw, Start string
	// StartOf is a time as column Start holds it.
	StartOf func(time.Time) int64
	// Parse reads a stored report.
	Parse func([]byte) (*R, error)
}

// Add stores a report received at now: cols and args are its columns
// besides received; a row with the same organization and report_id
// already stored is kept as it is.
func (t ReceivedTable[R]) Add(ctx context.Context, db *sql.DB, now time.Time, cols string, args ...any) error {
	marks := "?"
	for range args {
		marks += ", ?"
	}
	return Tx(ctx, t.Name, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO received (received, "+cols+") VALUES ("+marks+") ON CONFLICT (organization, report_id) DO NOTHING",
			append([]any{now.UnixMilli()}, args...)...)
		if err != nil {
			return fmt.Errorf("%s: store received report: %w", t.Name, err)
		}
		return nil
	})
}

// List returns the stored reports whose date range starts on or after
// since (zero: all), oldest first, at most MaxListed of the newest.
func (t ReceivedTable[R]) List(ctx context.Context, db *sql.DB, since time.Time) ([]Received[R], error) {
	rows, err := db.QueryContext(ctx, `SELECT id, received, `+t.Raw+` FROM (
		SELECT id, received, `+t.Raw+`, `+t.Start+` FROM received WHERE `+t.Start+` >= ? ORDER BY `+t.Start+` DESC, id DESC LIMIT ?)
		ORDER BY `+t.Start+`, id`, t.StartOf(since), MaxListed)
	if err != nil {
		return nil, fmt.Errorf("%s: received reports: %w", t.Name, err)
	}
	defer rows.Close()
	var out []Received[R]
	for rows.Next() {
		var r Received[R]
		var at int64
		var raw string
		if err := rows.Scan(&r.ID, &at, &raw); err != nil {
			return nil, fmt.Errorf("%s: received reports: %w", t.Name, err)
		}
		r.Received = time.UnixMilli(at)
		if r.Report, err = t.Parse([]byte(raw)); err != nil {
			return nil, fmt.Errorf("%s: received report %d: %w", t.Name, r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: received reports: %w", t.Name, err)
	}
	return out, nil
}

// Head is what the listing of a received report begins with.
type Head struct {
	ID, Organization, Contact string
	Begin, End                time.Time
}

// WriteReceived prints received reports for people, a blank line between
// two: each begins with its ID, reporter, period and when it came (head),
// and body prints the rest. Text from the reporter is made Printable.
func WriteReceived[R any](w io.Writer, reps []Received[R], head func(*R) Head, body func(io.Writer, *R)) error {
	if len(reps) == 0 {
		_, err := fmt.Fprintln(w, "no reports received")
		return err
	}
	for i, r := range reps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		h := head(r.Report)
		fmt.Fprintf(w, "Report %s from %s", Printable(h.ID), Printable(h.Organization))
		if h.Contact != "" {
			fmt.Fprintf(w, " <%s>", Printable(h.Contact))
		}
		_, err := fmt.Fprintf(w, "\n  period %s to %s, received %s\n", h.Begin.UTC().Format(time.RFC3339),
			h.End.UTC().Format(time.RFC3339), r.Received.UTC().Format(time.RFC3339))
		if err != nil {
			return err
		}
		body(w, r.Report)
	}
	return nil
}
