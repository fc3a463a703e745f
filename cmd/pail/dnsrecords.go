package main

import (
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/miekg/dns"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
)

// httpsPort is where senders fetch MTA-STS policies (RFC 8461 §3.2: an
// https URL without a port), and where mail clients fetch
// autoconfiguration over https; httpPort where they fetch it over http.
const (
	httpsPort = "443"
	httpPort  = "80"
)

func cmdDNSRecords(e *env, args []string) error {
	fs := flag.NewFlagSet("dns-records", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "dns-records DOMAIN"); err != nil {
		return err
	}
	cfg, store, err := e.openDKIM()
	if err != nil {
		return err
	}
	d, err := localDomain(cfg, pos[0])
	if err != nil {
		return err
	}
	_, err = writeDNSRecords(e.stdout, cfg, store, d)
	return err
}

// writeDNSRecords writes the records local domain d publishes, as
// zone-file lines with comments on what is left out and why: what `pail
// dns-records` and `pail setup` print. The domain's DKIM keys are made
// when it signs and has none yet. It returns the records written.
func writeDNSRecords(w io.Writer, cfg *config.Config, store *dkim.Store, d string) ([]dns.RR, error) {
	var keys []dkim.Key
	var err error
	if cfg.DKIM.SignsFor(d) {
		if keys, err = store.Ensure(d); err != nil {
			return nil, err
		}
	}
	rrs, err := dnsrecords.Domain(cfg, d, keys)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "; DNS records for %s (pail dns-records)\n", d)
	if !cfg.DKIM.SignsFor(d) {
		fmt.Fprintf(w, "; DKIM: signing is off for %s, no key records\n", d)
	}
	if !dnsrecords.ServesMTASTS(cfg) {
		fmt.Fprintln(w, "; MTA-STS: listen.https is off, so no policy is served and no _mta-sts record is printed")
	} else if _, port, _ := net.SplitHostPort(cfg.Listen.HTTPS); port != httpsPort {
		fmt.Fprintf(w, "; MTA-STS: senders fetch the policy from https://mta-sts.%s/ on port 443; listen.https is port %s, so forward 443 to it\n", d, port)
	}
	if !dnsrecords.ServesAutoconfig(cfg) {
		fmt.Fprintln(e.stdout, "; Autoconfig: listen.http and listen.https are off, so no client autoconfiguration is served and no autoconfig record is printed")
	} else if _, hp, _ := net.SplitHostPort(cfg.Listen.HTTP); hp != httpPort {
		if _, sp, _ := net.SplitHostPort(cfg.Listen.HTTPS); sp != httpsPort {
			fmt.Fprintf(e.stdout, "; Autoconfig: mail clients fetch http://autoconfig.%s/ (port 80) and https://autoconfig.%s/ (port 443); forward one of them to listen.http or listen.https\n", d, d)
		}
	}
	for _, rr := range rrs {
		fmt.Fprintln(w, rr.String())
	}
	return rrs, nil
}
