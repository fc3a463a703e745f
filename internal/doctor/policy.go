package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"

	"pail/internal/tlsrpt"
)

// checkDMARC checks the domain's DMARC record (RFC 7489 §6.1): exactly
// one TXT record at _dmarc.DOMAIN starting with v=DMARC1 (§6.6.3: any
// other number means no policy), that parses, with a policy that asks
// receivers to act: p=none only collects reports, and left there it
// protects nothing.
func (d *doctor) checkDMARC(ctx context.Context, domain string) Result {
	check := "dmarc " + domain
	name := "_dmarc." + domain
	want := fmt.Sprintf("v=DMARC1; p=reject; rua=mailto:postmaster@%s", domain)
	fix := fmt.Sprintf("publish %s. TXT %q", name, want)
	txts, err := d.r.LookupTXT(ctx, name+".")
	if err != nil && !isNotFound(err) {
		return Result{Check: check, Status: Fail, Detail: lookupFailed(name+" TXT", err), Fix: resolverFix}
	}
	var recs []string
	for _, t := range txts {
		// §6.6.3: records that do not start with "v=DMARC1" are
		// discarded (case-sensitive, §6.4).
		if strings.HasPrefix(t, "v=DMARC1") {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return Result{Check: check, Status: Fail, Detail: "no DMARC record at " + name + "; receivers apply no policy to forgeries of " + domain, Fix: fix}
	case 1:
	default:
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%d DMARC records at %s; with more than one, none applies (RFC 7489 §6.6.3)", len(recs), name), Fix: "keep one: " + fix}
	}
	rec, err := dmarc.Parse(recs[0])
	if err != nil {
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("the DMARC record at %s does not parse: %v", name, err), Fix: fix}
	}
	if rec.Policy == dmarc.PolicyNone {
		return Result{Check: check, Status: Warn, Detail: "p=none: receivers only report, they do not refuse forgeries of " + domain,
			Fix: "once the aggregate reports show your own mail passing, set p=quarantine, then p=reject: " + fix}
	}
	detail := "p=" + string(rec.Policy)
	if rec.Percent != nil && *rec.Percent < 100 {
		detail += fmt.Sprintf(", applied to %d%% of failing mail", *rec.Percent)
	}
	return Result{Check: check, Status: OK, Detail: detail}
}

// checkTLSRPT checks that the domain asks for TLS reports (RFC 8460 §3):
// one v=TLSRPTv1 record at _smtp._tls.DOMAIN with a rua. Without it
// mail still flows, but nobody hears of the senders' failed TLS
// sessions, so it is a warning.
func (d *doctor) checkTLSRPT(ctx context.Context, domain string) Result {
	check := "tls-rpt " + domain
	name := tlsrpt.TXTPrefix + domain
	fix := fmt.Sprintf("publish %s. TXT %q", name, "v=TLSRPTv1; rua=mailto:postmaster@"+domain)
	txts, err := d.r.LookupTXT(ctx, name+".")
	if err != nil && !isNotFound(err) {
		return Result{Check: check, Status: Fail, Detail: lookupFailed(name+" TXT", err), Fix: resolverFix}
	}
	p, err := tlsrpt.PolicyFromTXT(txts)
	switch {
	case errors.Is(err, tlsrpt.ErrNoPolicy):
		return Result{Check: check, Status: Warn, Detail: "no TLS-RPT record at " + name + "; senders cannot report failed TLS to you", Fix: fix}
	case err != nil:
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("the record at %s is not valid: %v", name, err), Fix: fix}
	}
	rua := make([]string, len(p.RUA))
	for i, u := range p.RUA {
		rua[i] = u.String()
	}
	return Result{Check: check, Status: OK, Detail: "reports go to " + strings.Join(rua, ", ")}
}
