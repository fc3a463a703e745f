package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"pail/internal/dnsrecords"
	"pail/internal/mtasts"
	"pail/internal/resolve"
)

// stsHandshakeTimeout bounds the TLS handshake with a policy host; the
// whole fetch is bounded by mtasts.DefaultFetchTimeout.
const stsHandshakeTimeout = 10 * time.Second

// stsFetcher returns a fetcher of MTA-STS policies that sees what a
// sender sees: the TXT record and the policy host's addresses through
// the configured resolver, the certificate verified (RFC 8461 §3.3), no
// redirects, nothing cached (every run fetches afresh).
func (d *doctor) stsFetcher() (*mtasts.Fetcher, error) {
	dial := d.r.DialContext
	if port := d.o.HTTPSPort; port != "" {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.r.DialContext(ctx, network, net.JoinHostPort(host, port))
		}
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     &tls.Config{RootCAs: d.o.Roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: stsHandshakeTimeout,
		DisableKeepAlives:   true,
	}}
	return mtasts.New(mtasts.Config{Resolver: d.r, IsNotFound: resolve.IsNotFound, Client: client, Now: d.o.Now})
}

// checkMTASTS checks the domain's MTA-STS (RFC 8461): the _mta-sts TXT
// record with its id (§3.1), the policy fetched over verified HTTPS from
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt (§3.3), its mode (§5),
// that its mx patterns cover every MX host (§4.1: an enforcing sender
// delivers to no other), and, when pail serves the policy, that the id
// is that of the policy served (pail's ids are made from the policy's
// text, so a different one means the record was not updated and senders
// keep an older policy).
func (d *doctor) checkMTASTS(ctx context.Context, domain string) Result {
	check := "mta-sts " + domain
	served := dnsrecords.ServesMTASTS(d.cfg)
	publish := fmt.Sprintf("publish the _mta-sts.%s TXT and mta-sts.%s records that pail dns-records %s prints", domain, domain, domain)
	f, err := d.stsFetcher()
	if err != nil {
		return Result{Check: check, Status: Fail, Detail: err.Error(), Fix: "report this as a bug"}
	}
	res := f.Lookup(ctx, domain)
	switch res.Status {
	case mtasts.NoPolicy:
		switch {
		case !errors.Is(res.Err, mtasts.ErrNoRecord):
			return Result{Check: check, Status: Fail, Detail: res.Err.Error(), Fix: publish}
		case served:
			return Result{Check: check, Status: Warn, Detail: "pail serves a policy but _mta-sts." + domain + " has no v=STSv1 record, so senders do not use it", Fix: publish}
		}
		return Result{Check: check, Status: OK, Detail: "no MTA-STS (no _mta-sts record; listen.https is off, so pail serves no policy)"}
	case mtasts.TempFail:
		if res.Failure == mtasts.FailureNone {
			return Result{Check: check, Status: Fail, Detail: res.Err.Error(), Fix: resolverFix}
		}
		fix := fmt.Sprintf("make https://mta-sts.%s/.well-known/mta-sts.txt answer 200 with the policy (mta-sts.%s pointing here, listen.https reachable on port 443)", domain, domain)
		if res.Failure == mtasts.FailureWebPKI {
			fix = fmt.Sprintf("serve a certificate for mta-sts.%s that verifies ([acme], or [tls] files from a CA; see the certificate checks)", domain)
		}
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("the _mta-sts record announces a policy that cannot be had (%s): %v", res.Failure, res.Err), Fix: fix}
	}
	p := res.Policy
	if served && p.ID() != res.ID {
		return Result{Check: check, Status: Warn,
			Detail: fmt.Sprintf("_mta-sts.%s says id=%s but the policy served is id=%s; senders that cached an older policy keep it", domain, res.ID, p.ID()),
			Fix:    fmt.Sprintf("publish _mta-sts.%s. TXT %q", domain, p.TXT())}
	}
	if p.Mode == mtasts.ModeNone {
		return Result{Check: check, Status: Warn, Detail: "mode none: the policy is withdrawn", Fix: "set [mta_sts] mode = \"enforce\" (or remove the _mta-sts record)"}
	}
	mxs, err := d.r.LookupMX(ctx, domain)
	if err != nil && !isNotFound(err) {
		return Result{Check: check, Status: Fail, Detail: lookupFailed(domain+" MX", err), Fix: resolverFix}
	}
	var uncovered []string
	for _, m := range mxs {
		if m.Host != "" && !p.Matches(m.Host) {
			uncovered = append(uncovered, m.Host)
		}
	}
	if len(uncovered) > 0 {
		return Result{Check: check, Status: Fail,
			Detail: fmt.Sprintf("the policy's mx (%s) does not cover MX %s: senders applying it do not deliver there", strings.Join(p.MX, ", "), strings.Join(uncovered, ", ")),
			Fix:    "make the policy name every MX host (pail names hostname), or point the MX at " + d.cfg.Hostname}
	}
	detail := fmt.Sprintf("id=%s, mode %s, mx %s, fetched over verified HTTPS", res.ID, p.Mode, strings.Join(p.MX, ", "))
	if p.Mode == mtasts.ModeTesting {
		return Result{Check: check, Status: Warn, Detail: detail + "; testing: senders still deliver without TLS",
			Fix: "once the certificate checks pass, set [mta_sts] mode = \"enforce\" and publish the new _mta-sts id"}
	}
	return Result{Check: check, Status: OK, Detail: detail}
}
