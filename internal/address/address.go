// Package address parses and normalises mail addresses (RFC 5321 §4.1.2
// mailboxes) the way pail compares them: the domain is case-insensitive, the
// local part is compared case-insensitively too (as every major server does),
// and a "+tag" subaddress (RFC 5233) names the same mailbox as its base.
package address

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// SubaddressSeparator separates a local part from its tag (RFC 5233).
const SubaddressSeparator = "+"

// maxLength bounds a path (RFC 5321 §4.5.3.1.3: 256 octets).
const maxLength = 256

// ErrInvalid is returned for a string that is not an address.
var ErrInvalid = errors.New("invalid address")

// Split returns the local part and domain of addr. The domain is returned in
// lower case without a trailing dot.
func Split(addr string) (local, domain string, err error) {
	// RFC 6531 §3.3: internationalized addresses are UTF-8, so bytes that
	// are not valid UTF-8 make no address.
	if len(addr) > maxLength || !utf8.ValidString(addr) {
		return "", "", ErrInvalid
	}
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", ErrInvalid
	}
	local, domain = addr[:i], strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
	// RFC 5321 §4.1.2: a domain is dot-separated labels, none empty.
	if domain == "" || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") ||
		strings.ContainsAny(addr, " \t\r\n<>\x00") {
		return "", "", ErrInvalid
	}
	return local, domain, nil
}

// Normalize returns the canonical form of addr used as a key: lower case,
// no trailing dot on the domain.
func Normalize(addr string) (string, error) {
	local, domain, err := Split(addr)
	if err != nil {
		return "", err
	}
	n := strings.ToLower(local) + "@" + domain
	if len(n) > maxLength { // lower case can be longer in UTF-8
		return "", ErrInvalid
	}
	return n, nil
}

// Base strips a subaddress tag: "bob+news@hill.com" becomes "bob@hill.com".
// Addresses without a tag are returned unchanged.
func Base(addr string) string {
	local, domain, err := Split(addr)
	if err != nil {
		return addr
	}
	if i := strings.Index(local, SubaddressSeparator); i > 0 {
		return local[:i] + "@" + domain
	}
	return addr
}

// Domain returns the lower-cased domain of addr, or "" if addr is invalid.
func Domain(addr string) string {
	_, d, err := Split(addr)
	if err != nil {
		return ""
	}
	return d
}

// TrimDomainDot strips one trailing dot from the domain of addr
// ("bob@hill.com." becomes "bob@hill.com"). A domain in a path has no
// trailing dot (RFC 5321 §4.1.2: Domain = sub-domain *("." sub-domain)),
// but the absolute form of a DNS name names the same domain, so pail
// accepts it and keeps, queues and compares only the form without the dot,
// as Postfix does. Anything else is returned unchanged.
func TrimDomainDot(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && strings.HasSuffix(addr, ".") && len(addr) > i+2 {
		return addr[:len(addr)-1]
	}
	return addr
}
