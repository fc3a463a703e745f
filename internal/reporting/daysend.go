package reporting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// LookupTimeout bounds one TXT lookup at send time.
const LookupTimeout = 10 * time.Second

// TXTResolver looks up TXT records: one string per record, the record's
// strings joined (as net.Resolver.LookupTXT does). A name that does not
// exist or has no TXT records yields no strings and a nil error, or a
// *net.DNSError with IsNotFound (as net.Resolver and internal/resolve
// answer); another error means the answer is not known (the lookup is
// tried again later).
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// LookupTXT looks name up through r within LookupTimeout; a name that
// does not exist has no records.
func LookupTXT(ctx context.Context, r TXTResolver, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	txt, err := r.LookupTXT(ctx, name)
	if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	return txt, err
}

// Report is one policy domain's report of one day, built, ready to send.
type Report[D any] struct {
	ID string
	// Send sends it to one destination; a Permanent error gives up.
	Send func(ctx context.Context, to D) error
}

// DaySend is the daily sending that DMARC and TLS reports share: for
// every policy domain with counts on a day, the reporting policy is
// looked up now (the destinations the domain wants today), the report
// built and sent to each destination it was not sent to before, each try
// recorded in Book. D is a destination, as the policy names it.
type DaySend[D any] struct {
	Book     Book
	Resolver TXTResolver
	// Domains lists the policy domains with counts on a day.
	Domains func(ctx context.Context, day string) ([]string, error)
	// PolicyName is the TXT name of a domain's reporting policy.
	PolicyName func(domain string) string
	// Parse reads the destinations from the policy's TXT records; an
	// error means the domain has no reporting policy and gets no report.
	// ErrNoPolicy (no record at all) is not logged.
	Parse       func(txt []string) ([]D, error)
	ErrNoPolicy error
	// Name is a destination's key in Book.
	Name func(D) string
	// Build makes domain's report of day; its error is of the database.
	Build func(ctx context.Context, day, domain string) (Report[D], error)
	Now   func() time.Time
	Log   *slog.Logger
}

// Run sends the reports of day, skipping what was sent (or given up)
// before, so that a restart or a second run sends nothing twice. The
// error is of the database; failures to send are counted in the result
// and recorded for a retry.
func (s DaySend[D]) Run(ctx context.Context, day string) (DayResult, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	var res DayResult
	domains, err := s.Domains(ctx, day)
	if err != nil {
		return res, err
	}
	for _, d := range domains {
		if err := s.domain(ctx, day, d, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// domain sends one domain's report of day.
func (s DaySend[D]) domain(ctx context.Context, day, domain string, res *DayResult) error {
	done, err := s.Book.SentFor(ctx, day, domain)
	if err != nil {
		return err
	}
	prev := map[string]Sent{}
	for _, d := range done {
		prev[d.RUA] = d
	}
	if p, ok := prev[""]; ok && p.State == StateNoPolicy {
		res.Skipped++
		return nil
	}
	name := s.PolicyName(domain)
	txt, err := LookupTXT(ctx, s.Resolver, name)
	if err != nil {
		// A lookup failure: tried again on the next run.
		s.Log.Warn(s.Book.Name+": looking up the reporting policy failed", "domain", domain, "name", name, "err", err)
		res.Failed++
		return nil
	}
	dests, err := s.Parse(txt)
	if err != nil {
		if !errors.Is(err, s.ErrNoPolicy) {
			s.Log.Info(s.Book.Name+": reporting policy does not parse; no report", "domain", domain, "name", name, "err", err)
		}
		res.Skipped++
		return s.Book.MarkSent(ctx, Sent{Day: day, PolicyDomain: domain, State: StateNoPolicy, LastError: err.Error(), Updated: s.Now()})
	}
	rep, err := s.Build(ctx, day, domain)
	if err != nil {
		return fmt.Errorf("%s: report of %s for %s: %w", s.Book.Name, domain, day, err)
	}
	byName := map[string]D{}
	names := make([]string, len(dests))
	for i, d := range dests {
		names[i] = s.Name(d)
		byName[names[i]] = d
	}
	t := Try{Day: day, Domain: domain, ReportID: rep.ID, Prev: prev, Now: s.Now(), Log: s.Log}
	return s.Book.Each(ctx, t, names, func(n string) error { return rep.Send(ctx, byName[n]) }, res)
}
