package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
