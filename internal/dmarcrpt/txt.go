package dmarcrpt

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
)

// maxRUA bounds the rua URIs taken from one record, so that a hostile
// record cannot make pail send a report a thousand times (§6.2: a
// receiver MAY limit them but MUST take at least two).
const maxRUA = 5

// RUA is one aggregate report destination of a DMARC record.
type RUA struct {
	// URI is the destination as the record writes it, size and all.
	URI string
	// Address is the mailto: address.
	Address string
	// MaxBytes is the size limit ("!" size, §6.2); 0 means none.
	MaxBytes int64
}

// ErrNoPolicy means the domain publishes no DMARC record that asks for
// aggregate reports.
var ErrNoPolicy = errors.New("dmarcrpt: no DMARC record with a mailto: rua")

// RUAFromTXT picks the aggregate report destinations out of the TXT
// records at _dmarc.DOMAIN: records that do not start with "v=DMARC1"
// are ignored, and exactly one must remain (RFC 7489 §6.6.3: several
// records mean no policy); of its rua (§6.3) the mailto: URIs count, the
// only kind §7.2.1 defines for aggregate reports.
func RUAFromTXT(records []string) ([]RUA, error) {
	var found []string
	for _, r := range records {
		if strings.HasPrefix(r, "v=DMARC1") {
			found = append(found, r)
		}
	}
	if len(found) == 0 {
		return nil, ErrNoPolicy
	}
	if len(found) > 1 {
		return nil, fmt.Errorf("dmarcrpt: %d DMARC records; RFC 7489 §6.6.3 takes none", len(found))
	}
	rec, err := dmarc.Parse(found[0])
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: record %q: %w", found[0], err)
	}
	var out []RUA
	for _, u := range rec.ReportURIAggregate {
		r, err := ParseRUA(u)
		if err != nil {
			continue // another scheme, or not one address: not ours to use
		}
		if len(out) < maxRUA {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoPolicy
	}
	return out, nil
}

// ParseRUA parses one dmarc-uri (RFC 7489 §6.2):
//
//	dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]
//
// a mailto: URI with one address, and an optional size in bytes or in
// powers of two of them.
func ParseRUA(s string) (RUA, error) {
	r := RUA{URI: s}
	uri := s
	if i := strings.LastIndexByte(s, '!'); i >= 0 {
		uri = s[:i]
		n, err := parseSize(s[i+1:])
		if err != nil {
			return RUA{}, fmt.Errorf("dmarcrpt: rua %q: %w", s, err)
		}
		r.MaxBytes = n
	}
	u, err := url.Parse(uri)
	if err != nil {
		return RUA{}, fmt.Errorf("dmarcrpt: rua %q: %w", s, err)
	}
	if !strings.EqualFold(u.Scheme, "mailto") {
		return RUA{}, fmt.Errorf("dmarcrpt: rua %q: only mailto: is defined for aggregate reports (RFC 7489 §7.2.1)", s)
	}
	addr, err := url.PathUnescape(u.Opaque)
	at := strings.LastIndexByte(addr, '@')
	if err != nil || strings.Count(addr, "@") != 1 || at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " ,<>\"\r\n") {
		return RUA{}, fmt.Errorf("dmarcrpt: rua %q: not one mail address", s)
	}
	r.Address = addr
	return r, nil
}

// parseSize parses 1*DIGIT [ "k" / "m" / "g" / "t" ]; §6.2: the units are
// powers of two (a kilobyte is 2^10).
func parseSize(s string) (int64, error) {
	shift := 0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		case 't', 'T':
			shift = 40
		}
		if shift > 0 {
			s = s[:n-1]
		}
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("size %q", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n << shift, nil
}

// Domain returns the domain of the rua's address, lower case.
func (r RUA) Domain() string {
	return strings.ToLower(r.Address[strings.LastIndexByte(r.Address, '@')+1:])
}

// ReportPrefix is the name under the destination's domain where it agrees
// to take reports about another domain (RFC 7489 §7.1):
// POLICY-DOMAIN._report._dmarc.DESTINATION.
const ReportPrefix = "._report._dmarc."

// Authorizes reports whether the TXT records at
// POLICY-DOMAIN._report._dmarc.DESTINATION agree to take reports (§7.1
// steps 5 to 7): at least one starts with "v=DMARC1" and parses as
// tag=value pairs.
func Authorizes(records []string) bool {
	for _, r := range records {
		fields := strings.Split(r, ";")
		if strings.TrimSpace(fields[0]) != "v=DMARC1" {
			continue
		}
		ok := true
		for _, f := range fields[1:] {
			if strings.TrimSpace(f) == "" {
				continue
			}
			if k, _, found := strings.Cut(f, "="); !found || strings.TrimSpace(k) == "" {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
