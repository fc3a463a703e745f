package dnsd

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// catalog is everything answers are made from: zones, pools and the
// locator (the location table and the MaxMind-format database). It is
// immutable once built; a reload builds a new one and swaps it in
// atomically, so a query sees either the old data or the new, never a
// mix.
type catalog struct {
	zones map[string]*Zone
	pools map[string]*Pool
	loc   *locator
}

// buildCatalog loads the zone files and inline zones of cfg, adds the
// records of own to them (addOwn), and builds cfg's pools, which locate
// clients with the location table of cfg and then geo (nil: no
// database). Health probes for the pools' edges come from ck (nil:
// none).
func buildCatalog(cfg config.DNS, geo *geoDB, ck *checker, own []dns.RR) (*catalog, error) {
	c := &catalog{zones: map[string]*Zone{}, pools: map[string]*Pool{}}
	add := func(z *Zone, src string) error {
		if c.zones[z.Origin] != nil {
			return fmt.Errorf("%s: zone %s is defined twice", src, z.Origin)
		}
		c.zones[z.Origin] = z
		return nil
	}
	for i, f := range cfg.ZoneFiles {
		z, err := LoadZoneFile(f)
		if err != nil {
			return nil, fmt.Errorf("dns.zone_files[%d]: %w", i, err)
		}
		if err := add(z, f); err != nil {
			return nil, fmt.Errorf("dns.zone_files[%d]: %w", i, err)
		}
	}
	for i, zc := range cfg.Zones {
		z, err := InlineZone(zc.Origin, zc.Records)
		if err != nil {
			return nil, fmt.Errorf("dns.zones[%d]: %w", i, err)
		}
		if err := add(z, "inline"); err != nil {
			return nil, fmt.Errorf("dns.zones[%d]: %w", i, err)
		}
	}
	c.addOwn(own)

	locs := map[netip.Prefix]Location{}
	for s, l := range cfg.Locations {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("dns.locations: %q: %w", s, err)
		}
		loc, err := config.ParseLocation(l)
		if err != nil {
			return nil, fmt.Errorf("dns.locations.%q: %w", s, err)
		}
		locs[p] = loc
	}
	c.loc = &locator{table: newLocationTable(locs), geo: geo}

	for i, pc := range cfg.Pools {
		p, err := newPool(pc, c.loc)
		if err != nil {
			return nil, fmt.Errorf("dns.pools[%d]: %w", i, err)
		}
		z := c.zoneFor(p.Name)
		if z == nil {
			return nil, fmt.Errorf("dns.pools[%d].name: %s is not inside any zone served", i, p.Name)
		}
		if n := z.names[p.Name]; n != nil && len(n.rrsets) > 0 {
			return nil, fmt.Errorf("dns.pools[%d].name: %s also has records in zone %s", i, p.Name, z.Origin)
		}
		if z.referral(p.Name) != nil {
			return nil, fmt.Errorf("dns.pools[%d].name: %s is below a delegation", i, p.Name)
		}
		// The zone was built for this catalog alone, so it may still be
		// changed: the pool's name must exist for NODATA answers.
		z.node(p.Name)
		c.pools[p.Name] = p
	}
	// Probes are attached last, once the catalog is sure to be used: use
	// stops the probes a catalog no longer names.
	if ck != nil {
		var urls []string
		for _, p := range c.pools {
			for _, e := range p.Edges {
				if e.health != "" {
					urls = append(urls, e.health)
				}
			}
		}
		probes := ck.use(urls)
		for _, p := range c.pools {
			for _, e := range p.Edges {
				e.probe = probes[e.health]
			}
		}
	}
	return c, nil
}

// newPool builds a pool from its config.
func newPool(pc config.DNSPool, loc *locator) (*Pool, error) {
	p := &Pool{
		Name:    dns.CanonicalName(pc.Name),
		TTL:     uint32(pc.TTL),
		Answers: pc.Answers,
		loc:     loc,
	}
	if p.TTL == 0 {
		p.TTL = config.DefaultPoolTTL
	}
	if p.Answers == 0 {
		p.Answers = 1
	}
	for j, ec := range pc.Edges {
		a, err := netip.ParseAddr(ec.Address)
		if err != nil {
			return nil, fmt.Errorf("edges[%d].address: %w", j, err)
		}
		loc, err := config.ParseLocation(ec.Location)
		if err != nil {
			return nil, fmt.Errorf("edges[%d].location: %w", j, err)
		}
		e := &Edge{Addr: a.Unmap(), Location: loc, Weight: float64(ec.Weight), health: ec.Health, index: j}
		if e.Weight == 0 {
			e.Weight = 1
		}
		p.Edges = append(p.Edges, e)
	}
	return p, nil
}

// addOwn adds pail's own records to the zones they fall in (see
// NewWithRecords for which are left out). The zones were built for this
// catalog alone, so they may still be changed; each one changed is
// indexed again.
func (c *catalog) addOwn(own []dns.RR) {
	changed := map[*Zone]bool{}
	for _, rr := range own {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		z := c.zoneFor(name)
		if z == nil || z.referral(name) != nil {
			continue
		}
		if n := z.names[name]; n != nil {
			_, hasCNAME := n.rrsets[dns.TypeCNAME]
			if hasCNAME || len(n.rrsets[h.Rrtype]) > 0 || (h.Rrtype == dns.TypeCNAME && len(n.rrsets) > 0) {
				continue
			}
		}
		rr = dns.Copy(rr)
		rr.Header().Name = name
		n := z.node(name)
		n.rrsets[h.Rrtype] = append(n.rrsets[h.Rrtype], rr)
		changed[z] = true
	}
	for z := range changed {
		z.index()
	}
}

// signZones readies every zone of c for online signing with the keys
// in keyDir, making keys for a zone that has none (RFC 4035 §2): the
// zone's DNSKEY set is published at its apex, and records of DNSSEC's
// own that the files may hold (RRSIG, NSEC, NSEC3, NSEC3PARAM, from a
// zone signed elsewhere) are dropped, since pail makes its own. A zone
// whose keys cannot be read or made is not served unsigned: its
// queries are answered SERVFAIL, and the error is returned for the log.
func (c *catalog) signZones(keyDir string, now func() time.Time) []error {
	var errs []error
	ks, openErr := OpenKeyStore(keyDir, nil)
	for _, z := range c.zones {
		var keys []ZoneKey
		err := openErr
		if err == nil {
			keys, err = ks.Ensure(z.Origin)
		}
		if err != nil {
			z.signErr = err
			errs = append(errs, fmt.Errorf("dnssec: zone %s is answered SERVFAIL: %w", z.Origin, err))
			continue
		}
		for _, n := range z.names {
			for _, t := range []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM} {
				delete(n.rrsets, t)
			}
		}
		var set []dns.RR
		for _, k := range keys {
			set = append(set, k.DNSKEY())
		}
		z.names[z.Origin].rrsets[dns.TypeDNSKEY] = slices.Clip(set)
		z.signer = newZoneSigner(z, keys, now)
	}
	return errs
}
