package dnsrecords

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"

	"pail/internal/acme"
	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsd"
	"pail/internal/tlsconf"
)

// smtpPort is the only port pail publishes a TLSA record for: DANE for
// SMTP between servers (RFC 7672) is the one deployed; mail clients on
// the submission and mailbox ports do not look TLSA records up.
const smtpPort = 25

// The TLSA parameters pail publishes: DANE-EE(3) SPKI(1) SHA2-256(1),
// the end-entity key itself. RFC 7672 §3.1.1 recommends it for SMTP
// (the certificate's names and dates are not checked, so a self-signed
// certificate is as good as any), and RFC 7671 §5.1 prefers the
// SubjectPublicKeyInfo selector, which survives a re-issued certificate
// with the same key.
const (
	tlsaUsageDANEEE    = 3
	tlsaSelectorSPKI   = 1
	tlsaMatchingSHA256 = 1
)

// TLSA is the DANE-EE record of the SMTP service of host for cert:
// _25._tcp.HOST. TLSA 3 1 1 <SHA-256 of the SubjectPublicKeyInfo>
// (RFC 6698 §2.1, §3: the owner name of port 25 over TCP).
func TLSA(host string, cert *x509.Certificate) *dns.TLSA {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	name := fmt.Sprintf("_%d._tcp.%s", smtpPort, dns.Fqdn(strings.ToLower(host)))
	return &dns.TLSA{Hdr: hdr(name, dns.TypeTLSA), Usage: tlsaUsageDANEEE,
		Selector: tlsaSelectorSPKI, MatchingType: tlsaMatchingSHA256,
		Certificate: hex.EncodeToString(sum[:])}
}

// DANE is what pail does about the TLSA record of its SMTP service.
type DANE struct {
	// Record is the record matching the certificate presented on port
	// 25; nil when there is none to show (dns.tlsa = false, or no
	// certificate yet).
	Record *dns.TLSA
	// Publish is set when pail's name server serves Record, in a signed
	// zone.
	Publish bool
	// Note says why Record is not published, or what to keep in mind;
	// empty when there is nothing to say.
	Note string
	// Warn marks a Note that must not be missed: publishing Record by
	// hand would make DANE senders refuse mail after a renewal.
	Warn bool
}

// HostDANE decides on the TLSA record of cfg's host name for cert, the
// certificate the SMTP service presents (nil: none yet), with zones the
// origins of the zones pail's name server serves. The record is
// published only when all of these hold, because a TLSA record that
// does not match makes DANE senders refuse the mail (RFC 7672 §3):
// dns.tlsa is not false; the host name lies in a zone pail serves and
// that zone is signed (dns.dnssec: without DNSSEC a TLSA record is
// ignored, RFC 7672 §2.2); and the certificate's key changes only when
// the operator changes it, that is it comes from the [tls] files or is
// pail's self-signed one. With [acme] it is not: autocert's own renewal
// timer (golang.org/x/crypto/acme/autocert, renewal.go,
// domainRenewal.do) reuses the key, but every certificate autocert
// makes without state (autocert.go, Manager.certState, the first one
// and each one after a restart without the cache) gets a new key, and
// so does each renewal pail forces (internal/acme, Manager.round makes
// a new autocert generation), so the record would go stale.
func HostDANE(cfg *config.Config, zones []string, cert *x509.Certificate) DANE {
	host := dns.Fqdn(strings.ToLower(cfg.Hostname))
	if !cfg.DNS.PublishesTLSA() {
		return DANE{Note: "DANE: dns.tlsa = false, so no TLSA record is published"}
	}
	if cert == nil {
		return DANE{Note: "DANE: no certificate yet (pail serve makes its self-signed one at the first start), so no TLSA record"}
	}
	d := DANE{Record: TLSA(host, cert)}
	switch {
	case cfg.ACME.Enabled:
		d.Warn = true
		d.Note = "DANE: WARNING: not published: with [acme] a renewal may change the certificate's key, and a TLSA record that no longer matches makes DANE senders refuse mail (RFC 7672 §3). Publish it by hand only if you update it before each key change; it matches the certificate in use now:"
	case cfg.DNS.Listen == "" || !inZones(host, zones):
		d.Note = fmt.Sprintf("DANE: pail's name server serves no zone holding %s; publish this record only in a DNSSEC-signed zone, and publish a new one an hour (its TTL) before the certificate's key changes:", strings.TrimSuffix(host, "."))
	case !cfg.DNS.DNSSEC:
		d.Note = "DANE: dns.dnssec is off, so no TLSA record is published (RFC 7672 §2.2: without DNSSEC it is ignored); with dns.dnssec = true pail publishes:"
	default:
		d.Publish = true
		if cfg.TLS.Cert != "" {
			d.Note = "DANE: the TLSA record follows the key of [tls] cert at each reload; keep the key when renewing (e.g. certbot --reuse-key), or DANE senders that hold the old record refuse mail for up to an hour"
		}
	}
	return d
}

// inZones reports whether name lies in one of zones.
func inZones(name string, zones []string) bool {
	for _, z := range zones {
		if dns.IsSubDomain(dns.CanonicalName(z), dns.CanonicalName(name)) {
			return true
		}
	}
	return false
}

// ServedZones returns the origins of the zones the name server of cfg
// serves: the inline zones and each zone file's (read again; a file that
// cannot be read is left out, and the name server reports it).
func ServedZones(cfg config.DNS) []string {
	var out []string
	for _, z := range cfg.Zones {
		out = append(out, dns.CanonicalName(z.Origin))
	}
	for _, f := range cfg.ZoneFiles {
		if z, err := dnsd.LoadZoneFile(f); err == nil {
			out = append(out, z.Origin)
		}
	}
	return out
}

// AddDANE adds d to the listing: the record among those to publish when
// pail's name server serves it, else as a comment after the note saying
// why, so that it is not copied into a zone by mistake.
func (l *Listing) AddDANE(d DANE) {
	if d.Note != "" {
		l.Notes = append(l.Notes, d.Note)
	}
	if d.Record == nil {
		return
	}
	if d.Publish {
		l.Records = append(l.Records, d.Record)
		return
	}
	l.Notes = append(l.Notes, d.Record.String())
}

// CertOnDisk returns the certificate port 25 presents, as it is on disk,
// for listings made outside the server (pail dns-records, the admin
// page): the operator's [tls] file; with [acme], the host name's
// certificate in the ACME cache once there is one; else the self-signed
// one. It is nil, with no error, when none has been made yet (nothing is
// made here).
func CertOnDisk(cfg *config.Config) (*x509.Certificate, error) {
	certFile := cfg.TLS.Cert
	if cfg.ACME.Enabled {
		if f := acme.CachedCertFile(filepath.Join(cfg.DataDir, "acme"), cfg.Hostname); exists(f) {
			certFile = f
		}
	}
	return tlsconf.ReadLeaf(certFile, cfg.DataDir)
}

// exists reports whether name can be looked up (a file that exists but
// cannot be read is reported by the read).
func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// ListWithDANE is List with the host name's TLSA record added as the
// server decides on it (HostDANE, for CertOnDisk): among the records when
// pail's name server publishes it, else as a comment after the reason.
func ListWithDANE(cfg *config.Config, domain string, keys func(domain string) ([]dkim.Key, error)) (Listing, error) {
	l, err := List(cfg, domain, keys)
	if err != nil {
		return l, err
	}
	cert, err := CertOnDisk(cfg)
	if err != nil {
		return l, err
	}
	l.AddDANE(HostDANE(cfg, ServedZones(cfg.DNS), cert))
	return l, nil
}
