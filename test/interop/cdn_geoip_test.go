//go:build interop

package interop

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// cityRecord is a GeoIP2 City-style record.
func cityRecord(country, continent string, lat, lon float64) mmdbtype.Map {
	return mmdbtype.Map{
		"country":   mmdbtype.Map{"iso_code": mmdbtype.String(country)},
		"continent": mmdbtype.Map{"code": mmdbtype.String(continent)},
		"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
	}
}

// writeCityDB writes an IPv6 MaxMind DB of nets to path, replacing the
// file by a rename as geoipupdate does.
func writeCityDB(t *testing.T, path string, nets map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestCDNGeoIP is the CDN pool located by a MaxMind-format database
// (dns.geoip_db) instead of dns.locations: dig and kdig clients from two
// networks of the database (ECS, IPv4 and IPv6) get the edge of their
// region or the nearest one, with the database's network as the scope;
// after the database is replaced and pail gets SIGHUP, a network that
// moved gets its new edge.
func TestCDNGeoIP(t *testing.T) {
	needPeer(t, "kdig")
	needPeer(t, "dig")
	dir := t.TempDir()
	db := filepath.Join(dir, "GeoLite2-City.mmdb")
	paris := cityRecord("FR", "EU", 48.86, 2.35)
	newYork := cityRecord("US", "NA", 40.71, -74.01)
	writeCityDB(t, db, map[string]mmdbtype.Map{
		"198.51.100.0/24":  paris,
		"203.0.112.0/22":   newYork,
		"2001:db8:aa::/48": cityRecord("SG", "AS", 1.35, 103.82), // no region edge: nearest
	})
	cfg := filepath.Join(dir, "dns.toml")
	text := fmt.Sprintf(`[dns]
geoip_db = %q

[[dns.zones]]
origin = "cdn.test"
records = ["@ NS ns1", "ns1 A 127.0.0.1"]

[[dns.pools]]
name = "www.cdn.test"
ttl = 10
edges = [
  { address = "192.0.2.1", location = "europe" },
  { address = "192.0.2.2", location = "us" },
  { address = "192.0.2.3", location = "35.68,139.69" },
]
`, db)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startPailDNS(t, "-c", cfg)

	// ask returns the edge given to a client in subnet and the scope of
	// the answer's CLIENT-SUBNET line.
	ask := func(tool, subnet string) (string, string) {
		t.Helper()
		out := digAt(t, tool, d.addr, "+subnet="+subnet, "www.cdn.test", "A")
		var got []string
		scope := ""
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 5 && f[0] == "www.cdn.test." && f[3] == "A" {
				got = append(got, f[4])
			}
			if i := strings.Index(line, "CLIENT-SUBNET: "+subnet+"/"); i >= 0 {
				scope = strings.TrimSpace(line[i+len("CLIENT-SUBNET: "+subnet+"/"):])
			}
		}
		if len(got) != 1 {
			t.Fatalf("%s +subnet=%s: answers %v\n%s", tool, subnet, got, out)
		}
		return got[0], scope
	}
	for _, tc := range []struct{ tool, subnet, edge, scope string }{
		{"kdig", "198.51.100.0/24", "192.0.2.1", "24"},
		{"dig", "203.0.113.0/24", "192.0.2.2", "22"},
		{"kdig", "2001:db8:aa:100::/56", "192.0.2.3", "48"},
		{"dig", "192.0.2.0/24", "", "24"}, // not in the database: its /24
	} {
		edge, scope := ask(tc.tool, tc.subnet)
		if tc.edge != "" && edge != tc.edge || scope != tc.scope {
			t.Errorf("%s +subnet=%s: %s scope %q, want %s scope %s", tc.tool, tc.subnet, edge, scope, tc.edge, tc.scope)
		}
	}

	// The Paris network moves to New York in a new database.
	writeCityDB(t, db, map[string]mmdbtype.Map{"198.51.100.0/24": newYork})
	d.hup()
	deadline := time.Now().Add(5 * time.Second)
	for {
		edge, _ := ask("dig", "198.51.100.0/24")
		if edge == "192.0.2.2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the new database and SIGHUP 198.51.100.0/24 still gets %s, want 192.0.2.2", edge)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
