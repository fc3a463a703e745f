// Package dane authenticates an SMTP server's TLS certificate with the
// TLSA records of its MX host (DANE for SMTP, RFC 7672, with the
// operational updates of RFC 7671).
//
// It owns the checks, not the lookups: the caller finds the TLSA RRset at
// QueryName(25, mxHost) through a validating resolver and uses it only
// when the answer was authenticated (the AD bit). Verify then decides
// whether a certificate chain satisfies the records, and ClientConfig
// makes the crypto/tls client configuration that calls Verify during the
// handshake.
//
// Only the two usages RFC 7672 §3.1 allows for SMTP are used: DANE-EE(3)
// (the server's own certificate or key, its names and dates not checked)
// and DANE-TA(2) (a trust anchor the server presents in its chain, with
// the chain, names and dates checked as PKIX would, but rooted at that
// anchor alone). Records with any other usage, an unknown selector or
// matching type, or association data that does not fit the matching type
// are "unusable" and ignored; an RRset with no usable record gives
// ErrNoUsableTLSA, after which the caller still requires TLS but does not
// authenticate the server (RFC 7672 §2.2).
//
// Every error Verify returns wraps one of this package's sentinel errors,
// and ResultType maps it to the failure type of a TLS report (RFC 8460
// §4.3).
package dane

import (
	"errors"
	"strings"
)

// Certificate usages (RFC 6698 §2.1.1, acronyms of RFC 7218).
const (
	UsagePKIXTA = 0 // unusable for SMTP (RFC 7672 §3.1.3)
	UsagePKIXEE = 1 // unusable for SMTP (RFC 7672 §3.1.3)
	UsageDANETA = 2 // RFC 7672 §3.1.2, RFC 7671 §5.2
	UsageDANEEE = 3 // RFC 7672 §3.1.1, RFC 7671 §5.1
)

// Selectors (RFC 6698 §2.1.2).
const (
	SelectorCert = 0 // the whole certificate, DER
	SelectorSPKI = 1 // the SubjectPublicKeyInfo, DER
)

// Matching types (RFC 6698 §2.1.3).
const (
	MatchFull   = 0 // the selected content itself
	MatchSHA256 = 1 // its SHA-256 digest, 32 bytes
	MatchSHA512 = 2 // its SHA-512 digest, 64 bytes
)

// Sentinel errors. Every error of Verify wraps exactly one of the first
// five; the caller wraps ErrDNSSECInvalid and ErrDANERequired around its
// own lookup failures so that ResultType names them too.
var (
	// ErrNoUsableTLSA: the RRset holds no record usable for SMTP. DANE
	// does not apply, but TLS is still required (RFC 7672 §2.2).
	ErrNoUsableTLSA = errors.New("no usable TLSA record")
	// ErrNoMatch: no usable record matches the certificate chain the
	// server presented (or it presented none).
	ErrNoMatch = errors.New("no TLSA record matches the server's certificates")
	// ErrUntrusted: a DANE-TA record matched a certificate in the chain,
	// but the server certificate does not chain to it.
	ErrUntrusted = errors.New("server certificate does not chain to the DANE-TA trust anchor")
	// ErrHostMismatch: the chain leads to a DANE-TA trust anchor but the
	// server certificate names none of the reference identifiers (RFC
	// 7672 §3.2.2, §3.2.3).
	ErrHostMismatch = errors.New("server certificate does not name the MX host")
	// ErrExpired: a certificate on the path to a DANE-TA trust anchor is
	// expired or not yet valid.
	ErrExpired = errors.New("certificate expired or not yet valid")

	// ErrUnusable is wrapped by the per-record errors of ParseTLSA and
	// Usable: the record is ignored (RFC 7672 §2.2, §3.1.3).
	ErrUnusable = errors.New("unusable TLSA record")

	// ErrDNSSECInvalid is for the caller: the TLSA (or MX, or address)
	// lookup failed DNSSEC validation or could not be done, so the
	// message must wait (RFC 7672 §2.2: a failed lookup is not "no TLSA").
	ErrDNSSECInvalid = errors.New("TLSA lookup failed DNSSEC validation")
	// ErrDANERequired is for the caller: DANE was required for the
	// destination but its MX host has no authenticated TLSA records.
	ErrDANERequired = errors.New("DANE required but no authenticated TLSA records")
)

// Result types of a TLS report (RFC 8460 §4.3) that DANE failures map to.
const (
	ResultDANERequired      = "dane-required"             // §4.3.2
	ResultTLSAInvalid       = "tlsa-invalid"              // §4.3.2
	ResultDNSSECInvalid     = "dnssec-invalid"            // §4.3.2
	ResultHostMismatch      = "certificate-host-mismatch" // §4.3.1
	ResultCertExpired       = "certificate-expired"       // §4.3.1
	ResultValidationFailure = "validation-failure"        // §4.3.1, §4.3.3
)

// ResultType returns the RFC 8460 §4.3 failure type for err: "" for nil,
// the type of the first of this package's sentinels that err wraps, and
// "validation-failure" (the general failure, §4.3.3) for anything else.
// A chain that does not lead to the DANE-TA anchor and a chain that no
// record matches are both "validation-failure": the TLSA records, not a
// CA, are what the certificate failed.
func ResultType(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrDANERequired):
		return ResultDANERequired
	case errors.Is(err, ErrNoUsableTLSA):
		return ResultTLSAInvalid
	case errors.Is(err, ErrDNSSECInvalid):
		return ResultDNSSECInvalid
	case errors.Is(err, ErrHostMismatch):
		return ResultHostMismatch
	case errors.Is(err, ErrExpired):
		return ResultCertExpired
	default:
		return ResultValidationFailure
	}
}

// normalName lowers the case of a DNS name and drops its final dot, the
// form certificate names are compared in (RFC 6125 §6.4.1).
func normalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
