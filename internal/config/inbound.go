package config

import (
	"fmt"
	"strings"
)

// Inbound configures the judgement of mail that arrives on the MX port
// (package verify).
type Inbound struct {
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

// DefaultJunkScore is inbound.junk_score's default (verify.DefaultJunkScore).
const DefaultJunkScore = 4.0

func defaultInbound() Inbound {
	return Inbound{Checks: true, DMARCReject: "reject", DMARCQuarantine: "junk", JunkScore: DefaultJunkScore}
}

func (in *Inbound) validate() error {
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
