package address

import "testing"

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Bob@Hill.COM", "bob@hill.com"},
		{"bob@hill.com.", "bob@hill.com"},
		{"Jürgen@Hill.com", "jürgen@hill.com"},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "bob", "@hill.com", "bob@", "a b@c.d", "a@b\x00", "a@..", "a@.b", "a@b..c"} {
		if _, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) succeeded", bad)
		}
	}
}

func TestBase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bob+news@hill.com", "bob@hill.com"},
		{"bob@hill.com", "bob@hill.com"},
		{"+x@hill.com", "+x@hill.com"},
		{"a+b+c@hill.com", "a@hill.com"},
	} {
		if got := Base(tc.in); got != tc.want {
			t.Errorf("Base(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTrimDomainDot(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@hill.test.", "alice@hill.test"},
		{"alice@hill.test", "alice@hill.test"},
		{"alice@hill.test..", "alice@hill.test."}, // only one: still invalid
		{"alice.@hill.test", "alice.@hill.test"},
		{"alice@.", "alice@."},
		{"postmaster", "postmaster"},
		{"", ""},
	} {
		if got := TrimDomainDot(tc.in); got != tc.want {
			t.Errorf("TrimDomainDot(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
