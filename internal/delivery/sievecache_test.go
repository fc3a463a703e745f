package delivery

import (
	"fmt"
	"testing"

	"pail/internal/sieve"
)

// TestCompiledScriptsKept: a script is compiled once and then shared by
// later deliveries; a changed text is compiled anew; a broken one is
// refused each time and never kept; the cache stays within its bound.
func TestCompiledScriptsKept(t *testing.T) {
	var c compiledScripts
	a := []byte(`require "fileinto"; fileinto "A";`)
	s1, err := c.compile(a, sieve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.compile([]byte(string(a)), sieve.Options{})
	if err != nil || s2 != s1 {
		t.Fatalf("same text compiled again (%p, %p, %v)", s1, s2, err)
	}
	b, err := c.compile([]byte(`require "fileinto"; fileinto "B";`), sieve.Options{})
	if err != nil || b == s1 {
		t.Fatalf("changed text gave the old script (%v)", err)
	}
	for range 2 {
		if _, err := c.compile([]byte(`fileinto "A";`), sieve.Options{}); err == nil {
			t.Fatal("a script without require compiled")
		}
	}
	if len(c.m) != 2 {
		t.Fatalf("%d scripts kept, want 2", len(c.m))
	}
	for i := range maxCompiledScripts + 10 {
		if _, err := c.compile(fmt.Appendf(nil, "# %d\nkeep;", i), sieve.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) > maxCompiledScripts {
		t.Fatalf("%d scripts kept, bound %d", len(c.m), maxCompiledScripts)
	}
}
