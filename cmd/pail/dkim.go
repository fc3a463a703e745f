package main

import (
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
)

// openDKIM loads the config and opens the DKIM keys of its data
// directory, as the directory's owner (becomeDataOwner).
func (e *env) openDKIM() (*config.Config, *dkim.Store, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return nil, nil, err
	}
	keys, _, err := dkim.OpenConfigured(e.ctx, cfg.DataDir, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	return cfg, keys, nil
}

func cmdDKIMList(e *env, args []string) error {
	fs := flag.NewFlagSet("dkim list", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 1, "dkim list [DOMAIN]"); err != nil {
		return err
	}
	cfg, keys, err := e.openDKIM()
	if err != nil {
		return err
	}
	domains := cfg.Domains
	if len(pos) == 1 {
		d, err := dnsrecords.LocalDomain(cfg, pos[0])
		if err != nil {
			return err
		}
		domains = []string{d}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tSELECTOR\tALGORITHM\tCREATED\tSTATE\tTXT")
	for _, d := range domains {
		ks, err := keys.Ensure(d)
		if err != nil {
			return err
		}
		for _, k := range ks {
			state := string(k.State)
			if !cfg.DKIM.SignsFor(d) {
				state += " (signing off)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d, k.Selector, k.Algorithm, k.Created.Format(time.RFC3339), state, k.TXT())
		}
	}
	return tw.Flush()
}

func cmdDKIMRotate(e *env, args []string) error {
	fs := flag.NewFlagSet("dkim rotate", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "dkim rotate DOMAIN"); err != nil {
		return err
	}
	cfg, keys, err := e.openDKIM()
	if err != nil {
		return err
	}
	d, err := dnsrecords.LocalDomain(cfg, pos[0])
	if err != nil {
		return err
	}
	ks, err := keys.Rotate(d)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k.State == dkim.Active {
			fmt.Fprintln(e.stdout, dnsrecords.DKIM(k).String())
		}
	}
	fmt.Fprintln(e.stdout, "publish these records; the previous selectors keep verifying until `pail dkim retire`")
	fmt.Fprintln(e.stdout, "(pail serve's own name server answers them after a reload, SIGHUP, where it serves the domain's zone)")
	return nil
}

func cmdDKIMRetire(e *env, args []string) error {
	fs := flag.NewFlagSet("dkim retire", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 2, "dkim retire DOMAIN SELECTOR"); err != nil {
		return err
	}
	cfg, keys, err := e.openDKIM()
	if err != nil {
		return err
	}
	d, err := dnsrecords.LocalDomain(cfg, pos[0])
	if err != nil {
		return err
	}
	return keys.Retire(d, pos[1])
}
