package dane

import (
	"crypto/tls"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// ClientConfig returns the crypto/tls client configuration for an SMTP
// session authenticated by DANE with the server mxHost, whose TLSA RRset
// (authenticated by DNSSEC) is tlsa. names are the reference identifiers
// for DANE-TA (see Verify); nil means mxHost alone.
//
// The configuration sends mxHost as SNI (RFC 7672 §8.1), offers TLS 1.2
// and later only, and replaces crypto/tls's Web PKI check with Verify in
// VerifyConnection, against the clock at the handshake: a handshake whose
// chain the records do not authenticate fails with Verify's error (the
// caller defers the message, RFC 7672 §2.2). The caller checks first
// that tlsa has a usable record (Usable): with none, DANE does not apply.
func ClientConfig(tlsa []*dns.TLSA, mxHost string, names []string) *tls.Config {
	host := normalName(mxHost)
	if len(names) == 0 {
		names = []string{host}
	}
	tlsa = slices.Clone(tlsa)
	names = slices.Clone(names)
	return &tls.Config{
		ServerName: host,
		MinVersion: tls.VersionTLS12,
		// The chain is checked against the TLSA records instead of the
		// system's roots, in VerifyConnection, which crypto/tls calls
		// on every handshake, resumed ones included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return Verify(tlsa, cs.PeerCertificates, names, time.Now())
		},
	}
}
