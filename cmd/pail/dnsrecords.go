package main

import (
	"flag"
	"fmt"

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
	// The keys are made on first use, as pail serve makes them.
	l, err := dnsrecords.List(cfg, pos[0], store.Ensure)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "; DNS records for %s (pail dns-records)\n", l.Domain)
	for _, n := range l.Notes {
		fmt.Fprintf(e.stdout, "; %s\n", n)
	}
	for _, rr := range l.Records {
		fmt.Fprintln(e.stdout, rr.String())
	}
	return nil
}
