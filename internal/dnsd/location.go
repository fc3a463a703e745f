package dnsd

import (
	"math"
	"net/netip"
	"slices"

	"pail/internal/config"
)

// Location is where an edge is (or a client, in dns.locations): a region
// name, coordinates, or both unknown.
type Location = config.Location

// place is where a client is, as far as pail can tell: region names from
// the most specific to the least (a match on an earlier one wins), and
// coordinates when coord.HasCoord is set.
type place struct {
	regions []string
	coord   Location
}

// placeOf is the place of a location from the config: its one region
// name, or its coordinates.
func placeOf(loc Location) place {
	p := place{coord: Location{Lat: loc.Lat, Lon: loc.Lon, HasCoord: loc.HasCoord}}
	if loc.Region != "" {
		p.regions = []string{loc.Region}
	}
	return p
}

// known reports whether p says anything that can choose an edge.
func (p place) known() bool { return len(p.regions) > 0 || p.coord.HasCoord }

// locator finds where a client is: by the prefix table of dns.locations
// first, then by the MaxMind-format database when there is one. The
// table comes first because it is the operator's own word, and the way to
// place networks a database gets wrong or does not know (private ones).
type locator struct {
	table *locationTable
	geo   *geoDB // nil: no database
}

// locate returns the place of addr and the length of the prefix that the
// place holds for (the table's prefix, or the database's network); ok is
// false when neither knows addr.
func (l *locator) locate(addr netip.Addr) (p place, bits int, ok bool) {
	if p, bits, ok := l.table.lookup(addr); ok {
		return p, bits, true
	}
	if l.geo != nil {
		return l.geo.lookup(addr)
	}
	return place{}, 0, false
}

// locationTable maps client prefixes to places by longest match.
type locationTable struct {
	// byLen holds one map per prefix length, longest first, so a lookup
	// costs one map probe per distinct length in the table.
	byLen []lenTable
}

type lenTable struct {
	bits    int
	entries map[netip.Prefix]place
}

// newLocationTable builds a table from prefix → location.
func newLocationTable(m map[netip.Prefix]Location) *locationTable {
	lens := map[int]map[netip.Prefix]place{}
	for p, loc := range m {
		p = p.Masked()
		// IPv4 prefixes are kept in IPv4 form; lookups unmap addresses.
		if lens[p.Bits()] == nil {
			lens[p.Bits()] = map[netip.Prefix]place{}
		}
		lens[p.Bits()][p] = placeOf(loc)
	}
	t := &locationTable{}
	for bits, e := range lens {
		t.byLen = append(t.byLen, lenTable{bits: bits, entries: e})
	}
	slices.SortFunc(t.byLen, func(a, b lenTable) int { return b.bits - a.bits })
	return t
}

// lookup returns the place of addr and the length of the matching
// prefix; ok is false when no prefix holds addr.
func (t *locationTable) lookup(addr netip.Addr) (loc place, bits int, ok bool) {
	addr = addr.Unmap()
	for _, lt := range t.byLen {
		if lt.bits > addr.BitLen() {
			continue
		}
		p, err := addr.Prefix(lt.bits)
		if err != nil {
			continue
		}
		if loc, ok := lt.entries[p]; ok {
			return loc, lt.bits, true
		}
	}
	return place{}, 0, false
}

// earthRadiusKm is the mean radius of the Earth, for great-circle
// distances.
const earthRadiusKm = 6371

// distanceKm is the great-circle (haversine) distance between a and b.
func distanceKm(a, b Location) float64 {
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	dLat, dLon := rad(b.Lat-a.Lat), rad(b.Lon-a.Lon)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(rad(a.Lat))*math.Cos(rad(b.Lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(1, h)))
}
