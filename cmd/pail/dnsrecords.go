package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/miekg/dns"

	"pail/internal/acme"
	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
	"pail/internal/tlsconf"
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
// dns-records` and `pail setup` print (the listing the admin page shows,
// dnsrecords.List), and the host name's TLSA record (dnsrecords.HostDANE:
// a comment with the reason when pail does not publish it). The domain's DKIM keys are made on first use, as pail
// serve makes them. It returns the records written.
func writeDNSRecords(w io.Writer, cfg *config.Config, store *dkim.Store, d string) ([]dns.RR, error) {
	l, err := dnsrecords.List(cfg, d, store.Ensure)
	if err != nil {
		return nil, err
	}
	// The TLSA record of the host name's SMTP service, as pail serve
	// decides on it, for the certificate on disk that port 25 presents
	// (none is made here): with [acme], the host name's certificate in
	// the ACME cache once there is one.
	certFile := cfg.TLS.Cert
	if cfg.ACME.Enabled {
		if f := acme.CachedCertFile(filepath.Join(cfg.DataDir, "acme"), cfg.Hostname); fileExists(f) {
			certFile = f
		}
	}
	cert, err := tlsconf.ReadLeaf(certFile, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	l.AddDANE(dnsrecords.HostDANE(cfg, dnsrecords.ServedZones(cfg.DNS), cert))
	fmt.Fprintf(w, "; DNS records for %s (pail dns-records)\n", l.Domain)
	for _, n := range l.Notes {
		fmt.Fprintf(w, "; %s\n", n)
	}
	for _, rr := range l.Records {
		fmt.Fprintln(w, rr.String())
	}
	return l.Records, nil
}

// fileExists reports whether name can be looked up (a file that exists
// but cannot be read is reported by the read).
func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
