package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestDNSGeoIPMissing: `pail dns` with a dns.geoip_db that cannot be read
// stops before serving, with an error naming the key and the file.
func TestDNSGeoIPMissing(t *testing.T) {
	p := newPail(t)
	db := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	if err := os.WriteFile(p.config, []byte("[dns]\ngeoip_db = \""+db+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := p.run("", "dns", "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "dns.geoip_db") || !strings.Contains(err.Error(), db) {
		t.Errorf("error %v, want one naming dns.geoip_db and %s", err, db)
	}
}

// TestDNSDSAndRollover: `pail dns ds ZONE` prints the DS of the zone's
// key (made under data_dir/dnssec if missing) and prints the same one
// again; `pail dns rollover` adds a key whose DS `dns ds` then prints
// beside the retiring one's, and `--finish` leaves only the new one.
func TestDNSDSAndRollover(t *testing.T) {
	p := newPail(t)
	first := p.must("", "dns", "ds", "hill.test")
	ds, err := dns.NewRR(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("dns ds printed %q: %v", first, err)
	}
	d := ds.(*dns.DS)
	if d.Hdr.Name != "hill.test." || d.Algorithm != dns.ECDSAP256SHA256 || d.DigestType != dns.SHA256 || len(d.Digest) != 64 {
		t.Errorf("DS %v", d)
	}
	if again := p.must("", "dns", "ds", "hill.test."); again != first {
		t.Errorf("second dns ds %q, first %q", again, first)
	}
	out := p.must("", "dns", "rollover", "hill.test")
	if !strings.Contains(out, "--finish") {
		t.Errorf("rollover output %q", out)
	}
	during := p.must("", "dns", "ds", "hill.test")
	if !strings.Contains(during, strings.TrimSpace(first)) || strings.Count(during, "\tDS\t") != 2 || !strings.Contains(during, "retiring") {
		t.Errorf("during the roll-over: %q", during)
	}
	if _, err := p.run("", "dns", "rollover", "hill.test"); err == nil {
		t.Error("a second roll-over began while one is under way")
	}
	p.must("", "dns", "rollover", "--finish", "hill.test")
	after := p.must("", "dns", "ds", "hill.test")
	if strings.Contains(after, strings.TrimSpace(first)) || strings.Count(after, "\tDS\t") != 1 {
		t.Errorf("after the roll-over: %q", after)
	}
}
