package dnsd

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"

	"pail/internal/config"
)

// geoRec is a GeoIP2 City-style record: country and continent codes,
// subdivision codes from the largest to the smallest, and "lat,lon" when
// coord has two numbers.
func geoRec(country, continent string, subs []string, coord ...float64) mmdbtype.Map {
	m := mmdbtype.Map{}
	if country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(country)}
	}
	if continent != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(continent)}
	}
	if len(subs) > 0 {
		var s mmdbtype.Slice
		for _, c := range subs {
			s = append(s, mmdbtype.Map{"iso_code": mmdbtype.String(c)})
		}
		m["subdivisions"] = s
	}
	if len(coord) == 2 {
		m["location"] = mmdbtype.Map{
			"latitude":        mmdbtype.Float64(coord[0]),
			"longitude":       mmdbtype.Float64(coord[1]),
			"accuracy_radius": mmdbtype.Uint16(100),
		}
	}
	return m
}

// frankfurt is the record of a network in Frankfurt, Hesse.
func frankfurt() mmdbtype.Map { return geoRec("DE", "EU", []string{"HE"}, 50.11, 8.68) }

// losAngeles is the record of a network in Los Angeles, California.
func losAngeles() mmdbtype.Map { return geoRec("US", "NA", []string{"CA"}, 34.05, -118.24) }

// writeMMDB writes a MaxMind DB of IP version ipVersion (4 or 6) with the
// given network → record entries to path, through a temporary file and a
// rename as database updaters do.
func writeMMDB(t *testing.T, path string, ipVersion int, nets map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoLite2-City",
		IPVersion:               ipVersion,
		RecordSize:              24,
		IncludeReservedNetworks: true, // the test networks are documentation and loopback ones
	})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// geoConfig is a pool with region and coordinate edges, located by the
// database at db and by one table prefix inside a database network.
func geoConfig(db string) config.DNS {
	cfg := cdnConfig(
		config.DNSEdge{Address: "192.0.2.1", Location: "eu"},
		config.DNSEdge{Address: "192.0.2.2", Location: "us"},
		config.DNSEdge{Address: "192.0.2.3", Location: "35.68,139.69"}, // Tokyo
		config.DNSEdge{Address: "2001:db8::1", Location: "eu"},
		config.DNSEdge{Address: "2001:db8::2", Location: "us"},
	)
	cfg.Locations = map[string]string{"198.51.100.128/25": "us"}
	cfg.GeoIPDB = db
	return cfg
}

// testNets are the database's networks in the pool tests.
func testNets() map[string]mmdbtype.Map {
	return map[string]mmdbtype.Map{
		"198.51.100.0/24": frankfurt(),
		"203.0.112.0/22":  losAngeles(),
		"2001:db8:1::/48": geoRec("JP", "AS", nil, 35.69, 139.75), // no edge region; nearest is Tokyo
		"2001:db8:2::/48": {"traits": mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)}},
		"100.64.0.0/10":   {"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("US")}},
		"127.0.1.0/24":    frankfurt(),
		"127.0.2.0/24":    losAngeles(),
	}
}

// TestPoolByGeoIP: clients in networks of the database (ECS, IPv4 and
// IPv6) get the edge of their region, or the nearest by coordinates, with
// the database's network as the ECS scope; a prefix of dns.locations wins
// over the database; addresses the database does not place fall back to
// their /24 or /56.
func TestPoolByGeoIP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, db, 6, testNets())
	_, addr := startServer(t, geoConfig(db))
	for _, tc := range []struct {
		ecs   string
		qtype uint16
		want  string // "" for any one edge
		scope uint8
	}{
		{"198.51.100.0/24", dns.TypeA, "192.0.2.1", 24}, // DE, EU: region eu
		{"198.51.100.0/24", dns.TypeAAAA, "2001:db8::1", 24},
		{"203.0.113.0/24", dns.TypeA, "192.0.2.2", 22}, // US: region us, the /22 as scope
		{"203.0.113.0/24", dns.TypeAAAA, "2001:db8::2", 22},
		{"198.51.100.128/25", dns.TypeA, "192.0.2.2", 25},   // the table first
		{"100.64.9.0/24", dns.TypeA, "192.0.2.2", 10},       // registered country only
		{"2001:db8:1:500::/56", dns.TypeA, "192.0.2.3", 48}, // JP: coordinates, Tokyo
		{"192.0.2.0/24", dns.TypeA, "", 24},                 // not in the database
		{"2001:db8:2:100::/56", dns.TypeA, "", 56},          // in it, with no location
	} {
		r := query(t, addr, "udp", "www.cdn.test", tc.qtype, withECS(tc.ecs))
		got := addrs(r)
		if len(got) != 1 || tc.want != "" && got[0] != tc.want {
			t.Errorf("ECS %s %s: %v, want %q", tc.ecs, dns.TypeToString[tc.qtype], got, tc.want)
		}
		if e := replyECS(r); e == nil || e.SourceScope != tc.scope {
			t.Errorf("ECS %s: answer's option %v, want scope %d", tc.ecs, e, tc.scope)
		}
	}
}

// TestPoolByGeoIPSource: without ECS the source address is located in the
// database: two loopback sources in different places get different edges.
func TestPoolByGeoIPSource(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs all of 127.0.0.0/8 on loopback (Linux)")
	}
	db := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, db, 6, testNets())
	_, addr := startServer(t, geoConfig(db))
	for src, want := range map[string]string{"127.0.1.1": "192.0.2.1", "127.0.2.1": "192.0.2.2"} {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second,
			Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}}}
		m := new(dns.Msg)
		m.SetQuestion("www.cdn.test.", dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("from %s: %v", src, err)
		}
		if got := addrs(r); !slices.Equal(got, []string{want}) {
			t.Errorf("from %s: %v, want %s", src, got, want)
		}
		if replyECS(r) != nil {
			t.Errorf("from %s: ECS in the answer to a query without it", src)
		}
	}
}

// TestGeoIPReload: a reload reads the database again; a database that
// cannot be read is logged and the one before is kept, while the zones
// are still reloaded.
func TestGeoIPReload(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, db, 6, map[string]mmdbtype.Map{"198.51.100.0/24": frankfurt()})
	logs := &lockedBuffer{}
	cfg := geoConfig(db)
	s, addr := startServer(t, cfg, func(s *Server) { s.log = slog.New(slog.NewTextHandler(logs, nil)) })
	edge := func() string {
		t.Helper()
		got := addrs(query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS("198.51.100.0/24")))
		if len(got) != 1 {
			t.Fatalf("answers %v", got)
		}
		return got[0]
	}
	if got := edge(); got != "192.0.2.1" {
		t.Fatalf("before reload: %s, want the eu edge", got)
	}

	// The network moves to Los Angeles.
	writeMMDB(t, db, 6, map[string]mmdbtype.Map{"198.51.100.0/24": losAngeles()})
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := edge(); got != "192.0.2.2" {
		t.Fatalf("after reload: %s, want the us edge", got)
	}

	// A broken download: logged, the last database stays, the zones
	// still reload.
	if err := os.WriteFile(db, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Zones[0].Records = append(cfg.Zones[0].Records, "new A 192.0.2.201")
	if err := s.Reload(cfg); err != nil {
		t.Fatalf("reload with a broken database: %v", err)
	}
	if got := edge(); got != "192.0.2.2" {
		t.Errorf("after a broken database: %s, want the us edge of the database kept", got)
	}
	if got := addrs(query(t, addr, "udp", "new.cdn.test", dns.TypeA)); !slices.Equal(got, []string{"192.0.2.201"}) {
		t.Errorf("zone not reloaded along with a broken database: %v", got)
	}
	if l := logs.String(); !strings.Contains(l, "dns.geoip_db") || !strings.Contains(l, "keeping the database loaded before") {
		t.Errorf("log does not report the broken database:\n%s", l)
	}

	// Removing the key stops using the database: the network falls back.
	cfg.GeoIPDB = ""
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	r := query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS("198.51.100.0/24"))
	if e := replyECS(r); e == nil || e.SourceScope != 24 {
		t.Errorf("without the database: ECS %v, want the fallback scope 24", e)
	}
	r = query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS("198.51.0.0/16"))
	if e := replyECS(r); e == nil || e.SourceScope != 16 {
		t.Errorf("without the database, a /16 client: ECS %v, want scope 16", e)
	}
}

// TestGeoIPStartErrors: a missing or broken database stops New with an
// error naming the key.
func TestGeoIPStartErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.mmdb")
	if err := os.WriteFile(broken, []byte("\xab\xcd\xefMaxMind.com truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.mmdb"), broken} {
		s, err := New(geoConfig(path), nil)
		if err == nil {
			s.Close()
			t.Errorf("%s: no error", path)
			continue
		}
		if !strings.Contains(err.Error(), "dns.geoip_db") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the key and the file", path, err)
		}
	}
}

// TestGeoDBLookup: prefixes come back in the address's own family, an
// IPv4-mapped address is looked up as IPv4, and an IPv4 database does not
// place IPv6 addresses.
func TestGeoDBLookup(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []int{4, 6} {
		path := filepath.Join(dir, "v"+string(rune('0'+v))+".mmdb")
		writeMMDB(t, path, v, map[string]mmdbtype.Map{"198.51.100.0/23": frankfurt()})
		g, err := openGeoDB(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"198.51.101.7", "::ffff:198.51.100.7"} {
			p, bits, ok := g.lookup(netip.MustParseAddr(a))
			if !ok || bits != 23 || !slices.Equal(p.regions, []string{"de-he", "de", "eu", "europe"}) ||
				p.coord != (Location{Lat: 50.11, Lon: 8.68, HasCoord: true}) {
				t.Errorf("IPv%d database, %s: %+v /%d %v", v, a, p, bits, ok)
			}
		}
		for _, a := range []string{"198.51.102.1", "2001:db8::1"} {
			if _, _, ok := g.lookup(netip.MustParseAddr(a)); ok {
				t.Errorf("IPv%d database places %s", v, a)
			}
		}
	}
}

// TestGeoRegions: which edge region a database record matches first.
func TestGeoRegions(t *testing.T) {
	edge := func(addr, loc string) *Edge {
		l, err := config.ParseLocation(loc)
		if err != nil {
			t.Fatal(err)
		}
		return &Edge{Addr: netip.MustParseAddr(addr), Location: l, Weight: 1}
	}
	for _, tc := range []struct {
		name  string
		rec   geoRecord
		edges []*Edge
		want  string
	}{
		{"subdivision before country", rec("US", "NA", "CA"),
			[]*Edge{edge("192.0.2.1", "us"), edge("192.0.2.2", "us-ca")}, "192.0.2.2"},
		{"country before continent", rec("DE", "EU"),
			[]*Edge{edge("192.0.2.1", "eu"), edge("192.0.2.2", "de")}, "192.0.2.2"},
		{"continent code", rec("FR", "EU"),
			[]*Edge{edge("192.0.2.1", "eu"), edge("192.0.2.2", "de")}, "192.0.2.1"},
		{"continent name", rec("CA", "NA"),
			[]*Edge{edge("192.0.2.1", "europe"), edge("192.0.2.2", "north-america")}, "192.0.2.2"},
		{"a continent's name is not a country", rec("NA", "AF"),
			[]*Edge{edge("192.0.2.1", "north-america"), edge("192.0.2.2", "africa")}, "192.0.2.2"},
	} {
		got := near(tc.edges, tc.rec.place())
		if len(got) != 1 || got[0].Addr.String() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
}

// rec is a decoded record with a country, a continent and subdivisions.
func rec(country, continent string, subs ...string) geoRecord {
	var r geoRecord
	r.Country.ISOCode, r.Continent.Code = country, continent
	for _, s := range subs {
		r.Subdivisions = append(r.Subdivisions, struct {
			ISOCode string `maxminddb:"iso_code"`
		}{s})
	}
	return r
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
