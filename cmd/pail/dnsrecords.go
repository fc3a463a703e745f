package main

import (
	"flag"
	"fmt"

	"pail/internal/dkim"
	"pail/internal/dnsrecords"
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
	for _, rr := range rrs {
		fmt.Fprintln(e.stdout, rr.String())
	}
	fmt.Fprintln(e.stdout, dnsrecords.NotYet)
	return nil
}
