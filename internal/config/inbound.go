package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Inbound configures the checks made on mail that arrives on the MX port
// ([inbound]): blocklists and greylisting at RCPT, the authentication
// checks and DMARC policy (package verify) at the end of DATA. Mail from
// authenticated users (submission) is never subject to them.
type Inbound struct {
	// --- DNS blocklists (RFC 5782) and greylisting ---

	// DNSBL names the DNS blocklists the client address is looked up in
	// ("zen.spamhaus.org"); none by default.
	DNSBL []string `toml:"dnsbl"`
	// DNSBLAction is what a listing does: "reject" (554 5.7.1 naming the
	// list, the default) or "score" (the message is accepted and the
	// listing recorded for the inbound verdict).
	DNSBLAction string `toml:"dnsbl_action"`
	// Greylist defers the first contact of an unknown (client network,
	// sender, recipient) triple with 451 4.7.1; off by default.
	Greylist bool `toml:"greylist"`
	// GreylistDelay is how long a new triple must wait before a retry is
	// accepted.
	GreylistDelay Duration `toml:"greylist_delay"`
	// GreylistExpire is how long a triple that passed is remembered after
	// it was last used.
	GreylistExpire Duration `toml:"greylist_expire"`
	// CheckLoopback applies the blocklists and greylisting to loopback
	// clients too, which are otherwise exempt (they are this machine);
	// for tests.
	CheckLoopback bool `toml:"check_loopback"`

	// --- Authentication checks and DMARC policy (SPF, DKIM, DMARC,
	// iprev; Authentication-Results). ---

	// Checks runs the checks on every message from the MX port and
	// prepends their Authentication-Results field (default true).
	Checks bool `toml:"checks"`
	// DMARCReject is what becomes of a message that fails DMARC under
	// p=reject: "reject" (550 5.7.1 at the end of DATA, the default) or
	// "junk" (delivered to the Junk folder).
	DMARCReject string `toml:"dmarc_reject"`
	// DMARCQuarantine is what becomes of one that fails under
	// p=quarantine: "junk" (the default) or "inbox".
	DMARCQuarantine string `toml:"dmarc_quarantine"`
	// AcceptFrom are domains and addresses (envelope sender or header
	// From) whose mail the DMARC policy and the built-in score never
	// refuse nor file in Junk.
	AcceptFrom []string `toml:"accept_from"`
	// JunkScore is the spam score at which a message goes to Junk
	// (default 4: a DMARC failure with a failed SPF or without iprev).
	JunkScore float64 `toml:"junk_score"`
}

// The values of inbound.dnsbl_action.
const (
	DNSBLReject = "reject"
	DNSBLScore  = "score"
)

// Greylisting defaults: a delay longer than a spam engine's one retry and
// shorter than a mail server's first (Postfix retries after 5 minutes at
// the earliest, queue_run_delay), and a memory of five weeks, so that a
// correspondent who writes monthly is not deferred again (Postgrey's
// defaults, 300 s and 35 days).
const (
	DefaultGreylistDelay  = 5 * time.Minute
	DefaultGreylistExpire = 35 * 24 * time.Hour
)

// maxDNSBLs bounds inbound.dnsbl: each list is a query per new client.
const maxDNSBLs = 16

// DefaultJunkScore is inbound.junk_score's default (verify.DefaultJunkScore).
const DefaultJunkScore = 4.0

func defaultInbound() Inbound {
	return Inbound{
		Checks:          true,
		DMARCReject:     "reject",
		DMARCQuarantine: "junk",
		JunkScore:       DefaultJunkScore,
		DNSBLAction:     DNSBLReject,
		GreylistDelay:   Duration{DefaultGreylistDelay},
		GreylistExpire:  Duration{DefaultGreylistExpire},
	}
}

// validate checks the [inbound] section and normalises the list names.
func (in *Inbound) validate() error {
	if len(in.DNSBL) > maxDNSBLs {
		return fmt.Errorf("inbound.dnsbl: %d lists, at most %d", len(in.DNSBL), maxDNSBLs)
	}
	for i, l := range in.DNSBL {
		n := strings.ToLower(strings.TrimSuffix(l, "."))
		if !validDomain(n) {
			return fmt.Errorf("inbound.dnsbl: %q is not a valid domain name", l)
		}
		if slices.Contains(in.DNSBL[:i], n) {
			return fmt.Errorf("inbound.dnsbl: %q is listed twice", l)
		}
		in.DNSBL[i] = n
	}
	switch in.DNSBLAction {
	case DNSBLReject, DNSBLScore:
	default:
		return fmt.Errorf("inbound.dnsbl_action: %q must be reject or score", in.DNSBLAction)
	}
	if in.GreylistDelay.Duration < 0 {
		return fmt.Errorf("inbound.greylist_delay: %s must not be negative", in.GreylistDelay)
	}
	if in.GreylistExpire.Duration <= in.GreylistDelay.Duration {
		return fmt.Errorf("inbound.greylist_expire: %s must be longer than greylist_delay %s", in.GreylistExpire, in.GreylistDelay)
	}
	if in.DMARCReject != "reject" && in.DMARCReject != "junk" {
		return fmt.Errorf(`inbound.dmarc_reject: %q must be "reject" or "junk"`, in.DMARCReject)
	}
	if in.DMARCQuarantine != "junk" && in.DMARCQuarantine != "inbox" {
		return fmt.Errorf(`inbound.dmarc_quarantine: %q must be "junk" or "inbox"`, in.DMARCQuarantine)
	}
	if in.JunkScore <= 0 {
		return fmt.Errorf("inbound.junk_score: %g must be positive", in.JunkScore)
	}
	for i, a := range in.AcceptFrom {
		a = strings.ToLower(strings.TrimSpace(a))
		dom := a[strings.LastIndexByte(a, '@')+1:]
		if !validDomain(dom) || strings.Count(a, "@") > 1 || strings.HasPrefix(a, "@") {
			return fmt.Errorf("inbound.accept_from: %q is not a domain or an address", in.AcceptFrom[i])
		}
		in.AcceptFrom[i] = a
	}
	return nil
}
