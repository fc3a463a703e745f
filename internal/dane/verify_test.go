package dane

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const tlsaName = "_25._tcp.mx.example.org."

// tlsaFor returns the record for cert, failing the test on error.
func tlsaFor(t *testing.T, usage, selector, mt uint8, c *testCert) *dns.TLSA {
	t.Helper()
	rr, err := NewTLSA(tlsaName, usage, selector, mt, c.cert)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func chainOf(cs ...*testCert) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range cs {
		out = append(out, c.cert)
	}
	return out
}

// wantErr checks that err wraps want and maps to the TLS-RPT result type.
func wantErr(t *testing.T, err, want error, result string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("Verify = %v, want an error wrapping %q", err, want)
	}
	if got := ResultType(err); got != result {
		t.Errorf("ResultType(%v) = %q, want %q", err, got, result)
	}
}

// A DANE-EE record matches the leaf by the whole certificate or by its
// public key, with every matching type; the leaf's names and dates do
// not matter (RFC 7672 §3.1.1, RFC 7671 §5.1): this leaf has expired and
// names another host.
func TestDANEEEMatchesIgnoringNameAndExpiry(t *testing.T) {
	p := newPKI(t, []string{"other.example.net"}, testNow.AddDate(-2, 0, 0), testNow.AddDate(-1, 0, 0))
	for _, sel := range []uint8{SelectorCert, SelectorSPKI} {
		for _, mt := range []uint8{MatchFull, MatchSHA256, MatchSHA512} {
			t.Run(fmt.Sprintf("3_%d_%d", sel, mt), func(t *testing.T) {
				rrs := []*dns.TLSA{tlsaFor(t, UsageDANEEE, sel, mt, p.leaf)}
				if err := Verify(rrs, chainOf(p.leaf, p.inter), []string{"mx.example.org"}, testNow); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				// The leaf alone, without its chain, is enough too.
				if err := Verify(rrs, chainOf(p.leaf), nil, testNow); err != nil {
					t.Fatalf("Verify with the leaf only, no names: %v", err)
				}
			})
		}
	}
}

// A DANE-EE record for an intermediate or another key does not
// authenticate the leaf.
func TestDANEEEOtherCertificateFails(t *testing.T) {
	p := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	other := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	rrs := []*dns.TLSA{
		tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, other.leaf),
		tlsaFor(t, UsageDANEEE, SelectorCert, MatchSHA256, p.inter),
	}
	err := Verify(rrs, chainOf(p.leaf, p.inter), []string{"mx.example.org"}, testNow)
	wantErr(t, err, ErrNoMatch, ResultValidationFailure)
	// The message gives the leaf's own association data to compare.
	own := tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, p.leaf)
	if !strings.Contains(err.Error(), own.Certificate) {
		t.Errorf("error %q does not give the leaf's 3 1 1 data %s", err, own.Certificate)
	}
}

// DANE-TA: the anchor the record names is in the chain, the leaf chains
// to it and names the MX host (RFC 7672 §3.1.2, §3.2.2).
func TestDANETAMatches(t *testing.T) {
	p := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	wild := newPKI(t, []string{"*.example.org"}, time.Time{}, time.Time{})
	cname := newPKI(t, []string{"mx.provider.example"}, time.Time{}, time.Time{})
	cases := []struct {
		name  string
		rr    *dns.TLSA
		chain []*x509.Certificate
		names []string
	}{
		{"root in chain, 2 1 1", tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, p.root), chainOf(p.leaf, p.inter, p.root), []string{"mx.example.org"}},
		{"root, 2 0 2", tlsaFor(t, UsageDANETA, SelectorCert, MatchSHA512, p.root), chainOf(p.leaf, p.inter, p.root), []string{"MX.Example.Org."}},
		{"intermediate as anchor, 2 0 0", tlsaFor(t, UsageDANETA, SelectorCert, MatchFull, p.inter), chainOf(p.leaf, p.inter), []string{"mx.example.org"}},
		{"intermediate, 2 1 0", tlsaFor(t, UsageDANETA, SelectorSPKI, MatchFull, p.inter), chainOf(p.leaf, p.inter), []string{"mx.example.org"}},
		{"wildcard", tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, wild.inter), chainOf(wild.leaf, wild.inter), []string{"mx.example.org"}},
		{"second reference identifier (TLSA base domain)", tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, cname.inter), chainOf(cname.leaf, cname.inter), []string{"mx.example.org", "mx.provider.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify([]*dns.TLSA{c.rr}, c.chain, c.names, testNow); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// DANE-TA with a certificate for another name is a host mismatch; the
// wildcard covers one label only (RFC 6125 §6.4.3).
func TestDANETAWrongName(t *testing.T) {
	p := newPKI(t, []string{"mx.example.net"}, time.Time{}, time.Time{})
	wild := newPKI(t, []string{"*.example.org"}, time.Time{}, time.Time{})
	cases := []struct {
		name  string
		p     pki
		names []string
	}{
		{"other name", p, []string{"mx.example.org"}},
		{"wildcard two labels deep", wild, []string{"a.mx.example.org"}},
		{"wildcard, bare domain", wild, []string{"example.org"}},
		{"no reference identifiers", p, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rrs := []*dns.TLSA{tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, c.p.inter)}
			err := Verify(rrs, chainOf(c.p.leaf, c.p.inter), c.names, testNow)
			wantErr(t, err, ErrHostMismatch, ResultHostMismatch)
		})
	}
}

// DANE-TA checks dates on the path: an expired leaf, or one not yet
// valid, fails as expired even when it names the host.
func TestDANETAExpired(t *testing.T) {
	for _, c := range []struct {
		name   string
		nb, na time.Time
	}{
		{"expired", testNow.AddDate(-2, 0, 0), testNow.Add(-time.Hour)},
		{"not yet valid", testNow.Add(time.Hour), testNow.AddDate(1, 0, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPKI(t, []string{"mx.example.org"}, c.nb, c.na)
			rrs := []*dns.TLSA{tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, p.inter)}
			err := Verify(rrs, chainOf(p.leaf, p.inter), []string{"mx.example.org"}, testNow)
			wantErr(t, err, ErrExpired, ResultCertExpired)
		})
	}
}

// A DANE-TA anchor that the server does not present does not match
// (RFC 7671 §5.2: the server includes it), and one that is in the chain
// but did not issue the leaf does not authenticate it.
func TestDANETAAnchorNotUsable(t *testing.T) {
	p := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	stranger := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})

	rrs := []*dns.TLSA{tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, p.root)}
	err := Verify(rrs, chainOf(p.leaf, p.inter), []string{"mx.example.org"}, testNow)
	wantErr(t, err, ErrNoMatch, ResultValidationFailure)

	rrs = []*dns.TLSA{tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, stranger.root)}
	err = Verify(rrs, chainOf(p.leaf, p.inter, stranger.root), []string{"mx.example.org"}, testNow)
	wantErr(t, err, ErrUntrusted, ResultValidationFailure)
}

// Records of usages, selectors and matching types SMTP cannot use, and
// malformed ones, are ignored; a set of only those gives ErrNoUsableTLSA,
// not a match failure, even where an ignored record names the leaf.
func TestAllUnusable(t *testing.T) {
	p := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	pkixEE := tlsaFor(t, UsagePKIXEE, SelectorSPKI, MatchSHA256, p.leaf)
	pkixTA := tlsaFor(t, UsagePKIXTA, SelectorSPKI, MatchSHA256, p.inter)
	good := tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, p.leaf)
	mod := func(f func(rr *dns.TLSA)) *dns.TLSA {
		rr := dns.Copy(good).(*dns.TLSA)
		f(rr)
		return rr
	}
	unusable := []*dns.TLSA{
		pkixEE,
		pkixTA,
		mod(func(rr *dns.TLSA) { rr.Usage = 4 }),
		mod(func(rr *dns.TLSA) { rr.Selector = 2 }),
		mod(func(rr *dns.TLSA) { rr.MatchingType = 3 }),
		mod(func(rr *dns.TLSA) { rr.Certificate = "zz" + rr.Certificate[2:] }),
		mod(func(rr *dns.TLSA) { rr.Certificate = rr.Certificate[:62] }), // 31 bytes for SHA-256
		mod(func(rr *dns.TLSA) { rr.MatchingType = MatchSHA512 }),        // 32 bytes for SHA-512
		mod(func(rr *dns.TLSA) { rr.MatchingType = MatchFull; rr.Certificate = "" }),
	}
	err := Verify(unusable, chainOf(p.leaf, p.inter), []string{"mx.example.org"}, testNow)
	wantErr(t, err, ErrNoUsableTLSA, ResultTLSAInvalid)
	if errors.Is(err, ErrNoMatch) {
		t.Errorf("an all-unusable set is reported as a match failure too: %v", err)
	}
	wantErr(t, Verify(nil, chainOf(p.leaf), nil, testNow), ErrNoUsableTLSA, ResultTLSAInvalid)

	// One usable matching record among them authenticates.
	if err := Verify(append(unusable, good), chainOf(p.leaf), nil, testNow); err != nil {
		t.Fatalf("Verify with one usable record: %v", err)
	}
	// A usable record that does not match is a failure, whatever the
	// ignored ones say.
	other := newPKI(t, nil, time.Time{}, time.Time{})
	err = Verify(append(unusable, tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, other.leaf)), chainOf(p.leaf), nil, testNow)
	wantErr(t, err, ErrNoMatch, ResultValidationFailure)
}

// A server without certificates matches nothing.
func TestNoCertificate(t *testing.T) {
	p := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	rrs := []*dns.TLSA{tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, p.leaf)}
	wantErr(t, Verify(rrs, nil, nil, testNow), ErrNoMatch, ResultValidationFailure)
}

// DANE-TA failures report the most telling reason: a matching anchor
// with the wrong name beats a record that matched nothing.
func TestBestFailureReported(t *testing.T) {
	p := newPKI(t, []string{"mx.example.net"}, time.Time{}, time.Time{})
	other := newPKI(t, nil, time.Time{}, time.Time{})
	rrs := []*dns.TLSA{
		tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, other.leaf),
		tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, p.root),
		tlsaFor(t, UsageDANETA, SelectorSPKI, MatchSHA256, other.root),
	}
	err := Verify(rrs, chainOf(p.leaf, p.inter, p.root, other.root), []string{"mx.example.org"}, testNow)
	wantErr(t, err, ErrHostMismatch, ResultHostMismatch)
}

func TestResultType(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("remote: mx.example.org: %w", ErrDNSSECInvalid), "dnssec-invalid"},
		{fmt.Errorf("remote: %w", ErrDANERequired), "dane-required"},
		{ErrNoUsableTLSA, "tlsa-invalid"},
		{ErrHostMismatch, "certificate-host-mismatch"},
		{ErrExpired, "certificate-expired"},
		{ErrNoMatch, "validation-failure"},
		{ErrUntrusted, "validation-failure"},
		{errors.New("connection reset"), "validation-failure"},
	}
	for _, c := range cases {
		if got := ResultType(c.err); got != c.want {
			t.Errorf("ResultType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
