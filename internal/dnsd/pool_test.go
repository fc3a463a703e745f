package dnsd

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// cdnConfig serves cdn.test inline with the pool www.cdn.test over edges.
func cdnConfig(edges ...config.DNSEdge) config.DNS {
	cfg := testConfig()
	cfg.Zones = []config.DNSZone{{Origin: "cdn.test", Records: []string{"@ NS ns1", "ns1 A 127.0.0.1", "static A 192.0.2.200"}}}
	cfg.Pools = []config.DNSPool{{Name: "www.cdn.test", Edges: edges}}
	cfg.Locations = map[string]string{
		"10.1.0.0/16":   "eu",
		"10.2.0.0/16":   "us",
		"127.0.0.0/8":   "asia",
		"172.16.0.0/12": "52.37,4.89",  // Amsterdam
		"100.64.0.0/10": "40.71,-74.0", // New York
	}
	return cfg
}

// TestPoolByLocation: clients in two subnets (ECS) get different edges
// with the location prefix as the ECS scope; the source address counts
// when there is no ECS; static names answer with scope 0.
func TestPoolByLocation(t *testing.T) {
	_, addr := startServer(t, cdnConfig(
		config.DNSEdge{Address: "192.0.2.1", Location: "eu"},
		config.DNSEdge{Address: "192.0.2.2", Location: "us"},
		config.DNSEdge{Address: "192.0.2.3", Location: "asia"},
		config.DNSEdge{Address: "2001:db8::1", Location: "eu"},
	))
	for _, tc := range []struct {
		ecs   string // "" for none
		qtype uint16
		want  []string
		scope uint8
	}{
		{"10.1.2.0/24", dns.TypeA, []string{"192.0.2.1"}, 16},
		{"10.2.9.0/24", dns.TypeA, []string{"192.0.2.2"}, 16},
		{"10.1.2.0/24", dns.TypeAAAA, []string{"2001:db8::1"}, 16},
		{"", dns.TypeA, []string{"192.0.2.3"}, 0}, // source 127.0.0.1: asia
	} {
		var opts []func(*dns.Msg)
		if tc.ecs != "" {
			opts = append(opts, withECS(tc.ecs))
		}
		r := query(t, addr, "udp", "www.cdn.test", tc.qtype, opts...)
		if got := addrs(r); !slices.Equal(got, tc.want) {
			t.Errorf("ECS %q %s: %v, want %v", tc.ecs, dns.TypeToString[tc.qtype], got, tc.want)
		}
		if len(r.Answer) > 0 && r.Answer[0].Header().Ttl != config.DefaultPoolTTL {
			t.Errorf("TTL %d", r.Answer[0].Header().Ttl)
		}
		e := replyECS(r)
		switch {
		case tc.ecs == "" && e != nil:
			t.Errorf("ECS in the answer to a query without it")
		case tc.ecs != "" && (e == nil || e.SourceScope != tc.scope):
			t.Errorf("ECS %q: answer's option %v, want scope %d", tc.ecs, e, tc.scope)
		}
	}

	// A client the table does not know: some edge, scoped to its /24.
	r := query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS("203.0.113.0/24"))
	if len(addrs(r)) != 1 || replyECS(r).SourceScope != 24 {
		t.Errorf("unknown client: %v scope %v", addrs(r), replyECS(r))
	}
	// Static answers do not depend on the client: scope 0.
	r = query(t, addr, "udp", "static.cdn.test", dns.TypeA, withECS("10.1.2.0/24"))
	if e := replyECS(r); e == nil || e.SourceScope != 0 || e.SourceNetmask != 24 {
		t.Errorf("static answer's ECS %v", e)
	}
	// Other types at the pool name: NODATA.
	r = query(t, addr, "udp", "www.cdn.test", dns.TypeMX)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Errorf("MX at a pool name: %v", r)
	}
	// A query's ECS scope must be 0 (RFC 7871 §6); else FORMERR.
	r = query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS("10.1.2.0/24"), func(m *dns.Msg) {
		m.IsEdns0().Option[0].(*dns.EDNS0_SUBNET).SourceScope = 16
	})
	if r.Rcode != dns.RcodeFormatError {
		t.Errorf("ECS with a scope in the query: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestPoolByCoordinates: the nearest edge by great-circle distance.
func TestPoolByCoordinates(t *testing.T) {
	_, addr := startServer(t, cdnConfig(
		config.DNSEdge{Address: "192.0.2.1", Location: "50.11,8.68"},   // Frankfurt
		config.DNSEdge{Address: "192.0.2.2", Location: "39.04,-77.49"}, // Ashburn
		config.DNSEdge{Address: "192.0.2.3", Location: "35.68,139.69"}, // Tokyo
	))
	for ecs, want := range map[string]string{"172.16.5.0/24": "192.0.2.1", "100.64.1.0/24": "192.0.2.2"} {
		r := query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS(ecs))
		if got := addrs(r); len(got) != 1 || got[0] != want {
			t.Errorf("ECS %s: %v, want %s", ecs, got, want)
		}
	}
}

// TestRankWeightsAndLoad: clients spread in proportion to weight × (1 −
// load), and each client keeps its edge.
func TestRankWeightsAndLoad(t *testing.T) {
	a := &Edge{Addr: netip.MustParseAddr("192.0.2.1"), Weight: 1}
	b := &Edge{Addr: netip.MustParseAddr("192.0.2.2"), Weight: 3}
	count := func() float64 {
		n := 0
		for i := range 4000 {
			key := netip.PrefixFrom(netipFrom(i), 24).Masked()
			first := rank([]*Edge{a, b}, key)[0]
			if first != rank([]*Edge{b, a}, key)[0] {
				t.Fatal("rank depends on the order of the edges")
			}
			if first == b {
				n++
			}
		}
		return float64(n) / 4000
	}
	if share := count(); share < 0.70 || share > 0.80 {
		t.Errorf("weight 3 vs 1: share %.2f, want ~0.75", share)
	}
	// b reports 80% load: its effective weight is 0.6 against 1.
	b.probe = &probe{}
	b.probe.up.Store(true)
	b.probe.load.Store(mathFloat64bits(0.8))
	if share := count(); share < 0.32 || share > 0.43 {
		t.Errorf("weight 3 at load 0.8 vs 1: share %.2f, want ~0.375", share)
	}
}

// TestPoolHealth: an edge whose check fails leaves the answers within
// seconds and comes back when it recovers; when every edge fails, the
// answer holds all of them.
func TestPoolHealth(t *testing.T) {
	var healthy [3]atomic.Bool
	var edges []config.DNSEdge
	for i := range healthy {
		healthy[i].Store(true)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !healthy[i].Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"load": 0.1}`))
		}))
		t.Cleanup(hs.Close)
		edges = append(edges, config.DNSEdge{Address: "192.0.2." + string(rune('1'+i)), Location: "eu", Health: hs.URL + "/health"})
	}
	edges[1].Location, edges[2].Location = "us", "us"
	cfg := cdnConfig(edges...)
	cfg.Pools[0].Answers = 3
	_, addr := startServer(t, cfg)

	ask := func() []string {
		r := query(t, addr, "udp", "www.cdn.test", dns.TypeA, withECS("10.1.0.0/24"))
		got := addrs(r)
		slices.Sort(got)
		return got
	}
	waitFor := func(what string, want []string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			got := ask()
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: answer %v, want %v", what, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("all up", []string{"192.0.2.1"})
	healthy[0].Store(false)
	// eu is down: the others answer.
	waitFor("eu edge down", []string{"192.0.2.2", "192.0.2.3"})
	healthy[0].Store(true)
	waitFor("eu edge back", []string{"192.0.2.1"})
	for i := range healthy {
		healthy[i].Store(false)
	}
	waitFor("all down", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"})
}

// TestParseLoad: load figures in JSON and in pail proxy's metrics text.
func TestParseLoad(t *testing.T) {
	for _, tc := range []struct {
		ctype, body string
		want        float64
	}{
		{"application/json", `{"load": 0.25}`, 0.25},
		{"application/json", `{"load": 7}`, 1},
		{"text/plain", "proxy_requests 10\nproxy_load 0.5\n", 0.5},
		{"text/plain", "load -1\n", 0},
		{"text/plain", "proxy_requests 10\n", 0},
		{"text/plain", "proxy_load NaN\n", 0},
	} {
		if got := parseLoad(tc.ctype, []byte(tc.body)); got != tc.want {
			t.Errorf("%s %q: %v, want %v", tc.ctype, tc.body, got, tc.want)
		}
	}
}
