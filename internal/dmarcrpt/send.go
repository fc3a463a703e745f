package dmarcrpt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"pail/internal/reporting"
	"pail/internal/verify"
)

// TXTResolver looks up TXT records (reporting.TXTResolver).
type TXTResolver = reporting.TXTResolver

// Enqueuer puts a message into the outgoing queue, DKIM-signed for the
// From's local domain, durably before it returns nil.
type Enqueuer func(ctx context.Context, from string, rcpts []string, msg []byte) error

// Sender builds and sends the daily reports.
type Sender struct {
	DB        *DB
	Resolver  TXTResolver
	Enqueue   Enqueuer
	Submitter Submitter
	// From is the address reports are sent from, at a local domain.
	From string
	Now  func() time.Time
	Log  *slog.Logger
}

// SendDay sends the report of every policy domain with counts for day to
// the mailto: rua its DMARC record names now (§7.2: where the domain
// wants reports today, not where it wanted them when the mail came),
// skipping what was sent (or given up) before, so that a restart or a
// second run sends nothing twice. The error is of the database; failures
// to send are counted in the result and recorded for a retry.
func (s *Sender) SendDay(ctx context.Context, day string) (reporting.DayResult, error) {
	return reporting.DaySend[RUA]{
		Book: s.DB.book, Resolver: s.Resolver, Domains: s.DB.Domains, Now: s.Now, Log: s.Log,
		PolicyName:  func(domain string) string { return "_dmarc." + domain },
		Parse:       RUAFromTXT,
		ErrNoPolicy: ErrNoPolicy,
		Name:        func(r RUA) string { return r.URI },
		Build:       s.build,
	}.Run(ctx, day)
}

// build makes domain's report of day and how it is sent to one rua.
func (s *Sender) build(ctx context.Context, day, domain string) (reporting.Report[RUA], error) {
	counts, err := s.DB.Counts(ctx, day, domain)
	if err != nil {
		return reporting.Report[RUA]{}, err
	}
	rep, err := BuildReport(day, domain, counts, s.Submitter)
	if err != nil {
		return reporting.Report[RUA]{}, err
	}
	gz, err := rep.Gzip()
	if err != nil {
		return reporting.Report[RUA]{}, err
	}
	return reporting.Report[RUA]{ID: rep.Metadata.ReportID, Send: func(ctx context.Context, r RUA) error {
		return s.deliver(ctx, domain, r, rep, gz)
	}}, nil
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// deliver sends one report to one rua: after the external destination
// check, within the size limit, through the queue.
func (s *Sender) deliver(ctx context.Context, domain string, r RUA, rep *Feedback, gz []byte) error {
	if s.Enqueue == nil {
		return errors.New("dmarcrpt: no queue to send reports through")
	}
	if err := s.verifyDestination(ctx, domain, r); err != nil {
		return err
	}
	msg := ComposeMail(s.Submitter, s.From, r.Address, rep, gz, s.now())
	if r.MaxBytes > 0 && int64(len(msg)) > r.MaxBytes {
		// §6.2: the report is not sent past the destination's limit; the
		// whole message is measured, the stricter reading.
		return reporting.Permanent{Err: fmt.Errorf("dmarcrpt: report of %d bytes over the limit of %d of %s", len(msg), r.MaxBytes, r.URI)}
	}
	return s.Enqueue(ctx, s.From, []string{r.Address}, msg)
}

// verifyDestination is the external destination verification of RFC
// 7489 §7.1: a rua in another organisational domain than the policy
// domain gets reports only when that domain publishes
// POLICY-DOMAIN._report._dmarc.DESTINATION TXT "v=DMARC1". A lookup that
// fails is tried again later (step 4); no such record gives up (step 6).
// The rua replacement of step 8 is not done: reports go to the address
// the policy domain named.
func (s *Sender) verifyDestination(ctx context.Context, domain string, r RUA) error {
	dest := r.Domain()
	if verify.OrgDomain(dest) == verify.OrgDomain(domain) {
		return nil
	}
	name := strings.TrimSuffix(domain, ".") + ReportPrefix + dest
	txt, err := reporting.LookupTXT(ctx, s.Resolver, name)
	if err != nil {
		return fmt.Errorf("dmarcrpt: external destination check %s: %w", name, err)
	}
	if !Authorizes(txt) {
		return reporting.Permanent{Err: fmt.Errorf("dmarcrpt: %s takes no reports for %s: no v=DMARC1 record at %s (RFC 7489 §7.1)", dest, domain, name)}
	}
	return nil
}
