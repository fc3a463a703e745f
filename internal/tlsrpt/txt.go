package tlsrpt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// TXTPrefix is where a domain publishes its reporting policy: the TXT
// record at _smtp._tls.DOMAIN (RFC 8460 §3).
const TXTPrefix = "_smtp._tls."

// maxRUA bounds the rua URIs taken from one record, so that a hostile
// record cannot make pail send a report a thousand times.
const maxRUA = 5

// Policy is a parsed _smtp._tls TXT record (RFC 8460 §3).
type Policy struct {
	// RUA are the addresses to send reports to: mailto: and https: URIs.
	RUA []*url.URL
}

// ErrNoPolicy means the domain publishes no TLSRPTv1 record.
var ErrNoPolicy = errors.New("tlsrpt: no TLSRPTv1 record")

// PolicyFromTXT picks the reporting policy out of the TXT records at
// _smtp._tls.DOMAIN: records that do not start with "v=TLSRPTv1" are
// ignored, and exactly one must remain (RFC 8460 §3: several records
// mean no reporting policy).
func PolicyFromTXT(records []string) (Policy, error) {
	var found []string
	for _, r := range records {
		if strings.HasPrefix(r, "v=TLSRPTv1") {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return Policy{}, ErrNoPolicy
	case 1:
		return ParseTXT(found[0])
	}
	return Policy{}, fmt.Errorf("tlsrpt: %d TLSRPTv1 records; RFC 8460 §3 takes none", len(found))
}

// ParseTXT parses one record by the grammar of RFC 8460 §3:
//
//	tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//	tlsrpt-version = %s"v=TLSRPTv1"
//	field-delim = *WSP ";" *WSP
//	tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//
// Unknown fields (tlsrpt-ext) are ignored; the rua field is required, and
// only mailto: and https: URIs count (§3: others are not defined).
func ParseTXT(record string) (Policy, error) {
	fields := strings.Split(record, ";")
	if strings.TrimRight(fields[0], " \t") != "v=TLSRPTv1" {
		return Policy{}, fmt.Errorf("tlsrpt: record %q does not start with v=TLSRPTv1;", record)
	}
	fields = fields[1:]
	if n := len(fields); n > 0 && strings.Trim(fields[n-1], " \t") == "" {
		fields = fields[:n-1] // the optional trailing delimiter
	}
	if len(fields) == 0 {
		return Policy{}, fmt.Errorf("tlsrpt: record %q has no fields", record)
	}
	var p Policy
	seen := false
	for _, f := range fields {
		f = strings.Trim(f, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok || !validFieldName(name) {
			return Policy{}, fmt.Errorf("tlsrpt: bad field %q", f)
		}
		if name != "rua" {
			continue // tlsrpt-ext
		}
		if seen {
			return Policy{}, errors.New("tlsrpt: rua given twice")
		}
		seen = true
		for _, u := range strings.Split(value, ",") {
			uri, err := parseRUA(strings.Trim(u, " \t"))
			if err != nil {
				return Policy{}, err
			}
			if len(p.RUA) < maxRUA {
				p.RUA = append(p.RUA, uri)
			}
		}
	}
	if !seen {
		return Policy{}, errors.New("tlsrpt: no rua field")
	}
	return p, nil
}

// validFieldName checks tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA /
// DIGIT / "_" / "-" / ".").
func validFieldName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-' && c != '.') {
			return false
		}
	}
	return true
}

// parseRUA parses one tlsrpt-uri: a mailto: URI with one address, or an
// https: URI with a host.
func parseRUA(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: rua %q: %w", s, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		u.Scheme = "mailto"
		addr, err := url.PathUnescape(u.Opaque)
		if err != nil || strings.Count(addr, "@") != 1 || strings.HasPrefix(addr, "@") || strings.HasSuffix(addr, "@") || strings.ContainsAny(addr, " ,<>") {
			return nil, fmt.Errorf("tlsrpt: rua %q: not one mail address", s)
		}
	case "https":
		u.Scheme = "https"
		if u.Host == "" {
			return nil, fmt.Errorf("tlsrpt: rua %q: no host", s)
		}
	default:
		return nil, fmt.Errorf("tlsrpt: rua %q: only mailto: and https: are defined (RFC 8460 §3)", s)
	}
	return u, nil
}

// MailAddress returns the address of a mailto: rua.
func MailAddress(u *url.URL) string {
	addr, _ := url.PathUnescape(u.Opaque)
	return addr
}
