package address

import (
	"strings"
	"testing"
)

// FuzzNormalize checks that normalisation never panics, is idempotent, and
// keeps Base and Domain consistent with it.
func FuzzNormalize(f *testing.F) {
	f.Add("Bob+News@Hill.COM.")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		if n2, err := Normalize(n); err != nil || n2 != n {
			t.Fatalf("Normalize(%q) = %q, then %q, %v", s, n, n2, err)
		}
		if Domain(n) == "" || strings.ContainsAny(n, " <>\x00") {
			t.Fatalf("Normalize(%q) = %q", s, n)
		}
		if b := Base(n); Domain(b) != Domain(n) {
			t.Fatalf("Base(%q) = %q changes the domain", n, b)
		}
	})
}
