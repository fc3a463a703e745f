package mtasts

import "strings"

// maxDomainLen is the longest domain name in text form (RFC 1035 §2.3.4:
// 255 octets on the wire).
const maxDomainLen = 253

// mxPattern checks and normalises an mx value (RFC 8461 §3.2:
// sts-policy-mx-value = ["*."] Domain, the Domain of RFC 5321 §4.1.2,
// an A-label for an IDN): lower case, no trailing dot.
func mxPattern(s string) (string, bool) {
	s = strings.ToLower(s)
	host := strings.TrimPrefix(s, "*.")
	if !hostName(host) {
		return "", false
	}
	return s, true
}

// hostName reports whether s is a domain by RFC 5321 §4.1.2: labels of
// letters, digits and inner hyphens (Let-dig [Ldh-str]), at most 63
// octets each (RFC 1035 §2.3.4).
func hostName(s string) bool {
	if s == "" || len(s) > maxDomainLen {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Matches reports whether the MX host name mxHost is allowed by the
// policy (RFC 8461 §4.1): equal to a pattern but for case and a trailing
// dot, or, for a pattern "*.D", one label followed by D — the wildcard
// stands for exactly one whole label, so *.example.com matches
// mx.example.com but neither example.com nor a.b.example.com.
func (p *Policy) Matches(mxHost string) bool {
	h := strings.ToLower(strings.TrimSuffix(mxHost, "."))
	if h == "" {
		return false
	}
	first, rest, hasDot := strings.Cut(h, ".")
	for _, pat := range p.MX {
		if d, wild := strings.CutPrefix(pat, "*."); wild {
			if hasDot && first != "" && rest == d {
				return true
			}
		} else if h == pat {
			return true
		}
	}
	return false
}
