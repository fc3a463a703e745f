package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzParseTLSA feeds arbitrary records to ParseTLSA and Verify: neither
// may panic, a usable record has a known usage, selector and matching
// type with data of the right length, and Verify never accepts a chain
// for records that are all unusable.
func FuzzParseTLSA(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint8(1), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "mx.example.org")
	f.Add(uint8(2), uint8(0), uint8(2), "00", "*.example.org")
	f.Add(uint8(3), uint8(0), uint8(0), "3082", "")
	f.Add(uint8(1), uint8(1), uint8(1), "zz", "..")
	p := newPKI(f, []string{"mx.example.org"}, time.Time{}, time.Time{})
	chain := chainOf(p.leaf, p.inter, p.root)
	f.Fuzz(func(t *testing.T, usage, selector, mt uint8, data, name string) {
		rr := &dns.TLSA{Usage: usage, Selector: selector, MatchingType: mt, Certificate: data}
		r, err := ParseTLSA(rr)
		if err == nil {
			if usage != UsageDANEEE && usage != UsageDANETA {
				t.Fatalf("usage %d accepted", usage)
			}
			if selector > SelectorSPKI {
				t.Fatalf("selector %d accepted", selector)
			}
			switch mt {
			case MatchFull:
				if len(r.Data) == 0 {
					t.Fatal("empty data accepted")
				}
			case MatchSHA256:
				if len(r.Data) != sha256.Size {
					t.Fatalf("%d bytes accepted for SHA-256", len(r.Data))
				}
			case MatchSHA512:
				if len(r.Data) != sha512.Size {
					t.Fatalf("%d bytes accepted for SHA-512", len(r.Data))
				}
			default:
				t.Fatalf("matching type %d accepted", mt)
			}
			if want, _ := hex.DecodeString(data); string(want) != string(r.Data) {
				t.Fatal("data not decoded")
			}
		} else if !errors.Is(err, ErrUnusable) {
			t.Fatalf("error %v does not wrap ErrUnusable", err)
		}
		verr := Verify([]*dns.TLSA{rr}, chain, []string{name}, testNow)
		if err != nil && !errors.Is(verr, ErrNoUsableTLSA) {
			t.Fatalf("Verify with an unusable record = %v", verr)
		}
		QueryName(int(usage)*256+int(selector), name)
	})
}
