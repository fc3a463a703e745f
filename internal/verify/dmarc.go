package verify

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// DMARCResult is the DMARC evaluation of the From domain (RFC 7489).
type DMARCResult struct {
	Value  string // none, pass, fail, temperror, permerror
	Domain string // the From domain
	// RecordPolicy is the policy the record states for Domain: p=, or
	// sp= when Domain is a subdomain of the organisational domain whose
	// record applies (§6.3); "" without a record.
	RecordPolicy string
	// Policy is the policy to apply after pct sampling (§6.6.4): a
	// failing message outside the sample gets the next policy down.
	// "" unless Value is fail.
	Policy string
	Reason string
	// Published is the record that applied, as an aggregate report
	// names it (RFC 7489 §7.2, policy_published); nil without one.
	Published *PublishedPolicy
	// DKIMAligned and SPFAligned tell whether an identifier aligned with
	// the From domain passed (§3.1), as an aggregate report's
	// policy_evaluated says; SampledOut that a failing message was left
	// out of the pct sample (§6.6.4) and got the next policy down.
	DKIMAligned, SPFAligned, SampledOut bool
}

// PublishedPolicy is a DMARC record as it applied to a message.
type PublishedPolicy struct {
	// Domain is where the record was found: the From domain or its
	// organisational domain (§6.6.3).
	Domain string
	P, SP  string // p=, sp= ("" when not given)
	Pct    int    // pct=, 100 when not given
	ADKIM  string // adkim=: "r" or "s"
	ASPF   string // aspf=
	FO     string // fo= as the record has it ("0" when not given)
}

// dmarcLookup is the record that applies to a From domain.
type dmarcLookup struct {
	rec *dmarc.Record
	org string // the organisational domain of the From domain
	// atOrg: the record is the organisational domain's (§6.6.3 step 3),
	// so sp= applies to a From domain below it.
	atOrg bool
	err   error
}

// OrgDomain returns the organisational domain (RFC 7489 §3.2): the public
// suffix of domain and one label more, from the Public Suffix List; the
// domain itself when that cannot be had.
func OrgDomain(domain string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// lookupDMARC finds the DMARC record for domain: _dmarc.domain, or when
// there is none that of its organisational domain (§6.6.3).
func (c *Checker) lookupDMARC(ctx context.Context, domain string) dmarcLookup {
	l := dmarcLookup{org: OrgDomain(domain)}
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
		txt, err := c.Resolver.LookupTXT(ctx, name)
		var de *net.DNSError
		if errors.As(err, &de) && !de.IsNotFound && !de.IsTemporary {
			// Whatever the resolver could not say is temporary to DMARC.
			de.IsTemporary = true
		}
		return txt, err
	}}
	l.rec, l.err = dmarc.LookupWithOptions(domain, opts)
	if errors.Is(l.err, dmarc.ErrNoPolicy) && l.org != domain {
		l.atOrg = true
		l.rec, l.err = dmarc.LookupWithOptions(l.org, opts)
	}
	return l
}

// evaluateDMARC applies the record to the SPF and DKIM results
// (RFC 7489 §3.1 identifier alignment, §6.6.2 evaluation).
func (c *Checker) evaluateDMARC(from From, l dmarcLookup, spfRes SPFResult, dkims []DKIMResult) DMARCResult {
	res := DMARCResult{Domain: from.Domain}
	switch {
	case from.Domain == "" && from.Problem != "":
		res.Value, res.Reason = "permerror", from.Problem
		return res
	case errors.Is(l.err, dmarc.ErrNoPolicy):
		res.Value = "none"
		return res
	case dmarc.IsTempFail(l.err):
		res.Value, res.Reason = "temperror", "record lookup failed"
		return res
	case l.err != nil:
		res.Value, res.Reason = "permerror", l.err.Error()
		return res
	}
	rec := l.rec
	res.RecordPolicy = string(rec.Policy)
	if l.atOrg && rec.SubdomainPolicy != "" {
		res.RecordPolicy = string(rec.SubdomainPolicy)
	}
	res.Published = published(rec, l, from.Domain)
	// §3.1.2: SPF is aligned when it passed for a MAIL FROM domain that
	// matches From's; §3.1.1: DKIM when a valid signature's d= does. For
	// a null MAIL FROM the domain checked was the HELO name (RFC 7208
	// §2.4), and that is the identity DMARC aligns (§4.1): a bounce from
	// a server of the From domain passes on it, unsigned as most are.
	temp := false
	if spfRes.Domain != "" && aligned(spfRes.Domain, from.Domain, rec.SPFAlignment) {
		switch spfRes.Value {
		case "pass":
			res.SPFAligned = true
		case "temperror":
			temp = true
		}
	}
	for _, d := range dkims {
		if d.Domain == "" || !aligned(d.Domain, from.Domain, rec.DKIMAlignment) {
			continue
		}
		switch d.Value {
		case "pass":
			res.DKIMAligned = true
		case "temperror":
			temp = true
		}
	}
	if res.SPFAligned || res.DKIMAligned {
		res.Value = "pass"
		return res
	}
	if temp {
		// An aligned identifier could not be checked: not a failure to
		// act on (§6.6.2 lets temporary errors defer judgement).
		res.Value, res.Reason = "temperror", "an aligned identifier could not be checked"
		return res
	}
	res.Value = "fail"
	res.Policy = res.RecordPolicy
	if rec.Percent != nil && *rec.Percent < 100 {
		pick := c.Percent
		if pick == nil {
			pick = func() int { return rand.IntN(100) }
		}
		if pick() >= *rec.Percent {
			// §6.6.4: outside the sample, the next policy down.
			res.SampledOut = true
			switch res.Policy {
			case dmarc.PolicyReject:
				res.Policy = dmarc.PolicyQuarantine
			case dmarc.PolicyQuarantine:
				res.Policy = string(dmarc.PolicyNone)
			}
		}
	}
	return res
}

// published describes the record l found for the From domain from.
func published(rec *dmarc.Record, l dmarcLookup, from string) *PublishedPolicy {
	p := &PublishedPolicy{Domain: strings.ToLower(from), P: string(rec.Policy), SP: string(rec.SubdomainPolicy),
		Pct: 100, ADKIM: string(rec.DKIMAlignment), ASPF: string(rec.SPFAlignment), FO: "0"}
	if l.atOrg {
		p.Domain = l.org
	}
	if rec.Percent != nil {
		p.Pct = *rec.Percent
	}
	var fo []string
	for _, o := range []struct {
		bit  dmarc.FailureOptions
		name string
	}{{dmarc.FailureAll, "0"}, {dmarc.FailureAny, "1"}, {dmarc.FailureDKIM, "d"}, {dmarc.FailureSPF, "s"}} {
		if rec.FailureOptions&o.bit != 0 {
			fo = append(fo, o.name)
		}
	}
	if len(fo) > 0 {
		p.FO = strings.Join(fo, ":")
	}
	return p
}

// aligned reports whether identifier domain d aligns with the From
// domain: the same name in strict mode, the same organisational domain in
// relaxed mode, the default (RFC 7489 §3.1).
func aligned(d, from string, mode dmarc.AlignmentMode) bool {
	d, from = strings.ToLower(strings.TrimSuffix(d, ".")), strings.ToLower(from)
	if d == from {
		return true
	}
	if mode == dmarc.AlignmentStrict {
		return false
	}
	return OrgDomain(d) == OrgDomain(from)
}
