package dmarcrpt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"pail/internal/reporting"
	"pail/internal/verify"
)

// TXTResolver looks up TXT records: one string per record, the record's
// strings joined. A name that does not exist or has no TXT records yields
// no strings and a nil error, or a *net.DNSError with IsNotFound (as
// net.Resolver and internal/resolve answer); another error means the
// answer is not known (the lookup is tried again later).
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Enqueuer puts a message into the outgoing queue, DKIM-signed for the
// From's local domain, durably before it returns nil.
type Enqueuer func(ctx context.Context, from string, rcpts []string, msg []byte) error

// lookupTimeout bounds one TXT lookup at send time.
const lookupTimeout = 10 * time.Second

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
// the mailto: rua its DMARC record names now, skipping what was sent (or
// given up) before, so that a restart or a second run sends nothing
// twice. The error is of the database; failures to send are counted in
// the result and recorded for a retry.
func (s *Sender) SendDay(ctx context.Context, day string) (reporting.DayResult, error) {
	var res reporting.DayResult
	domains, err := s.DB.Domains(ctx, day)
	if err != nil {
		return res, err
	}
	for _, d := range domains {
		if err := s.sendDomain(ctx, day, d, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// lookupTXT looks name up within lookupTimeout; a name that does not
// exist has no records.
func (s *Sender) lookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	txt, err := s.Resolver.LookupTXT(ctx, name)
	if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	return txt, err
}

// sendDomain sends one domain's report for day.
func (s *Sender) sendDomain(ctx context.Context, day, domain string, res *reporting.DayResult) error {
	done, err := s.DB.SentFor(ctx, day, domain)
	if err != nil {
		return err
	}
	prev := map[string]reporting.Sent{}
	for _, d := range done {
		prev[d.RUA] = d
	}
	if p, ok := prev[""]; ok && p.State == reporting.StateNoPolicy {
		res.Skipped++
		return nil
	}
	// The record is fetched now, not taken from the day's counts: the rua
	// is where the domain wants reports today (§7.2).
	txt, err := s.lookupTXT(ctx, "_dmarc."+domain)
	if err != nil {
		s.log().Warn("dmarcrpt: looking up the DMARC record failed", "domain", domain, "err", err)
		res.Failed++
		return nil
	}
	ruas, err := RUAFromTXT(txt)
	if err != nil {
		if !errors.Is(err, ErrNoPolicy) {
			s.log().Info("dmarcrpt: DMARC record does not parse; no report", "domain", domain, "err", err)
		}
		res.Skipped++
		return s.DB.book.MarkSent(ctx, reporting.Sent{Day: day, PolicyDomain: domain, State: reporting.StateNoPolicy, LastError: err.Error(), Updated: s.now()})
	}
	counts, err := s.DB.Counts(ctx, day, domain)
	if err != nil {
		return err
	}
	rep, err := BuildReport(day, domain, counts, s.Submitter)
	if err != nil {
		return err
	}
	gz, err := rep.Gzip()
	if err != nil {
		return err
	}
	byURI := map[string]RUA{}
	uris := make([]string, len(ruas))
	for i, r := range ruas {
		uris[i] = r.URI
		byURI[r.URI] = r
	}
	t := reporting.Try{Day: day, Domain: domain, ReportID: rep.Metadata.ReportID, Prev: prev, Now: s.now(), Log: s.log()}
	return s.DB.book.Each(ctx, t, uris, func(uri string) error { return s.deliver(ctx, domain, byURI[uri], rep, gz) }, res)
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
	txt, err := s.lookupTXT(ctx, name)
	if err != nil {
		return fmt.Errorf("dmarcrpt: external destination check %s: %w", name, err)
	}
	if !Authorizes(txt) {
		return reporting.Permanent{Err: fmt.Errorf("dmarcrpt: %s takes no reports for %s: no v=DMARC1 record at %s (RFC 7489 §7.1)", dest, domain, name)}
	}
	return nil
}
