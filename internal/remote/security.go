package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"pail/internal/dane"
	"pail/internal/mtasts"
	"pail/internal/resolve"
	"pail/internal/tlsrpt"
)

// tlsPolicy is what TLS one session with one MX host must achieve: none
// beyond opportunistic STARTTLS (RFC 7435), TLS authenticated by the
// host's DANE TLSA records (RFC 7672), or TLS with a certificate valid for
// the host under the domain's MTA-STS policy (RFC 8461), enforced or, in
// the policy's testing mode, only reported.
type tlsPolicy struct {
	// kind is the TLS-RPT policy type; "" for a configured next hop
	// (route, smarthost, address literal), whose sessions are not
	// reported.
	kind tlsrpt.PolicyType
	// domain is the policy domain (the recipient domain).
	domain string
	// required: no delivery without TLS that verify accepts; a failure
	// defers the message, never falls back to the clear.
	required bool
	// verify checks the server's certificates; nil accepts any.
	verify func(cs tls.ConnectionState) error
	// failure maps an error of verify to its TLS-RPT result type.
	failure func(error) tlsrpt.ResultType
	// strings are the policy for the report (policy-string).
	strings []string
	// what names the policy in replies and logs.
	what string
	// mismatch is the failure of a session that would otherwise succeed:
	// the host is not one a testing MTA-STS policy names.
	mismatch tlsrpt.ResultType
}

// opportunistic is the policy of a host with neither DANE nor MTA-STS.
func opportunistic(domain string) tlsPolicy {
	return tlsPolicy{kind: tlsrpt.PolicyNone, domain: domain}
}

// stsState is a domain's MTA-STS policy for one delivery.
type stsState struct {
	policy *mtasts.Policy
}

// lookupSTS returns domain's MTA-STS policy in force (enforce or
// testing), or nil. A policy that cannot be had is reported and the
// domain treated as having none (RFC 8461 §5.1: a missing policy is not a
// reason to defer).
func (c *Client) lookupSTS(ctx context.Context, domain string) *stsState {
	if c.cfg.STS == nil {
		return nil
	}
	res := c.cfg.STS.Lookup(ctx, domain)
	if res.Err != nil {
		c.log.Info("MTA-STS policy", "domain", domain, "status", res.Status, "cached", res.Cached, "err", res.Err)
	}
	if res.Failure != mtasts.FailureNone {
		c.report(ctx, tlsPolicy{kind: tlsrpt.PolicySTS, domain: domain}, nil, "", tlsrpt.ResultType(res.Failure), "")
	}
	if res.Status != mtasts.HasPolicy || res.Policy == nil || res.Policy.Mode == mtasts.ModeNone {
		return nil
	}
	return &stsState{policy: res.Policy}
}

// hostPolicy returns the TLS policy for a session with MX host h of
// domain, or a reply that settles the host without a session (its TLSA
// records could not be learnt, or MTA-STS does not allow it). DANE
// takes precedence over MTA-STS (RFC 8461 §2).
func (c *Client) hostPolicy(ctx context.Context, domain string, h hop, mxSecure bool, sts *stsState) (tlsPolicy, *Reply) {
	if h.direct || len(h.addrs) > 0 {
		return tlsPolicy{}, nil
	}
	port, _ := strconv.Atoi(h.port)
	if qname, err := dane.QueryName(port, h.name); err == nil && !c.cfg.NoDANE {
		t, err := c.dns.LookupTLSA(ctx, qname)
		switch {
		case err == nil && t.Authenticated:
			return c.danePolicy(domain, h, mxSecure, t.Records), nil
		case err != nil && !resolve.IsNotFound(err) && mxSecure:
			// RFC 7672 §2.2: TLSA records of a host in a signed zone
			// that cannot be learnt (SERVFAIL, as a validating
			// resolver answers bogus data) do not mean "no DANE": the
			// host is not used.
			pol := tlsPolicy{kind: tlsrpt.PolicyTLSA, domain: domain}
			c.report(ctx, pol, nil, h.name, tlsrpt.ResultDNSSECInvalid, "")
			return pol, &Reply{Enhanced: "4.7.5", Text: fmt.Sprintf("DANE: the TLSA records of %s could not be looked up: %v", h.name, err)}
		}
	}
	if sts == nil {
		return opportunistic(domain), nil
	}
	pol := tlsPolicy{
		kind:     tlsrpt.PolicySTS,
		domain:   domain,
		required: sts.policy.Mode == mtasts.ModeEnforce,
		strings:  strings.Split(strings.TrimSpace(sts.policy.String()), "\n"),
		what:     "the MTA-STS policy of " + domain,
		failure:  webPKIFailure,
	}
	for i, l := range pol.strings {
		pol.strings[i] = strings.TrimRight(l, "\r")
	}
	if !sts.policy.Matches(h.name) {
		// RFC 8461 §4.1: only MX hosts the policy names; in testing
		// mode the mismatch is reported and the host used.
		if pol.required {
			c.report(ctx, pol, nil, h.name, tlsrpt.ResultValidationFailure, "")
			return pol, &Reply{Enhanced: "4.7.5", Text: fmt.Sprintf("MTA-STS: MX host %s is not allowed by the policy of %s", h.name, domain)}
		}
		pol.mismatch = tlsrpt.ResultValidationFailure
	}
	roots, name := c.cfg.RootCAs, h.name
	pol.verify = func(cs tls.ConnectionState) error { return verifyWebPKI(cs, name, roots) }
	return pol, nil
}

// danePolicy is the policy of a host with authenticated TLSA records:
// TLS required, and authenticated by them when one is usable (RFC 7672
// §2.2: with none usable, TLS is still required but not authenticated).
func (c *Client) danePolicy(domain string, h hop, mxSecure bool, records []*dns.TLSA) tlsPolicy {
	pol := tlsPolicy{kind: tlsrpt.PolicyTLSA, domain: domain, required: true, what: "the DANE TLSA records of " + h.name,
		failure: func(err error) tlsrpt.ResultType { return tlsrpt.ResultType(dane.ResultType(err)) }}
	for _, r := range records {
		pol.strings = append(pol.strings, strings.ReplaceAll(r.String(), "\t", " "))
	}
	if usable, _ := dane.Usable(records); len(usable) == 0 {
		return pol
	}
	// RFC 7672 §3.2.2: the MX host name is a reference identifier for
	// DANE-TA; the recipient domain too when the MX RRset is signed.
	names := []string{h.name}
	if mxSecure && !strings.EqualFold(domain, h.name) {
		names = append(names, domain)
	}
	pol.verify = func(cs tls.ConnectionState) error {
		return dane.Verify(records, cs.PeerCertificates, names, time.Now())
	}
	return pol
}

// verifyWebPKI checks the server's chain against roots (nil: the
// system's) for name, as RFC 8461 §4.2 asks of a host under MTA-STS.
func verifyWebPKI(cs tls.ConnectionState, name string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return err
}

// webPKIFailure maps an error of verifyWebPKI to its TLS-RPT result type
// (RFC 8460 §4.3.1).
func webPKIFailure(err error) tlsrpt.ResultType {
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &host):
		return tlsrpt.ResultCertificateHostMismatch
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return tlsrpt.ResultCertificateExpired
	case errors.As(err, &unknown):
		return tlsrpt.ResultCertificateNotTrusted
	}
	return tlsrpt.ResultValidationFailure
}

// tlsConfigFor returns the TLS client configuration of a session under
// pol, and a function that returns the error verify found (nil when it
// accepted, or was not asked). Under a policy that is only reported
// (MTA-STS testing) the handshake goes on whatever verify says.
func (c *Client) tlsConfigFor(h hop, pol tlsPolicy) (*tls.Config, func() error) {
	cfg := c.tlsConfig(h)
	if pol.verify == nil {
		return cfg, func() error { return nil }
	}
	var verr error
	cfg.InsecureSkipVerify = true
	cfg.ServerName = strings.TrimSuffix(h.name, ".") // RFC 7672 §8.1, RFC 8461 §4.2: SNI
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		verr = pol.verify(cs)
		if pol.required {
			return verr
		}
		return nil
	}
	return cfg, func() error { return verr }
}

// report records the outcome of one TLS session attempt under pol (RFC
// 8460): success when failure is "".
func (c *Client) report(ctx context.Context, pol tlsPolicy, conn net.Conn, mxHost string, failure tlsrpt.ResultType, helo string) {
	if c.cfg.Reports == nil || pol.kind == "" {
		return
	}
	o := tlsrpt.Outcome{
		PolicyDomain:  pol.domain,
		PolicyType:    pol.kind,
		PolicyStrings: pol.strings,
		MXHost:        mxHost,
		ReceivingHELO: helo,
		Success:       failure == "",
		Failure:       failure,
	}
	if conn != nil {
		o.SendingIP = hostOf(conn.LocalAddr())
		o.ReceivingIP = hostOf(conn.RemoteAddr())
	}
	c.cfg.Reports.Record(ctx, o)
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
