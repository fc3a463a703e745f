package tlsrpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pail/internal/reporting"
)

// TXTResolver looks up TXT records (reporting.TXTResolver).
type TXTResolver = reporting.TXTResolver

// Enqueuer puts a message into the outgoing queue, DKIM-signed for the
// From's local domain, durably before it returns nil.
type Enqueuer func(ctx context.Context, from string, rcpts []string, msg []byte) error

// Timeouts and tries of sending.
const (
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
// given up. No record, or one that does not parse, is no reporting
// policy (RFC 8460 §3). The error is of the database; failures to send
// are counted in the result and recorded for a retry.
func (s *Sender) SendDay(ctx context.Context, day string) (DayResult, error) {
	return reporting.DaySend[*url.URL]{
		Book: s.DB.book, Resolver: s.Resolver, Domains: s.DB.Domains, Now: s.Now, Log: s.Log,
		PolicyName: func(domain string) string { return TXTPrefix + domain },
		Parse: func(txt []string) ([]*url.URL, error) {
			p, err := PolicyFromTXT(txt)
			if err != nil {
				return nil, err
			}
			return p.RUA, nil
		},
		ErrNoPolicy: ErrNoPolicy,
		Name:        (*url.URL).String,
		Build:       s.build,
	}.Run(ctx, day)
}

// build makes domain's report of day and how it is sent to one rua.
func (s *Sender) build(ctx context.Context, day, domain string) (reporting.Report[*url.URL], error) {
	rows, err := s.DB.Counts(ctx, day, domain)
	if err != nil {
		return reporting.Report[*url.URL]{}, err
	}
	rep, err := BuildReport(day, domain, rows, s.Submitter)
	if err != nil {
		return reporting.Report[*url.URL]{}, err
	}
	gz, err := rep.Gzip()
	if err != nil {
		return reporting.Report[*url.URL]{}, err
	}
	return reporting.Report[*url.URL]{ID: rep.ReportID, Send: func(ctx context.Context, u *url.URL) error {
		return s.deliver(ctx, u, rep, gz)
	}}, nil
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
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
