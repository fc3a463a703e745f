package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/miekg/dns"

	"pail/internal/config"
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
	_, err = writeDNSRecords(e.stdout, cfg, store, pos[0])
	return err
}

// writeDNSRecords writes the records local domain d publishes, as
// zone-file lines with comments on what is left out and why: what `pail
// dns-records` and `pail setup` print, the listing the admin page shows
// (dnsrecords.ListWithDANE: with the host name's TLSA record, a comment
// with the reason when pail does not publish it). The domain's DKIM keys are made on first use, as pail
// serve makes them. It returns the records written.
func writeDNSRecords(w io.Writer, cfg *config.Config, store *dkim.Store, d string) ([]dns.RR, error) {
	l, err := dnsrecords.ListWithDANE(cfg, d, store.Ensure)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "; DNS records for %s (pail dns-records)\n", l.Domain)
	for _, n := range l.Notes {
		fmt.Fprintf(w, "; %s\n", n)
	}
	for _, rr := range l.Records {
		fmt.Fprintln(w, rr.String())
	}
	return l.Records, nil
}
