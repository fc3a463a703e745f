package main

import (
	"flag"
	"fmt"

	"github.com/miekg/dns"

	"pail/internal/dnsd"
)

// openZoneKeys loads the config and opens the DNSSEC keys of its data
// directory (dns.dnssec_key_dir), as the directory's owner.
func (e *env) openZoneKeys() (*dnsd.KeyStore, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return nil, err
	}
	return dnsd.OpenKeyStore(cfg.DNS.KeyDir, nil)
}

// zoneArg checks a zone name given on the command line.
func zoneArg(s string) (string, error) {
	if _, ok := dns.IsDomainName(s); !ok || s == "" {
		return "", fmt.Errorf("%q is not a zone name", s)
	}
	return dns.CanonicalName(s), nil
}

// cmdDNSDS prints the DS record of ZONE's active key for the parent
// zone (RFC 4034 §5, SHA-256), making the zone's key first when it has
// none, as the server's first signed start would; during a roll-over
// also the DS of the retiring key, marked as such.
func cmdDNSDS(e *env, args []string) error {
	fs := flag.NewFlagSet("dns ds", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "dns ds ZONE"); err != nil {
		return err
	}
	zone, err := zoneArg(pos[0])
	if err != nil {
		return err
	}
	ks, err := e.openZoneKeys()
	if err != nil {
		return err
	}
	keys, err := ks.Ensure(zone)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.State == dnsd.KeyRetiring {
			fmt.Fprintf(e.stdout, "; retiring key %d: remove from the parent to finish the roll-over\n", k.Tag)
		}
		fmt.Fprintln(e.stdout, k.DS().String())
	}
	return nil
}

// cmdDNSRollover begins or finishes a roll-over of ZONE's key, by double
// signature (RFC 6781 §4.1.1.2, §4.1.2): begin makes a new key that the
// server (after SIGHUP or restart) publishes and signs with beside the
// old one; the parent's DS is then replaced by the new one; after the
// old DS's TTL has passed at the parent, --finish removes the old key.
func cmdDNSRollover(e *env, args []string) error {
	fs := flag.NewFlagSet("dns rollover", flag.ContinueOnError)
	finish := fs.Bool("finish", false, "end the roll-over under way: remove the retiring key")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "dns rollover [--finish] ZONE"); err != nil {
		return err
	}
	zone, err := zoneArg(pos[0])
	if err != nil {
		return err
	}
	ks, err := e.openZoneKeys()
	if err != nil {
		return err
	}
	if *finish {
		keys, err := ks.FinishRollover(zone)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "; %s: roll-over finished, key %d alone; reload pail (SIGHUP) to stop publishing the old key\n", zone, keys[0].Tag)
		return nil
	}
	keys, err := ks.Rollover(zone)
	if err != nil {
		return err
	}
	nk := keys[len(keys)-1]
	fmt.Fprintf(e.stdout, "; %s: new key %d; reload pail (SIGHUP): both keys are published and sign every answer.\n", zone, nk.Tag)
	fmt.Fprintf(e.stdout, "; Wait for the DNSKEY TTL (%ds), replace the DS at the parent with this one, wait for\n", nk.DNSKEY().Hdr.Ttl)
	fmt.Fprintf(e.stdout, "; the old DS's TTL, then run: pail dns rollover --finish %s\n", zone)
	fmt.Fprintln(e.stdout, nk.DS().String())
	return nil
}
