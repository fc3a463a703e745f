package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DNS defaults, each with its reason.
const (
	// DefaultDNSRate is responses per second per client prefix before
	// response-rate limiting starts dropping: far above what one resolver
	// asks of one authoritative server, far below what makes the server a
	// useful amplifier.
	DefaultDNSRate = 100
	// DefaultDNSSlip: every second dropped response is sent as an empty
	// truncated one, so a real client behind a spoofed source still gets
	// its answer over TCP (the BIND RRL default).
	DefaultDNSSlip = 2
	// DefaultPoolTTL is the TTL of pool answers: short, so that health and
	// load changes reach clients within half a minute.
	DefaultPoolTTL = 30
	// DefaultHealthInterval between two checks of one edge: with two
	// failures to withdraw, a dead edge leaves answers within ~3 s.
	DefaultHealthInterval = time.Second
	// DefaultHealthTimeout bounds one check; a slower edge counts as down.
	DefaultHealthTimeout = 800 * time.Millisecond
)

// DNS configures the authoritative name server ([dns]). It runs only when
// Listen is set.
type DNS struct {
	// Listen is the "host:port" served over UDP and TCP; empty: off.
	Listen string `toml:"listen"`
	// TLSListen is the "host:port" of DNS over TLS (RFC 7858; port 853
	// is its own), with the certificates of [tls]; empty: off.
	TLSListen string `toml:"tls_listen"`
	// DNSSEC signs every zone served, online (RFC 4033–4035), with ECDSA
	// P-256 keys kept in KeyDir and made on the first start.
	DNSSEC bool `toml:"dnssec"`
	// KeyDir holds the DNSSEC keys, one directory per zone; empty:
	// data_dir/dnssec.
	KeyDir string `toml:"dnssec_key_dir"`
	// TLSA, when false, keeps pail from publishing the DANE TLSA record
	// of its SMTP service (_25._tcp.HOSTNAME, RFC 7672 §3.1.1); unset:
	// published wherever that is safe (package dnsrecords, HostDANE).
	TLSA *bool `toml:"tlsa"`
	// ZoneFiles are RFC 1035 master files, each holding one zone whose
	// origin is the owner of its SOA record.
	ZoneFiles []string `toml:"zone_files"`
	// Zones are zones written in the config itself.
	Zones []DNSZone `toml:"zones"`
	// Pools are CDN names answered with one of many edges by policy.
	Pools []DNSPool `toml:"pools"`
	// Locations maps a client prefix ("10.1.0.0/16") to a location: a
	// region name ("eu") or coordinates ("52.37,4.89").
	Locations map[string]string `toml:"locations"`
	// GeoIPDB is a MaxMind-format database (.mmdb, GeoIP2 or GeoLite2
	// City or Country) that locates clients Locations does not hold; empty:
	// none. It is read at start and again on reload.
	GeoIPDB string `toml:"geoip_db"`
	// RateLimit is response-rate limiting per client prefix (UDP only).
	RateLimit DNSRateLimit `toml:"rate_limit"`
	// HealthInterval is the time between two checks of one edge.
	HealthInterval Duration `toml:"health_interval"`
	// HealthTimeout bounds one check.
	HealthTimeout Duration `toml:"health_timeout"`
}

// DNSZone is one zone written inline: an origin and records in master-file
// syntax relative to it. Without an SOA record one is made up.
type DNSZone struct {
	Origin  string   `toml:"origin"`
	Records []string `toml:"records"`
}

// DNSPool is a name served by a pool of edges.
type DNSPool struct {
	// Name is the owner name; it must lie inside a served zone.
	Name string `toml:"name"`
	// TTL of the answers, in seconds.
	TTL int `toml:"ttl"`
	// Answers is how many edge addresses one answer carries (default 1).
	Answers int `toml:"answers"`
	// Edges are the copies of the service.
	Edges []DNSEdge `toml:"edges"`
}

// DNSEdge is one copy of a pooled service.
type DNSEdge struct {
	// Address is the edge's IPv4 or IPv6 address (A or AAAA answers).
	Address string `toml:"address"`
	// Location is a region name or "lat,lon".
	Location string `toml:"location"`
	// Weight shares traffic among equally close edges (default 1).
	Weight int `toml:"weight"`
	// Health is an http:// or https:// URL that answers 2xx while the
	// edge is fit to serve; empty: never checked, always up.
	Health string `toml:"health"`
}

// DNSRateLimit is response-rate limiting (RRL).
type DNSRateLimit struct {
	// ResponsesPerSecond per client prefix; 0 turns RRL off.
	ResponsesPerSecond int `toml:"responses_per_second"`
	// Slip: every Slip-th limited response goes out truncated instead of
	// being dropped; 0 drops them all.
	Slip int `toml:"slip"`
	// IPv4PrefixLen and IPv6PrefixLen group clients into prefixes.
	IPv4PrefixLen int `toml:"ipv4_prefix_len"`
	IPv6PrefixLen int `toml:"ipv6_prefix_len"`
}

// defaultDNS is the [dns] section when the file has none: off.
func defaultDNS() DNS {
	return DNS{
		RateLimit: DNSRateLimit{
			ResponsesPerSecond: DefaultDNSRate,
			Slip:               DefaultDNSSlip,
			IPv4PrefixLen:      24, // one site's addresses
			IPv6PrefixLen:      56, // one site's prefix (RFC 6177)
		},
		HealthInterval: Duration{DefaultHealthInterval},
		HealthTimeout:  Duration{DefaultHealthTimeout},
	}
}

// Location is a parsed location: a region name, or coordinates.
type Location struct {
	Region   string
	Lat, Lon float64
	HasCoord bool
}

// ParseLocation reads "region" or "lat,lon".
func ParseLocation(s string) (Location, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Location{}, nil
	}
	if lat, lon, ok := strings.Cut(s, ","); ok {
		la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
		lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
		if err1 != nil || err2 != nil || la < -90 || la > 90 || lo < -180 || lo > 180 {
			return Location{}, fmt.Errorf("%q is not \"lat,lon\" in degrees", s)
		}
		return Location{Lat: la, Lon: lo, HasCoord: true}, nil
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return Location{}, fmt.Errorf("%q is not a region name (letters, digits, - and _) or \"lat,lon\"", s)
		}
	}
	return Location{Region: strings.ToLower(s)}, nil
}

// PublishesTLSA reports whether dns.tlsa leaves the TLSA record on
// (it is on unless set to false).
func (d *DNS) PublishesTLSA() bool { return d.TLSA == nil || *d.TLSA }

// validateTLSA refuses `tlsa = true` where pail will not publish the
// record, so that an operator who asked for DANE is told at once why
// senders would not see it: without DNSSEC a TLSA record means nothing
// (RFC 7672 §2.2), and an ACME renewal may change the key (see
// dnsrecords.HostDANE).
func (c *Config) validateTLSA() error {
	if c.DNS.TLSA == nil || !*c.DNS.TLSA {
		return nil
	}
	switch {
	case !c.DNS.DNSSEC:
		return fmt.Errorf("dns.tlsa: true needs dns.dnssec = true (RFC 7672 §2.2: a TLSA record in an unsigned zone is ignored)")
	case c.ACME.Enabled:
		return fmt.Errorf("dns.tlsa: true is refused with [acme] enabled: an ACME renewal may change the key, and a stale TLSA record makes DANE senders refuse mail (RFC 7672 §3); pail dns-records prints the record to publish by hand")
	}
	return nil
}

// Validate checks the [dns] section; the error names the key.
func (d *DNS) Validate() error {
	if d.Listen != "" {
		if _, _, err := net.SplitHostPort(d.Listen); err != nil {
			return fmt.Errorf("dns.listen: %q is not host:port", d.Listen)
		}
	}
	if d.TLSListen != "" {
		if _, _, err := net.SplitHostPort(d.TLSListen); err != nil {
			return fmt.Errorf("dns.tls_listen: %q is not host:port", d.TLSListen)
		}
	}
	if d.GeoIPDB != "" && strings.TrimSpace(d.GeoIPDB) != d.GeoIPDB {
		// A file name with leading or trailing blanks is a quoting
		// mistake far more often than a real name.
		return fmt.Errorf("dns.geoip_db: %q has leading or trailing spaces", d.GeoIPDB)
	}
	for i, f := range d.ZoneFiles {
		if f == "" {
			return fmt.Errorf("dns.zone_files[%d]: empty file name", i)
		}
	}
	for i, z := range d.Zones {
		o := strings.ToLower(strings.TrimSuffix(z.Origin, "."))
		if !validDomain(o) {
			return fmt.Errorf("dns.zones[%d].origin: %q is not a valid domain name", i, z.Origin)
		}
	}
	seen := map[string]bool{}
	for i, p := range d.Pools {
		key := fmt.Sprintf("dns.pools[%d]", i)
		n := strings.ToLower(strings.TrimSuffix(p.Name, "."))
		if !validDomain(n) {
			return fmt.Errorf("%s.name: %q is not a valid domain name", key, p.Name)
		}
		if seen[n] {
			return fmt.Errorf("%s.name: %q is pooled twice", key, p.Name)
		}
		seen[n] = true
		if p.TTL < 0 || p.TTL > 86400 {
			return fmt.Errorf("%s.ttl: %d must be between 0 and 86400", key, p.TTL)
		}
		if p.Answers < 0 || p.Answers > 16 {
			return fmt.Errorf("%s.answers: %d must be between 0 and 16", key, p.Answers)
		}
		if len(p.Edges) == 0 {
			return fmt.Errorf("%s.edges: a pool needs at least one edge", key)
		}
		for j, e := range p.Edges {
			ek := fmt.Sprintf("%s.edges[%d]", key, j)
			if _, err := netip.ParseAddr(e.Address); err != nil {
				return fmt.Errorf("%s.address: %q is not an IP address", ek, e.Address)
			}
			if _, err := ParseLocation(e.Location); err != nil {
				return fmt.Errorf("%s.location: %v", ek, err)
			}
			if e.Weight < 0 || e.Weight > 1000 {
				return fmt.Errorf("%s.weight: %d must be between 0 and 1000", ek, e.Weight)
			}
			if e.Health != "" {
				u, err := url.Parse(e.Health)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%s.health: %q is not an http(s) URL", ek, e.Health)
				}
			}
		}
	}
	for prefix, loc := range d.Locations {
		if _, err := netip.ParsePrefix(prefix); err != nil {
			return fmt.Errorf("dns.locations: %q is not a prefix like 10.0.0.0/8", prefix)
		}
		if _, err := ParseLocation(loc); err != nil {
			return fmt.Errorf("dns.locations.%q: %v", prefix, err)
		}
	}
	rl := d.RateLimit
	switch {
	case rl.ResponsesPerSecond < 0:
		return fmt.Errorf("dns.rate_limit.responses_per_second: %d must not be negative", rl.ResponsesPerSecond)
	case rl.Slip < 0 || rl.Slip > 10:
		return fmt.Errorf("dns.rate_limit.slip: %d must be between 0 and 10", rl.Slip)
	case rl.IPv4PrefixLen < 8 || rl.IPv4PrefixLen > 32:
		return fmt.Errorf("dns.rate_limit.ipv4_prefix_len: %d must be between 8 and 32", rl.IPv4PrefixLen)
	case rl.IPv6PrefixLen < 16 || rl.IPv6PrefixLen > 128:
		return fmt.Errorf("dns.rate_limit.ipv6_prefix_len: %d must be between 16 and 128", rl.IPv6PrefixLen)
	}
	if d.HealthInterval.Duration < 100*time.Millisecond {
		return fmt.Errorf("dns.health_interval: %s must be at least 100ms", d.HealthInterval)
	}
	if d.HealthTimeout.Duration <= 0 {
		return fmt.Errorf("dns.health_timeout: %s must be positive", d.HealthTimeout)
	}
	return nil
}
