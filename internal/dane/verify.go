package dane

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Verify checks the certificate chain an SMTP server presented (leaf
// first, as tls.ConnectionState.PeerCertificates) against the TLSA RRset
// of its MX host, following RFC 7672 §3 and RFC 7671 §5. names are the
// reference identifiers of RFC 7672 §3.2.3: the MX host name and, when
// CNAME expansion changed it, the TLSA base domain; now is the time the
// dates are checked at.
//
// It returns nil when one usable record authenticates the server:
//   - DANE-EE(3): the leaf certificate (selector 0) or its public key
//     (selector 1) matches; its names and dates are not checked (RFC
//     7672 §3.1.1, RFC 7671 §5.1);
//   - DANE-TA(2): a certificate of the chain matches, the leaf chains to
//     it with the rest of the chain as intermediates (it is the only
//     root; nothing of the system's roots is used), every certificate on
//     that path is valid at now, and the leaf names one of names, a
//     wildcard covering one left-most label (RFC 7672 §3.1.2, §3.2.2,
//     RFC 6125 §6.4.3). Only DNS subjectAltNames count, as crypto/x509
//     checks them.
//
// Otherwise the error wraps ErrNoUsableTLSA when no record is usable
// (the caller requires TLS but does not authenticate, RFC 7672 §2.2),
// and else the most telling failure: ErrHostMismatch, ErrExpired or
// ErrUntrusted for a DANE-TA anchor that matched, ErrNoMatch when no
// record matched at all. The message says what was compared, for logs.
func Verify(tlsa []*dns.TLSA, chain []*x509.Certificate, names []string, now time.Time) error {
	records, unusable := Usable(tlsa)
	if len(records) == 0 {
		if unusable == nil {
			return fmt.Errorf("dane: %w: empty TLSA RRset", ErrNoUsableTLSA)
		}
		return fmt.Errorf("dane: %w: %d records: %s", ErrNoUsableTLSA, len(tlsa), oneLine(unusable))
	}
	if len(chain) == 0 || chain[0] == nil {
		return fmt.Errorf("dane: %w: the server presented no certificate", ErrNoMatch)
	}
	leaf := chain[0]

	// RFC 7672 §3.1.1: a DANE-EE match authenticates the server by
	// itself; the name and validity period of the certificate play no
	// part (RFC 7671 §5.1).
	for _, r := range records {
		if r.Usage == UsageDANEEE && r.Matches(leaf) {
			return nil
		}
	}

	// RFC 7672 §3.1.2: a DANE-TA record names a trust anchor that the
	// server includes in its chain (RFC 7671 §5.2); the leaf must chain
	// to it and name the MX host.
	var best error
	for _, ta := range trustAnchors(records, chain) {
		err := verifyTA(ta, chain, names, now)
		if err == nil {
			return nil
		}
		if best == nil || rank(err) > rank(best) {
			best = err
		}
	}
	if best != nil {
		return best
	}
	return fmt.Errorf("dane: %w: %s; the server's leaf is %s", ErrNoMatch, describe(records, unusable), leafAssociations(leaf))
}

// trustAnchors returns the certificates of chain that a DANE-TA record
// matches, each once, in chain order.
func trustAnchors(records []Record, chain []*x509.Certificate) []*x509.Certificate {
	var tas []*x509.Certificate
	for _, c := range chain {
		if c == nil {
			continue
		}
		for _, r := range records {
			if r.Usage == UsageDANETA && r.Matches(c) {
				tas = append(tas, c)
				break
			}
		}
	}
	return tas
}

// verifyTA checks that the leaf of chain chains to ta, is valid at now
// and names one of names.
func verifyTA(ta *x509.Certificate, chain []*x509.Certificate, names []string, now time.Time) error {
	leaf := chain[0]
	roots := x509.NewCertPool()
	roots.AddCert(ta)
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		if c != nil && c != ta {
			intermediates.AddCert(c)
		}
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		// RFC 7672 asks for no extended key usage; a certificate made
		// for another purpose still authenticates the server's key.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return fmt.Errorf("dane: %w: DANE-TA path to %q: %v", ErrExpired, ta.Subject.String(), err)
		}
		return fmt.Errorf("dane: %w: anchor %q: %v", ErrUntrusted, ta.Subject.String(), err)
	}
	// RFC 7672 §3.2.2, §3.2.3: with DANE-TA the certificate must name one
	// of the reference identifiers.
	var tried []string
	for _, n := range names {
		n = normalName(n)
		if n == "" {
			continue
		}
		tried = append(tried, n)
		if leaf.VerifyHostname(n) == nil {
			return nil
		}
	}
	if len(tried) == 0 {
		return fmt.Errorf("dane: %w: no reference identifier to check the certificate against", ErrHostMismatch)
	}
	return fmt.Errorf("dane: %w: certificate names %v, wanted %s", ErrHostMismatch, certNames(leaf), strings.Join(tried, " or "))
}

// rank orders DANE-TA failures by how much they tell the operator: a name
// mismatch means the anchor and chain were right.
func rank(err error) int {
	switch {
	case errors.Is(err, ErrHostMismatch):
		return 3
	case errors.Is(err, ErrExpired):
		return 2
	default:
		return 1
	}
}

// describe summarises the records that were tried.
func describe(records []Record, unusable error) string {
	ee, ta := 0, 0
	for _, r := range records {
		if r.Usage == UsageDANEEE {
			ee++
		} else {
			ta++
		}
	}
	s := fmt.Sprintf("%d usable records (%d DANE-EE, %d DANE-TA) matched nothing", len(records), ee, ta)
	if unusable != nil {
		s += " (and unusable: " + oneLine(unusable) + ")"
	}
	return s
}

// leafAssociations gives the leaf's "3 1 1" and "3 0 1" association data,
// the records an operator would compare with what is published.
func leafAssociations(leaf *x509.Certificate) string {
	spki := Record{UsageDANEEE, SelectorSPKI, MatchSHA256, association(leaf, SelectorSPKI, MatchSHA256)}
	full := Record{UsageDANEEE, SelectorCert, MatchSHA256, association(leaf, SelectorCert, MatchSHA256)}
	return fmt.Sprintf("%q (%s, or %s)", leaf.Subject.String(), spki, full)
}

// certNames lists the DNS names of a certificate for an error, at most a
// few of them.
func certNames(c *x509.Certificate) []string {
	const maxNames = 5
	if len(c.DNSNames) > maxNames {
		return append(c.DNSNames[:maxNames:maxNames], "...")
	}
	if len(c.DNSNames) == 0 {
		return []string{"(no DNS names)"}
	}
	return c.DNSNames
}

// oneLine joins a multi-line joined error into one log line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
