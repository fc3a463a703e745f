package main

import (
	"flag"
	"fmt"
	"net"

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
	var keys []dkim.Key
	if cfg.DKIM.SignsFor(d) {
		if keys, err = store.Ensure(d); err != nil {
			return err
		}
	}
	rrs, err := dnsrecords.Domain(cfg, d, keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "; DNS records for %s (pail dns-records)\n", d)
	if !cfg.DKIM.SignsFor(d) {
		fmt.Fprintf(e.stdout, "; DKIM: signing is off for %s, no key records\n", d)
	}
	if !dnsrecords.ServesMTASTS(cfg) {
		fmt.Fprintln(e.stdout, "; MTA-STS: listen.https is off, so no policy is served and no _mta-sts record is printed")
	} else if _, port, _ := net.SplitHostPort(cfg.Listen.HTTPS); port != httpsPort {
		fmt.Fprintf(e.stdout, "; MTA-STS: senders fetch the policy from https://mta-sts.%s/ on port 443; listen.https is port %s, so forward 443 to it\n", d, port)
	}
	if !dnsrecords.ServesAutoconfig(cfg) {
		fmt.Fprintln(e.stdout, "; Autoconfig: listen.http and listen.https are off, so no client autoconfiguration is served and no autoconfig record is printed")
	} else if _, hp, _ := net.SplitHostPort(cfg.Listen.HTTP); hp != httpPort {
		if _, sp, _ := net.SplitHostPort(cfg.Listen.HTTPS); sp != httpsPort {
			fmt.Fprintf(e.stdout, "; Autoconfig: mail clients fetch http://autoconfig.%s/ (port 80) and https://autoconfig.%s/ (port 443); forward one of them to listen.http or listen.https\n", d, d)
		}
	}
	for _, rr := range rrs {
		fmt.Fprintln(e.stdout, rr.String())
	}
	return nil
}
