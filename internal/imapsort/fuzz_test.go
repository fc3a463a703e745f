package imapsort

import (
	"strings"
	"testing"
)

// FuzzBaseSubject: any subject gives a base subject without panicking,
// within the packed subject, with no leading or trailing space, and the
// base subject of a base subject is itself.
func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{"Re: [fwd: Re: x]", "hello (fwd)  ", "[list] Re[2]: x", "[fwd: [a]", "Fw:Fwd:re:", "\t Re:\r\n x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, _ := BaseSubject(s)
		if !strings.Contains(packSpace(s), base) {
			t.Fatalf("BaseSubject(%q) = %q, not part of the subject", s, base)
		}
		if strings.Trim(base, " ") != base {
			t.Fatalf("BaseSubject(%q) = %q keeps spaces at an end", s, base)
		}
		if again, _ := BaseSubject(base); again != base {
			t.Fatalf("BaseSubject(%q) = %q, but BaseSubject(%q) = %q", s, base, base, again)
		}
		_ = Fold(base)
	})
}
