package dnsd

import (
	"math"
	"net/netip"
	"slices"

	"pail/internal/config"
)

// Location is where a client or an edge is: a region name, coordinates,
// or both unknown.
type Location = config.Location

// locationTable maps client prefixes to locations by longest match.
type locationTable struct {
	// byLen holds one map per prefix length, longest first, so a lookup
	// costs one map probe per distinct length in the table.
	byLen []lenTable
}

type lenTable struct {
	bits    int
	entries map[netip.Prefix]Location
}

// newLocationTable builds a table from prefix → location.
func newLocationTable(m map[netip.Prefix]Location) *locationTable {
	lens := map[int]map[netip.Prefix]Location{}
	for p, loc := range m {
		p = p.Masked()
		// IPv4 prefixes are kept in IPv4 form; lookups unmap addresses.
		if lens[p.Bits()] == nil {
			lens[p.Bits()] = map[netip.Prefix]Location{}
		}
		lens[p.Bits()][p] = loc
	}
	t := &locationTable{}
	for bits, e := range lens {
		t.byLen = append(t.byLen, lenTable{bits: bits, entries: e})
	}
	slices.SortFunc(t.byLen, func(a, b lenTable) int { return b.bits - a.bits })
	return t
}

// lookup returns the location of addr and the length of the matching
// prefix; ok is false when no prefix holds addr.
func (t *locationTable) lookup(addr netip.Addr) (loc Location, bits int, ok bool) {
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
	return Location{}, 0, false
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
