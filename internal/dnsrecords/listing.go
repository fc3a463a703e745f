package dnsrecords

import (
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"

	"pail/internal/config"
	"pail/internal/dkim"
)

// httpsPort is where senders fetch MTA-STS policies (RFC 8461 §3.2: an
// https URL without a port).
const httpsPort = "443"

// httpPort is where mail clients fetch autoconfiguration over plain http.
const httpPort = "80"

// Listing is what `pail dns-records DOMAIN` and the webmail's admin page
// show for a local domain: the records to publish, and notes on what is
// left out or needs care, and why.
type Listing struct {
	Domain  string
	Notes   []string
	Records []dns.RR
}

// List returns the listing of domain, which must be one of cfg's local
// domains. keys returns the domain's DKIM keys; it is called only when
// cfg signs for the domain.
func List(cfg *config.Config, domain string, keys func(domain string) ([]dkim.Key, error)) (Listing, error) {
	d, err := LocalDomain(cfg, domain)
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Domain: d}
	var ks []dkim.Key
	if cfg.DKIM.SignsFor(d) {
		if ks, err = keys(d); err != nil {
			return Listing{}, err
		}
	} else {
		l.Notes = append(l.Notes, fmt.Sprintf("DKIM: signing is off for %s, no key records", d))
	}
	if !ServesMTASTS(cfg) {
		l.Notes = append(l.Notes, "MTA-STS: listen.https is off, so no policy is served and no _mta-sts record is printed")
	} else if _, port, _ := net.SplitHostPort(cfg.Listen.HTTPS); port != httpsPort {
		l.Notes = append(l.Notes, fmt.Sprintf("MTA-STS: senders fetch the policy from https://mta-sts.%s/ on port 443; listen.https is port %s, so forward 443 to it", d, port))
	}
	if !ServesAutoconfig(cfg) {
		l.Notes = append(l.Notes, "Autoconfig: listen.http and listen.https are off, so no client autoconfiguration is served and no autoconfig record is printed")
	} else if _, hp, _ := net.SplitHostPort(cfg.Listen.HTTP); hp != httpPort {
		if _, sp, _ := net.SplitHostPort(cfg.Listen.HTTPS); sp != httpsPort {
			l.Notes = append(l.Notes, fmt.Sprintf("Autoconfig: mail clients fetch http://autoconfig.%s/ (port 80) and https://autoconfig.%s/ (port 443); forward one of them to listen.http or listen.https", d, d))
		}
	}
	if l.Records, err = Domain(cfg, d, ks); err != nil {
		return Listing{}, err
	}
	return l, nil
}

// LocalDomain returns domain normalised (lower case, no final dot) when
// it is one of cfg's local domains.
func LocalDomain(cfg *config.Config, domain string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, d := range cfg.Domains {
		if d == n {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s is not a local domain", domain)
}
