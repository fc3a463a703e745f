package tlsrpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pail/internal/reporting"
)

// TXTResolver looks up TXT records: one string per record, the record's
// strings joined (as net.Resolver.LookupTXT does). A name that does not
// exist or has no TXT records yields no strings and a nil error, or a
// *net.DNSError with IsNotFound (as net.Resolver and internal/resolve
// answer); another error means the answer is not known (the lookup is
// tried again later).
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Enqueuer puts a message into the outgoing queue, DKIM-signed for the
// From's local domain, durably before it returns nil.
type Enqueuer func(ctx context.Context, from string, rcpts []string, msg []byte) error

// Timeouts and tries of sending.
const (
	// lookupTimeout bounds the TXT lookup of one domain.
	lookupTimeout = 10 * time.Second
	// postTimeout bounds one HTTPS POST (RFC 8460 §5.2).
	postTimeout = 60 * time.Second
	// MaxAttempts is how often one report is tried per rua before
	// pail gives up on it.
	MaxAttempts = reporting.MaxAttempts
	// maxErrorBody bounds what is read of an HTTPS error reply.
	maxErrorBody = 512
)

// Sender builds and sends the daily reports.
type Sender struct {
	DB        *DB
	Resolver  TXTResolver
	Enqueue   Enqueuer     // for mailto: rua
	HTTP      *http.Client // for https: rua; nil means no https reports
	Submitter Submitter
	// From is the address reports are sent from, at a local domain.
	From string
	Now  func() time.Time
	Log  *slog.Logger
}

// DayResult sums up what SendDay did.
type DayResult = reporting.DayResult

// SendDay sends the report of every policy domain with counts for day to
// the rua its _smtp._tls TXT record names, skipping what was sent
// before (so a restart or a second run sends nothing twice) and what was
// given up. The error is of the database; failures to send are counted
// in the result and recorded for a retry.
func (s *Sender) SendDay(ctx context.Context, day string) (DayResult, error) {
	var res DayResult
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

// sendDomain sends one domain's report for day.
func (s *Sender) sendDomain(ctx context.Context, day, domain string, res *DayResult) error {
	done, err := s.DB.SentFor(ctx, day, domain)
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
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	txt, err := s.Resolver.LookupTXT(lctx, TXTPrefix+domain)
	cancel()
	if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		txt, err = nil, nil
	}
	if err != nil {
		// A lookup failure: try again later.
		s.log().Warn("tlsrpt: looking up the reporting policy failed", "domain", domain, "err", err)
		res.Failed++
		return nil
	}
	policy, err := PolicyFromTXT(txt)
	if err != nil {
		// No record, or one that does not parse: no reporting policy
		// (RFC 8460 §3).
		if !errors.Is(err, ErrNoPolicy) {
			s.log().Info("tlsrpt: reporting policy does not parse; no report", "domain", domain, "err", err)
		}
		res.Skipped++
		return s.DB.MarkSent(ctx, Sent{Day: day, PolicyDomain: domain, State: StateNoPolicy, LastError: err.Error(), Updated: s.now()})
	}
	rows, err := s.DB.Counts(ctx, day, domain)
	if err != nil {
		return err
	}
	rep, err := BuildReport(day, domain, rows, s.Submitter)
	if err != nil {
		return err
	}
	gz, err := rep.Gzip()
	if err != nil {
		return err
	}
	byRUA := map[string]*url.URL{}
	ruas := make([]string, len(policy.RUA))
	for i, u := range policy.RUA {
		ruas[i] = u.String()
		byRUA[ruas[i]] = u
	}
	t := reporting.Try{Day: day, Domain: domain, ReportID: rep.ReportID, Prev: prev, Now: s.now(), Log: s.log()}
	return s.DB.book.Each(ctx, t, ruas, func(rua string) error { return s.deliver(ctx, byRUA[rua], rep, gz) }, res)
}

// deliver sends one report to one rua.
func (s *Sender) deliver(ctx context.Context, u *url.URL, rep *Report, gz []byte) error {
	switch u.Scheme {
	case "mailto":
		if s.Enqueue == nil {
			return errors.New("tlsrpt: no queue to send mail reports through")
		}
		to := MailAddress(u)
		return s.Enqueue(ctx, s.From, []string{to}, ComposeMail(s.Submitter, s.From, to, rep, gz, s.now()))
	case "https":
		return s.post(ctx, u, gz)
	}
	return fmt.Errorf("tlsrpt: rua scheme %q", u.Scheme)
}

// post sends the report to an https: rua (RFC 8460 §5.2): a POST of the
// gzipped report as application/tlsrpt+gzip; any 2xx is success.
func (s *Sender) post(ctx context.Context, u *url.URL, gz []byte) error {
	if s.HTTP == nil {
		return errors.New("tlsrpt: no HTTP client for https reports")
	}
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("tlsrpt: post: %w", err)
	}
	req.Header.Set("Content-Type", MediaTypeGzip)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("tlsrpt: post: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("tlsrpt: post %s: %s %s", u.Host, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
