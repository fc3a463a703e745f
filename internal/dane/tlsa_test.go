package dane

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseTLSA(t *testing.T) {
	h32 := strings.Repeat("ab", 32)
	h64 := strings.Repeat("cd", 64)
	cases := []struct {
		usage, sel, mt uint8
		data           string
		ok             bool
	}{
		{3, 1, 1, h32, true},
		{3, 1, 1, strings.ToUpper(h32), true},
		{2, 0, 2, h64, true},
		{3, 0, 0, "3082", true},
		{3, 1, 1, h64, false},           // 64 bytes for SHA-256
		{3, 1, 2, h32, false},           // 32 bytes for SHA-512
		{3, 1, 1, h32[:63], false},      // odd number of hex digits
		{3, 1, 1, "g" + h32[1:], false}, // not hex
		{3, 1, 0, "", false},            // nothing to match
		{0, 1, 1, h32, false},           // PKIX-TA
		{1, 1, 1, h32, false},           // PKIX-EE
		{4, 1, 1, h32, false},           // unknown usage
		{255, 1, 1, h32, false},         // private use
		{3, 2, 1, h32, false},           // unknown selector
		{3, 1, 3, h32, false},           // unknown matching type
		{3, 1, 255, h32, false},         // private matching type
	}
	for _, c := range cases {
		rr := &dns.TLSA{Usage: c.usage, Selector: c.sel, MatchingType: c.mt, Certificate: c.data}
		r, err := ParseTLSA(rr)
		if c.ok {
			if err != nil {
				t.Errorf("ParseTLSA(%d %d %d %s): %v", c.usage, c.sel, c.mt, c.data, err)
				continue
			}
			if !strings.EqualFold(r.String(), rrPresentation(rr)) {
				t.Errorf("Record.String() = %q, want %q", r, rrPresentation(rr))
			}
			continue
		}
		if !errors.Is(err, ErrUnusable) {
			t.Errorf("ParseTLSA(%d %d %d %s) = %v, want ErrUnusable", c.usage, c.sel, c.mt, c.data, err)
		}
	}
	if _, err := ParseTLSA(nil); !errors.Is(err, ErrUnusable) {
		t.Errorf("ParseTLSA(nil) = %v", err)
	}
}

func rrPresentation(rr *dns.TLSA) string {
	s := rr.String()
	return s[len(rr.Hdr.String()):]
}

// A record read from a zone file the way miekg/dns parses it (and as it
// arrives over the wire) goes through ParseTLSA; duplicates are kept once.
func TestUsableFromZoneText(t *testing.T) {
	var rrs []*dns.TLSA
	for _, line := range []string{
		"_25._tcp.mx.example.org. 300 IN TLSA 3 1 1 " + strings.Repeat("01", 32),
		"_25._tcp.mx.example.org. 300 IN TLSA 3 1 1 " + strings.Repeat("01", 32),
		"_25._tcp.mx.example.org. 300 IN TLSA 2 0 1 " + strings.Repeat("02", 32),
		"_25._tcp.mx.example.org. 300 IN TLSA 1 1 1 " + strings.Repeat("03", 32),
		"_25._tcp.mx.example.org. 300 IN TLSA 3 1 1 " + strings.Repeat("04", 20),
	} {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		rrs = append(rrs, rr.(*dns.TLSA))
	}
	usable, bad := Usable(rrs)
	if len(usable) != 2 || usable[0].Usage != 3 || usable[1].Usage != 2 {
		t.Errorf("usable = %v, want the 3 1 1 and the 2 0 1", usable)
	}
	if bad == nil || !errors.Is(bad, ErrUnusable) || !strings.Contains(bad.Error(), "PKIX") || !strings.Contains(bad.Error(), "20 bytes") {
		t.Errorf("reasons = %v, want the PKIX-EE and the 20-byte digest", bad)
	}
}

func TestQueryName(t *testing.T) {
	cases := []struct {
		port int
		host string
		want string
	}{
		{25, "mx.example.org", "_25._tcp.mx.example.org."},
		{25, "MX.Example.ORG.", "_25._tcp.mx.example.org."},
		{465, "smtp.example.net.", "_465._tcp.smtp.example.net."},
		{0, "mx.example.org", ""},
		{65536, "mx.example.org", ""},
		{25, "", ""},
		{25, ".", ""},
		{25, "a..b", ""},
		{25, strings.Repeat("a", 64) + ".example", ""},   // label over 63 octets
		{25, strings.Repeat("abcdefg.", 31) + "org", ""}, // name over 255 octets with the prefix
	}
	for _, c := range cases {
		got, err := QueryName(c.port, c.host)
		if c.want == "" {
			if err == nil {
				t.Errorf("QueryName(%d, %q) = %q, want an error", c.port, c.host, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("QueryName(%d, %q) = %q, %v; want %q", c.port, c.host, got, err, c.want)
		}
	}
}
