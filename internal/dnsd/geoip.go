package dnsd

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// maxGeoCache bounds how many database records are kept as decoded
// places: enough for the networks that send most queries, a few MiB at
// most.
const maxGeoCache = 1 << 16

// continentName is the spelled-out region name of a GeoIP2 continent
// code, or "". Four codes are also ISO 3166 country codes (AF Afghanistan,
// AS American Samoa, NA Namibia, SA Saudi Arabia); the names are how an
// edge's region says "the continent only".
func continentName(code string) string {
	switch code {
	case "af":
		return "africa"
	case "an":
		return "antarctica"
	case "as":
		return "asia"
	case "eu":
		return "europe"
	case "na":
		return "north-america"
	case "oc":
		return "oceania"
	case "sa":
		return "south-america"
	}
	return ""
}

// geoDB is a MaxMind-format (.mmdb) database of GeoIP2 or GeoLite2 City
// or Country records, read whole into memory: a reload can then replace it
// while queries still use the old one, without unmapping memory under
// them, and an updater that rewrites the file in place cannot change it.
type geoDB struct {
	path string
	r    *maxminddb.Reader
	// cache maps a record's offset in the data section to its place;
	// many networks share one record.
	cache  sync.Map
	cached atomic.Int64
}

// geoRecord is the part of a GeoIP2 City or Country record pail uses.
// Latitude and longitude are pointers because a record may have neither,
// and 0,0 is a place.
type geoRecord struct {
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"subdivisions"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// openGeoDB reads the database at path and checks that it is one.
func openGeoDB(path string) (*geoDB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a MaxMind DB file: %w", path, err)
	}
	if v := r.Metadata.IPVersion; v != 4 && v != 6 {
		return nil, fmt.Errorf("%s: unknown IP version %d in the metadata", path, v)
	}
	return &geoDB{path: path, r: r}, nil
}

// lookup returns the place the database gives addr and the length of the
// network it holds for, in addr's own family (an IPv4 address in an IPv6
// database gets its IPv4 prefix length). ok is false when the database
// has no record for addr, or one without a country, continent or
// coordinates; an IPv6 address in an IPv4 database is not found.
func (g *geoDB) lookup(addr netip.Addr) (p place, bits int, ok bool) {
	addr = addr.Unmap()
	res := g.r.Lookup(addr)
	if res.Err() != nil || !res.Found() {
		return place{}, 0, false
	}
	pf := res.Prefix()
	if !pf.IsValid() || pf.Addr().Is4() != addr.Is4() {
		return place{}, 0, false
	}
	p, err := g.placeAt(res)
	if err != nil || !p.known() {
		return place{}, 0, false
	}
	return p, pf.Bits(), true
}

// placeAt decodes the record of res, or takes it from the cache.
func (g *geoDB) placeAt(res maxminddb.Result) (place, error) {
	off := res.Offset()
	if v, ok := g.cache.Load(off); ok {
		return v.(place), nil
	}
	var rec geoRecord
	if err := res.Decode(&rec); err != nil {
		return place{}, err
	}
	p := rec.place()
	if g.cached.Load() < maxGeoCache {
		if _, loaded := g.cache.LoadOrStore(off, p); !loaded {
			g.cached.Add(1)
		}
	}
	return p, nil
}

// place maps a record onto pail's locations. Region names, most specific
// first: each subdivision as "country-subdivision" ("us-ca", the ISO 3166-2
// code), the country ("us", from country.iso_code, else
// registered_country.iso_code), the continent code ("na") and the
// continent's name ("north-america"); all lower case. Coordinates come
// from location.latitude and location.longitude.
func (rec *geoRecord) place() place {
	var p place
	country := strings.ToLower(rec.Country.ISOCode)
	if country == "" {
		country = strings.ToLower(rec.RegisteredCountry.ISOCode)
	}
	if country != "" {
		// GeoIP2 lists subdivisions from the largest to the smallest.
		for i := len(rec.Subdivisions) - 1; i >= 0; i-- {
			if sub := strings.ToLower(rec.Subdivisions[i].ISOCode); sub != "" {
				p.regions = append(p.regions, country+"-"+sub)
			}
		}
		p.regions = append(p.regions, country)
	}
	if cont := strings.ToLower(rec.Continent.Code); cont != "" {
		p.regions = append(p.regions, cont)
		if name := continentName(cont); name != "" {
			p.regions = append(p.regions, name)
		}
	}
	lat, lon := rec.Location.Latitude, rec.Location.Longitude
	if lat != nil && lon != nil && *lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180 {
		p.coord = Location{Lat: *lat, Lon: *lon, HasCoord: true}
	}
	return p
}
