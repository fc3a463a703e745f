package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// Failure is why a policy the TXT record announces could not be had:
// one of the MTA-STS failure types of TLS-RPT (RFC 8460 §4.3.2.1), the
// string that goes into a report's result-type.
type Failure string

// The RFC 8460 §4.3.2.1 failure types of MTA-STS.
const (
	// FailureNone: no failure (the policy was fetched, or came from the
	// cache without a fetch, or there is none to fetch).
	FailureNone Failure = ""
	// FailureFetch: the policy could not be retrieved — the host did not
	// answer, answered other than 200, redirected, or timed out.
	FailureFetch Failure = "sts-policy-fetch-error"
	// FailureInvalid: a body came back but is not a valid policy (syntax,
	// size, content type).
	FailureInvalid Failure = "sts-policy-invalid"
	// FailureWebPKI: the policy host's certificate did not verify for
	// mta-sts.DOMAIN (RFC 8461 §3.3).
	FailureWebPKI Failure = "sts-webpki-invalid"
)

// policyPath is where the policy lives on the policy host (RFC 8461 §3.2).
const policyPath = "/.well-known/mta-sts.txt"

// fetchError is a failed fetch: the failure type and what happened.
type fetchError struct {
	failure Failure
	err     error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// fetchPolicy GETs https://mta-sts.DOMAIN/.well-known/mta-sts.txt with
// client (whose redirects the caller has turned off) and parses it. The
// errors are *fetchError.
func fetchPolicy(ctx context.Context, client *http.Client, domain string) (*Policy, error) {
	fail := func(f Failure, format string, args ...any) (*Policy, error) {
		return nil, &fetchError{failure: f, err: fmt.Errorf("mtasts: policy of %s: "+format, append([]any{domain}, args...)...)}
	}
	url := "https://mta-sts." + domain + policyPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(FailureFetch, "%w", err)
	}
	req.Header.Set("User-Agent", "pail")
	// Policies are fetched once per id or max_age: a connection kept
	// open would only be held, and would skip the certificate check of
	// the next fetch.
	req.Close = true
	resp, err := client.Do(req)
	if err != nil {
		if certificateError(err) {
			return fail(FailureWebPKI, "certificate of mta-sts.%s: %w", domain, err)
		}
		return fail(FailureFetch, "%w", err)
	}
	defer resp.Body.Close()
	// RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed" (the
	// client returns them as they are), and only 200 is a policy.
	if resp.StatusCode != http.StatusOK {
		return fail(FailureFetch, "GET %s: status %s, want 200", url, resp.Status)
	}
	// RFC 8461 §3.2: the policy is served as text/plain.
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		return fail(FailureInvalid, "content type %q, want text/plain", resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength > MaxPolicyBytes {
		return fail(FailureInvalid, "%d bytes, more than %d", resp.ContentLength, MaxPolicyBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicyBytes+1))
	if err != nil {
		return fail(FailureFetch, "reading the body: %w", err)
	}
	if len(body) > MaxPolicyBytes {
		return fail(FailureInvalid, "more than %d bytes", MaxPolicyBytes)
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return fail(FailureInvalid, "%w", err)
	}
	return p, nil
}

// certificateError reports whether err is the TLS handshake refusing
// the server's certificate (untrusted, expired, wrong name).
func certificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// noRedirects is a copy of c that hands 3xx responses back instead of
// following them (RFC 8461 §3.3).
func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}
