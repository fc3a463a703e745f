package mtasts

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePolicy: no input crashes the policy parser, and every policy
// it accepts is served (String) as text that parses to the same policy,
// matching the same hosts.
func FuzzParsePolicy(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/policies/*.txt")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("version: STSv1\nmode: enforce\nmx: *.a.test\nmax_age: 1\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			return
		}
		back, err := ParsePolicy([]byte(p.String()))
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", body, p.String(), err)
		}
		if back.String() != p.String() {
			t.Fatalf("%q: %q then %q", body, p.String(), back.String())
		}
		for _, mx := range p.MX {
			if !p.Matches(mx) && mx[0] != '*' {
				t.Fatalf("%q does not match its own mx %q", body, mx)
			}
		}
	})
}

// FuzzParseRecord: no TXT record crashes the record parser, and an id
// it accepts is 1 to 32 letters and digits.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=STSv1; id=20160831085700Z;", "v=STSv1; id=a; x=y", "v=STSv1 ;id=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err == nil && (r.ID == "" || len(r.ID) > maxIDLen || !alnum(r.ID)) {
			t.Fatalf("%q: id %q", s, r.ID)
		}
	})
}
