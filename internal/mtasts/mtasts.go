// Package mtasts is SMTP MTA Strict Transport Security (RFC 8461) for
// pail, both sides of it: the policies pail serves for its own domains
// (Handler, Policy.String, Policy.ID) and the policies of other domains,
// looked up and cached for the outbound SMTP client (Fetcher). It parses
// the _mta-sts TXT record (§3.1) and the policy file (§3.2), fetches the
// policy over HTTPS with a verified certificate and no redirects (§3.3),
// caches it by max_age and TXT id on disk (§5.1), and says, when a
// policy could not be had, which TLS-RPT failure type (RFC 8460 §4.3)
// that was. Deciding which MX hosts to use and what TLS to require with
// the result is the SMTP client's part.
package mtasts

// Mode is a policy's mode (RFC 8461 §5): what a sender does when it
// cannot deliver over TLS to an MX host the policy allows.
type Mode string

// The modes of RFC 8461 §5.
const (
	// ModeEnforce: deliver only to an MX that matches the policy, over
	// TLS with a certificate valid for its name; otherwise defer.
	ModeEnforce Mode = "enforce"
	// ModeTesting: deliver as without a policy, but report failures
	// (TLS-RPT, RFC 8460).
	ModeTesting Mode = "testing"
	// ModeNone: the domain has withdrawn its policy (§8.3); deliver as
	// without one.
	ModeNone Mode = "none"
)

// ParseMode returns the mode named s (case-sensitive, as §3.2's ABNF
// writes it).
func ParseMode(s string) (Mode, bool) {
	switch m := Mode(s); m {
	case ModeEnforce, ModeTesting, ModeNone:
		return m, true
	}
	return "", false
}
