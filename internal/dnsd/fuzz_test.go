package dnsd

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// FuzzZone feeds master-file text through ParseZone and our indexing, then
// answers a question from the result: no input may panic.
func FuzzZone(f *testing.F) {
	f.Add("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\n* A 192.0.2.1\nx CNAME x\n", "b.x.a.test.", uint16(dns.TypeA))
	f.Add("a.test. 1 IN SOA ns. h. 1 2 3 4 5\nsub.a.test. NS ns.sub.a.test.\n", "q.sub.a.test.", uint16(dns.TypeNS))
	f.Add("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\nc CNAME d\nd CNAME c\n", "c.a.test.", uint16(dns.TypeANY))
	f.Fuzz(func(t *testing.T, text, qname string, qtype uint16) {
		z, err := ParseZone(strings.NewReader(text), "", "fuzz")
		if err != nil {
			return
		}
		if _, ok := dns.IsDomainName(qname); !ok {
			return
		}
		c := &catalog{zones: map[string]*Zone{z.Origin: z}, pools: map[string]*Pool{}, loc: &locator{table: newLocationTable(nil)}}
		c.answer(dns.Question{Name: dns.Fqdn(qname), Qtype: qtype, Qclass: dns.ClassINET}, &client{})
	})
}

// FuzzLocation: the location syntax of the config.
func FuzzLocation(f *testing.F) {
	for _, s := range []string{"eu", "52.37,4.89", "-90,180", "x,y", "", ",", "eu-west_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := config.ParseLocation(s)
		if err == nil && loc.HasCoord && (loc.Lat < -90 || loc.Lat > 90 || loc.Lon < -180 || loc.Lon > 180) {
			t.Errorf("%q parsed to %+v", s, loc)
		}
	})
}
