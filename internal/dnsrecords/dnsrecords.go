// Package dnsrecords makes the DNS records a local domain publishes for
// pail (`pail dns-records DOMAIN`): MX, SPF, a DKIM key record per
// selector, DMARC, MTA-STS and TLS-RPT, the SRV records by which mail
// clients find the submission and mailbox services, and the names they
// fetch autoconfiguration from (autoconfig., _autodiscover); and the MTA-STS
// policy pail serves, whose id the _mta-sts record carries. They are
// miekg/dns resource records, so that what is printed is the zone-file
// presentation form a name server reads, and pail's own name server
// answers the same records.
package dnsrecords

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/mtasts"
)

// TTL is the time to live of every record: an hour, short enough that a
// key rotation or a moved service is seen the same day.
const TTL = 3600

// mxPreference is the MX record's preference; with a single MX host its
// value does not matter, 10 leaves room for a backup on either side.
const mxPreference = 10

// maxTXTString is the longest character-string of a TXT record
// (RFC 1035 §3.3: one length octet); longer values are split into
// several strings, which verifiers join (RFC 6376 §3.6.2.2, RFC 7208
// §3.3).
const maxTXTString = 255

// SRV priorities (RFC 2782): a client takes the lowest first. RFC 8314
// §5.1 asks MUAs to prefer implicit TLS, and the priorities of the
// _submission/_submissions (and _imap/_imaps/_pop3/_pop3s) records are
// compared with each other (RFC 6186 §3.4, RFC 8314 §5.1), so the
// STARTTLS services come after.
const (
	implicitTLSPriority = 0
	startTLSPriority    = 10
	srvWeight           = 1 // one target per service: any weight
)

// Domain returns the records domain needs, with the DKIM records of keys
// (its active and retiring selectors: each may have signed mail still
// being verified). domain must be one of cfg's local domains.
func Domain(cfg *config.Config, domain string, keys []dkim.Key) ([]dns.RR, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !cfg.IsLocalDomain(domain) {
		return nil, fmt.Errorf("dnsrecords: %s is not a local domain (domains in the config: %s)", domain, strings.Join(cfg.Domains, ", "))
	}
	origin := dns.Fqdn(domain)
	host := dns.Fqdn(strings.ToLower(cfg.Hostname))
	rrs := []dns.RR{
		// RFC 5321 §5.1: the MX host is the configured host name.
		&dns.MX{Hdr: hdr(origin, dns.TypeMX), Preference: mxPreference, Mx: host},
		// RFC 7208 §5.4: "mx" authorises the MX host's addresses;
		// with outbound.source, pail sends from that address, which
		// ip4/ip6 names (§5.6); -all fails every other.
		txt(origin, spf(cfg)),
	}
	for _, k := range keys {
		rrs = append(rrs, DKIM(k))
	}
	// RFC 7489 §6.3: p=reject asks receivers to refuse mail that passes
	// neither aligned SPF nor aligned DKIM; aggregate reports go to
	// postmaster@, which pail routes for every local domain (RFC 5321
	// §4.5.1), so §7.1's external-destination check does not apply.
	rrs = append(rrs, txt("_dmarc."+origin, "v=DMARC1; p=reject; rua=mailto:postmaster@"+domain))
	if ServesMTASTS(cfg) {
		// RFC 8461 §3.1: the record announcing the policy, with the id of
		// the policy pail serves; §3.2: the policy host, which is pail.
		rrs = append(rrs,
			txt("_mta-sts."+origin, MTASTSPolicy(cfg).TXT()),
			&dns.CNAME{Hdr: hdr("mta-sts."+origin, dns.TypeCNAME), Target: host})
	}
	// RFC 8460 §3: TLS reports go to postmaster@, like DMARC's.
	rrs = append(rrs, txt("_smtp._tls."+origin, "v=TLSRPTv1; rua=mailto:postmaster@"+domain))
	rrs = append(rrs, srvRecords(cfg.Listen, origin, host)...)
	rrs = append(rrs, autoconfigRecords(cfg.Listen, origin, host)...)
	return rrs, nil
}

// ServesAutoconfig reports whether pail serves client autoconfiguration
// (package autoconfig): on the web listeners, http or https.
func ServesAutoconfig(cfg *config.Config) bool {
	return cfg.Listen.HTTP != "" || cfg.Listen.HTTPS != ""
}

// autoconfigRecords returns the names by which mail clients find pail's
// autoconfiguration documents, when a web listener serves them:
// autoconfig.DOMAIN, which Thunderbird asks for config-v1.1.xml, is the
// host (a CNAME, like mta-sts.DOMAIN; [acme] puts it in the
// certificate); and, with https, _autodiscover._tcp.DOMAIN, the SRV
// record Outlook looks up to find where to POST its autodiscover request
// after https://DOMAIN/ and https://autodiscover.DOMAIN/ ([MS-OXDSCLI]):
// the host name, which the certificate names, so autodiscover.DOMAIN
// needs neither a record nor a place in the certificate.
func autoconfigRecords(l config.Listen, origin, host string) []dns.RR {
	if l.HTTP == "" && l.HTTPS == "" {
		return nil
	}
	rrs := []dns.RR{&dns.CNAME{Hdr: hdr("autoconfig."+origin, dns.TypeCNAME), Target: host}}
	if port := config.ListenPort(l.HTTPS); port != 0 {
		rrs = append(rrs, &dns.SRV{Hdr: hdr("_autodiscover._tcp."+origin, dns.TypeSRV),
			Priority: implicitTLSPriority, Weight: srvWeight, Port: port, Target: host})
	}
	return rrs
}

// ServesMTASTS reports whether pail serves the MTA-STS policy: only
// over HTTPS (RFC 8461 §3.3), so only when listen.https is set. Without
// it no _mta-sts record is made: senders would look for a policy that is
// not there.
func ServesMTASTS(cfg *config.Config) bool { return cfg.Listen.HTTPS != "" }

// MTASTSPolicy is the MTA-STS policy pail serves for every local domain
// (RFC 8461 §3.2): the configured mode and max_age, and as its only mx
// the host name the MX records name.
func MTASTSPolicy(cfg *config.Config) *mtasts.Policy {
	mode, _ := mtasts.ParseMode(cfg.MTASTSMode())
	return &mtasts.Policy{
		Mode:   mode,
		MX:     []string{strings.ToLower(strings.TrimSuffix(cfg.Hostname, "."))},
		MaxAge: time.Duration(cfg.MTASTS.MaxAge) * time.Second,
	}
}

// DKIM returns the TXT record of a DKIM key at SELECTOR._domainkey.DOMAIN.
// (RFC 6376 §3.6.2.1), its value split into strings of at most 255 bytes.
func DKIM(k dkim.Key) dns.RR { return txt(k.Name(), k.TXT()) }

// srvRecords returns the RFC 6186 / RFC 8314 §5.1 SRV records of the
// submission and mailbox services. A service that listens gets its port
// and the host name; one that does not gets the target "." (RFC 6186
// §4, RFC 2782), which tells a client it is decidedly not offered, so it
// does not go guessing ports.
func srvRecords(l config.Listen, origin, host string) []dns.RR {
	services := []struct {
		name     string // the RFC 6186/8314 service label
		addr     string // the listen address, "" when off
		priority uint16
	}{
		{"_submissions", l.Submissions, implicitTLSPriority},
		{"_submission", l.Submission, startTLSPriority},
		{"_imaps", l.IMAPS, implicitTLSPriority},
		{"_imap", l.IMAP, startTLSPriority},
		{"_pop3s", l.POP3S, implicitTLSPriority},
		{"_pop3", l.POP3, startTLSPriority},
	}
	var rrs []dns.RR
	for _, s := range services {
		srv := &dns.SRV{Hdr: hdr(s.name+"._tcp."+origin, dns.TypeSRV), Target: "."}
		if port := config.ListenPort(s.addr); port != 0 {
			srv.Priority, srv.Weight, srv.Port, srv.Target = s.priority, srvWeight, port, host
		}
		rrs = append(rrs, srv)
	}
	return rrs
}

// hdr is the header of a record of type t at name.
func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

// txt is a TXT record at name with value split into strings of at most
// maxTXTString bytes.
func txt(name, value string) *dns.TXT {
	var parts []string
	for len(value) > maxTXTString {
		parts = append(parts, value[:maxTXTString])
		value = value[maxTXTString:]
	}
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: append(parts, value)}
}

// spf returns the SPF record of a local domain (RFC 7208 §4.5): the MX
// hosts, and the outbound source address when one is configured.
func spf(cfg *config.Config) string {
	rec := "v=spf1 mx"
	if src := cfg.Outbound.Source; src != "" {
		if a, err := netip.ParseAddr(src); err == nil && a.Is4() {
			rec += " ip4:" + a.String()
		} else if err == nil {
			rec += " ip6:" + a.String()
		}
	}
	return rec + " -all"
}
