package config

import (
	"strings"
	"testing"
)

// TestDNSSection reads a full [dns] section.
func TestDNSSection(t *testing.T) {
	cfg, err := load(t, `
[dns]
listen = "127.0.0.1:5353"
zone_files = ["/etc/pail/hill.test.zone"]
geoip_db = "/var/lib/GeoIP/GeoLite2-City.mmdb"

[[dns.zones]]
origin = "cdn.test"
records = ["@ NS ns1", "ns1 A 192.0.2.53"]

[[dns.pools]]
name = "www.cdn.test"
ttl = 20
edges = [
  { address = "192.0.2.1", location = "eu", weight = 2, health = "http://192.0.2.1/health" },
  { address = "192.0.2.2", location = "40.71,-74.0" },
]

[dns.locations]
"10.1.0.0/16" = "eu"
"2001:db8::/32" = "52.37,4.89"

[dns.rate_limit]
responses_per_second = 0
`)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DNS
	if d.Listen != "127.0.0.1:5353" || len(d.ZoneFiles) != 1 || len(d.Zones) != 1 || len(d.Pools) != 1 ||
		len(d.Pools[0].Edges) != 2 || d.Pools[0].Edges[0].Weight != 2 || len(d.Locations) != 2 {
		t.Errorf("dns: %+v", d)
	}
	if d.GeoIPDB != "/var/lib/GeoIP/GeoLite2-City.mmdb" {
		t.Errorf("geoip_db: %q", d.GeoIPDB)
	}
	if d.RateLimit.ResponsesPerSecond != 0 || d.RateLimit.Slip != DefaultDNSSlip || d.HealthInterval.Duration != DefaultHealthInterval {
		t.Errorf("rate limit and defaults: %+v", d)
	}
}

// TestDNSErrorsNameTheKey: each bad value is reported with its key.
func TestDNSErrorsNameTheKey(t *testing.T) {
	pool := "[[dns.pools]]\nname = \"www.cdn.test\"\n"
	for text, key := range map[string]string{
		"[dns]\nlisten = \"nope\"":              "dns.listen",
		"[[dns.zones]]\norigin = \"bad..name\"": "dns.zones[0].origin",
		pool:                                    "dns.pools[0].edges",
		pool + "edges = [{ address = \"1.2.3\" }]":                           "dns.pools[0].edges[0].address",
		pool + "edges = [{ address = \"192.0.2.1\", location = \"9,x\" }]":   "dns.pools[0].edges[0].location",
		pool + "edges = [{ address = \"192.0.2.1\", health = \"ftp://x\" }]": "dns.pools[0].edges[0].health",
		pool + "ttl = -1\nedges = [{ address = \"192.0.2.1\" }]":             "dns.pools[0].ttl",
		"[dns.locations]\n\"10.0.0.0\" = \"eu\"":                             "dns.locations",
		"[dns.locations]\n\"10.0.0.0/8\" = \"e u\"":                          "dns.locations",
		"[dns.rate_limit]\nslip = 11":                                        "dns.rate_limit.slip",
		"[dns]\nhealth_interval = \"1ms\"":                                   "dns.health_interval",
		"[dns]\ngeoip_db = \" /x.mmdb\"":                                     "dns.geoip_db",
	} {
		_, err := load(t, text)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %v, want one naming %s", text, err, key)
		}
	}
}

// TestDNSTLSA: dns.tlsa is on unless set to false, and an explicit true
// is refused where pail would not publish the record (no DNSSEC, ACME).
func TestDNSTLSA(t *testing.T) {
	for _, tc := range []struct {
		text, err string
		on        bool
	}{
		{"[dns]\nlisten = \"127.0.0.1:5353\"\n", "", true},
		{"[dns]\ndnssec = true\ntlsa = true\n", "", true},
		{"[dns]\ntlsa = false\n", "", false},
		{"[dns]\ntlsa = true\n", "dns.tlsa: true needs dns.dnssec = true", false},
		{"[dns]\ndnssec = true\ntlsa = true\n[acme]\nenabled = true\nemail = \"a@hill.test\"\n", "dns.tlsa: true is refused with [acme] enabled", false},
		{"[dns]\ntlsa = \"yes\"\n", "tlsa", false},
	} {
		cfg, err := load(t, tc.text)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if cfg.DNS.PublishesTLSA() != tc.on {
			t.Errorf("%q: PublishesTLSA = %v", tc.text, !tc.on)
		}
	}
}
