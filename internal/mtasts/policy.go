package mtasts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Policy file bounds.
const (
	// MaxPolicyBytes is the largest policy body read (RFC 8461 §3.3:
	// senders may limit the size they fetch; 64 KiB is far above any
	// real policy, a few hundred bytes).
	MaxPolicyBytes = 64 << 10
	// MaxMaxAge is the longest max_age (RFC 8461 §3.2: "maximum value of
	// 31557600", a year).
	MaxMaxAge = 31557600 * time.Second
	// maxMX bounds the mx patterns of one policy, so that a policy
	// cannot make matching slow; real ones have a handful.
	maxMX = 1000
)

// ErrPolicySyntax is wrapped by every error of ParsePolicy: the policy
// is invalid (TLS-RPT failure type sts-policy-invalid).
var ErrPolicySyntax = errors.New("mtasts: policy syntax")

// Policy is an MTA-STS policy (RFC 8461 §3.2).
type Policy struct {
	// Mode is what senders do when TLS to an allowed MX fails.
	Mode Mode
	// MX are the allowed MX host patterns, lower case, without a
	// trailing dot: a host name, or "*." and a domain for any host one
	// label below it (§4.1).
	MX []string
	// MaxAge is how long the policy may be cached (§3.2, at most a year).
	MaxAge time.Duration
}

// ParsePolicy parses a policy body (RFC 8461 §3.2): "key: value" lines
// ended by CRLF or LF, with version STSv1, a mode, a max_age of at most
// 31557600 seconds, and one or more mx patterns (none needed in mode
// none); unknown keys are ignored, and a body larger than
// MaxPolicyBytes is refused. Empty lines are skipped.
func ParsePolicy(body []byte) (*Policy, error) {
	bad := func(line int, format string, args ...any) (*Policy, error) {
		msg := fmt.Sprintf(format, args...)
		if line > 0 {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrPolicySyntax, msg)
	}
	if len(body) > MaxPolicyBytes {
		return bad(0, "larger than %d bytes", MaxPolicyBytes)
	}
	if !utf8.Valid(body) {
		return bad(0, "not UTF-8")
	}
	var p Policy
	var version, maxAge bool
	for i, line := range strings.Split(string(body), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		// sts-policy-field-delim = ":" *WSP; trailing *WSP after a value.
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return bad(n, "no colon")
		}
		if !extName(name) {
			return bad(n, "malformed key %q", name)
		}
		value = strings.Trim(value, " \t")
		if !policyValue(value) {
			return bad(n, "malformed value of %s", name)
		}
		switch name {
		case "version":
			if version {
				return bad(n, "version given twice")
			}
			if value != "STSv1" {
				return bad(n, "version %q is not STSv1", value)
			}
			version = true
		case "mode":
			if p.Mode != "" {
				return bad(n, "mode given twice")
			}
			m, ok := ParseMode(value)
			if !ok {
				return bad(n, "mode %q is not enforce, testing or none", value)
			}
			p.Mode = m
		case "max_age":
			if maxAge {
				return bad(n, "max_age given twice")
			}
			// sts-policy-max-age-value = 1*10(DIGIT)
			if len(value) > 10 || !digits(value) {
				return bad(n, "max_age %q is not 1 to 10 digits", value)
			}
			secs, _ := strconv.ParseInt(value, 10, 64)
			if time.Duration(secs)*time.Second > MaxMaxAge {
				return bad(n, "max_age %d is over %d", secs, int64(MaxMaxAge/time.Second))
			}
			p.MaxAge = time.Duration(secs) * time.Second
			maxAge = true
		case "mx":
			pat, ok := mxPattern(value)
			if !ok {
				return bad(n, "mx %q is not a host name or *.domain", value)
			}
			if len(p.MX) >= maxMX {
				return bad(n, "more than %d mx patterns", maxMX)
			}
			p.MX = append(p.MX, pat)
		default:
			// §3.2: unknown fields SHALL be ignored.
		}
	}
	switch {
	case !version:
		return bad(0, "no version")
	case p.Mode == "":
		return bad(0, "no mode")
	case !maxAge:
		return bad(0, "no max_age")
	case len(p.MX) == 0 && p.Mode != ModeNone:
		return bad(0, "no mx")
	}
	return &p, nil
}

// policyValue checks a value: sts-policy-vchar [*(%x20 / sts-policy-vchar)
// sts-policy-vchar], printable ASCII or UTF-8 beyond it, spaces only
// inside (the caller trimmed the ends).
func policyValue(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String is the policy as served (RFC 8461 §3.2): version first, CRLF
// line ends, one mx line per pattern.
func (p *Policy) String() string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\n")
	b.WriteString("mode: " + string(p.Mode) + "\r\n")
	for _, mx := range p.MX {
		b.WriteString("mx: " + mx + "\r\n")
	}
	b.WriteString("max_age: " + strconv.FormatInt(int64(p.MaxAge/time.Second), 10) + "\r\n")
	return b.String()
}

// idLen is the length of a policy id made by ID: 20 hex digits (80 bits
// of a SHA-256), well inside §3.1's 32 characters and never the same for
// two policies a domain will ever serve.
const idLen = 20

// ID is the policy's id for the TXT record (RFC 8461 §3.1): a digest of
// String, so it changes exactly when the served policy does, and every
// pail serving the same policy publishes the same id.
func (p *Policy) ID() string {
	sum := sha256.Sum256([]byte(p.String()))
	return hex.EncodeToString(sum[:])[:idLen]
}

// TXT is the value of the _mta-sts TXT record that announces the policy
// (RFC 8461 §3.1).
func (p *Policy) TXT() string { return "v=STSv1; id=" + p.ID() }
