package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// maxFullData bounds the association data of a Full(0) record: a TLSA
// RDATA cannot be longer than a DNS RR's 65535 bytes (RFC 1035 §3.2.1),
// and the three one-octet fields come first.
const maxFullData = 65535 - 3

// Record is one usable TLSA record: the usage, selector and matching type
// are ones this package implements and Data, the decoded association
// data, has the length its matching type calls for.
type Record struct {
	Usage        uint8
	Selector     uint8
	MatchingType uint8
	Data         []byte
}

// String returns the record in presentation form, "3 1 1 <hex>".
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, hex.EncodeToString(r.Data))
}

// ParseTLSA checks one TLSA record and returns it decoded. A record that
// cannot be used for SMTP gets an error wrapping ErrUnusable that says
// why: a PKIX usage (RFC 7672 §3.1.3: SMTP clients cannot know which CAs
// a server would choose, so PKIX-TA(0) and PKIX-EE(1) are unusable), an
// unknown usage, selector or matching type, association data that is not
// hexadecimal, or data whose length does not fit the matching type (a
// SHA-256 digest is 32 bytes, a SHA-512 digest 64; such a record could
// never match, and RFC 7672 §2.2 treats malformed records as unusable).
func ParseTLSA(rr *dns.TLSA) (Record, error) {
	if rr == nil {
		return Record{}, fmt.Errorf("dane: %w: no record", ErrUnusable)
	}
	r := Record{Usage: rr.Usage, Selector: rr.Selector, MatchingType: rr.MatchingType}
	switch rr.Usage {
	case UsageDANETA, UsageDANEEE:
	case UsagePKIXTA, UsagePKIXEE:
		return Record{}, fmt.Errorf("dane: %w: %s: usage %d (PKIX) is not used for SMTP (RFC 7672 §3.1.3)", ErrUnusable, rrText(rr), rr.Usage)
	default:
		return Record{}, fmt.Errorf("dane: %w: %s: unknown usage %d", ErrUnusable, rrText(rr), rr.Usage)
	}
	if rr.Selector != SelectorCert && rr.Selector != SelectorSPKI {
		return Record{}, fmt.Errorf("dane: %w: %s: unknown selector %d", ErrUnusable, rrText(rr), rr.Selector)
	}
	data, err := hex.DecodeString(rr.Certificate)
	if err != nil {
		return Record{}, fmt.Errorf("dane: %w: %s: association data is not hexadecimal: %v", ErrUnusable, rrText(rr), err)
	}
	want := 0
	switch rr.MatchingType {
	case MatchFull:
		if len(data) == 0 || len(data) > maxFullData {
			return Record{}, fmt.Errorf("dane: %w: %s: %d bytes of association data for matching type 0", ErrUnusable, rrText(rr), len(data))
		}
	case MatchSHA256:
		want = sha256.Size
	case MatchSHA512:
		want = sha512.Size
	default:
		return Record{}, fmt.Errorf("dane: %w: %s: unknown matching type %d", ErrUnusable, rrText(rr), rr.MatchingType)
	}
	if want != 0 && len(data) != want {
		return Record{}, fmt.Errorf("dane: %w: %s: %d bytes of association data, matching type %d is a %d-byte digest",
			ErrUnusable, rrText(rr), len(data), rr.MatchingType, want)
	}
	r.Data = data
	return r, nil
}

// Usable returns the records of rrs that ParseTLSA accepts, in order, and
// joins the reasons for the others into one error (nil when every record
// is usable). Records that are byte for byte the same are kept once.
func Usable(rrs []*dns.TLSA) ([]Record, error) {
	var usable []Record
	var bad []error
	for _, rr := range rrs {
		r, err := ParseTLSA(rr)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		dup := false
		for _, u := range usable {
			if u.Usage == r.Usage && u.Selector == r.Selector && u.MatchingType == r.MatchingType && bytes.Equal(u.Data, r.Data) {
				dup = true
				break
			}
		}
		if !dup {
			usable = append(usable, r)
		}
	}
	return usable, errors.Join(bad...)
}

// Matches reports whether cert is the certificate (or carries the public
// key) that the record names (RFC 6698 §2.1.2, §2.1.3).
func (r Record) Matches(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	return bytes.Equal(association(cert, r.Selector, r.MatchingType), r.Data)
}

// association returns the association data of cert for a selector and a
// matching type: the selected DER, or its digest. Unknown values give nil.
func association(cert *x509.Certificate, selector, matchingType uint8) []byte {
	var content []byte
	switch selector {
	case SelectorCert:
		content = cert.Raw
	case SelectorSPKI:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return nil
	}
	switch matchingType {
	case MatchFull:
		return content
	case MatchSHA256:
		d := sha256.Sum256(content)
		return d[:]
	case MatchSHA512:
		d := sha512.Sum512(content)
		return d[:]
	default:
		return nil
	}
}

// NewTLSA returns the TLSA record named name (see QueryName) that
// associates cert with the given usage, selector and matching type, as
// an operator would publish it.
func NewTLSA(name string, usage, selector, matchingType uint8, cert *x509.Certificate) (*dns.TLSA, error) {
	if cert == nil {
		return nil, errors.New("dane: NewTLSA: no certificate")
	}
	data := association(cert, selector, matchingType)
	if data == nil {
		return nil, fmt.Errorf("dane: NewTLSA: unknown selector %d or matching type %d", selector, matchingType)
	}
	return &dns.TLSA{
		Hdr:          dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
		Usage:        usage,
		Selector:     selector,
		MatchingType: matchingType,
		Certificate:  hex.EncodeToString(data),
	}, nil
}

// QueryName returns the name of the TLSA RRset of a TCP service: for
// port 25 of mx.example.org, "_25._tcp.mx.example.org." (RFC 6698 §3).
// For SMTP host is the TLSA base domain: the MX host name, or the name
// its CNAME chain ends at when every link of it was authenticated (RFC
// 7672 §2.2, §3.2.3). It fails for a port outside 1-65535 or a host that is not
// a valid domain name (the prefix included).
func QueryName(port int, host string) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("dane: TLSA name: port %d out of range", port)
	}
	h := strings.ToLower(dns.Fqdn(host))
	if h == "." || strings.HasPrefix(h, ".") {
		return "", fmt.Errorf("dane: TLSA name: bad host name %q", host)
	}
	name := fmt.Sprintf("_%d._tcp.%s", port, h)
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("dane: TLSA name: bad host name %q", host)
	}
	return name, nil
}

// rrText names a record in an error: its RDATA, at most 80 characters of
// it, so that a huge record does not make a huge log line.
func rrText(rr *dns.TLSA) string {
	s := fmt.Sprintf("TLSA %d %d %d %s", rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate)
	const maxText = 80
	if len(s) > maxText {
		s = s[:maxText] + "..."
	}
	return s
}
