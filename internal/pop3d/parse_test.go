package pop3d

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		want command
		err  error
	}{
		{"STAT", command{name: "STAT"}, nil},
		{"stat", command{name: "STAT"}, nil},
		{"Top 1 10", command{name: "TOP", args: []string{"1", "10"}, rest: "1 10"}, nil},
		{"LIST  2", command{name: "LIST", args: []string{"2"}, rest: " 2"}, nil},
		{"UIDL ", command{name: "UIDL", rest: ""}, nil},
		{"PASS  two  spaces ", command{name: "PASS", args: []string{"two", "spaces"}, rest: " two  spaces "}, nil},
		{"PASS grüße", command{name: "PASS", args: []string{"grüße"}, rest: "grüße"}, nil},
		{"", command{}, errEmptyLine},
		{"NO", command{}, errBadKeyword},
		{"NOOPS", command{}, errBadKeyword},
		{"NO1P", command{}, errBadKeyword},
		{" STAT", command{}, errBadKeyword},
		{"STÄT", command{}, errBadKeyword},
		{"USER a\x00b", command{}, errBadChars},
		{"USER a\tb", command{}, errBadChars},
		{"USER a\rb", command{}, errBadChars},
		{"USER a\x7f", command{}, errBadChars},
	} {
		got, err := parseCommand(tc.line)
		if err != tc.err {
			t.Errorf("parseCommand(%q): error %v, want %v", tc.line, err, tc.err)
			continue
		}
		if got.name != tc.want.name || got.rest != tc.want.rest || !slices.Equal(got.args, tc.want.args) {
			t.Errorf("parseCommand(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		s  string
		n  int
		ok bool
	}{
		{"1", 1, true}, {"007", 7, true}, {"999999999", 999999999, true},
		{"", 0, false}, {"0x1", 0, false}, {"-1", 0, false}, {"+1", 0, false},
		{"1.0", 0, false}, {"1234567890", 0, false}, {"١", 0, false},
	} {
		if n, ok := parseNumber(tc.s); n != tc.n || ok != tc.ok {
			t.Errorf("parseNumber(%q) = %d, %v; want %d, %v", tc.s, n, ok, tc.n, tc.ok)
		}
	}
}

var keyword = regexp.MustCompile(`^[A-Z]{3,4}$`)

// FuzzParseCommand checks that no command line crashes the parser and that
// what it accepts is well formed. The seed corpus is in
// testdata/fuzz/FuzzParseCommand.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"USER jill@hill.test", "PASS s3cret pass", "AUTH PLAIN AGppbGwAcHc=", "AUTH PLAIN",
		"STAT", "LIST 1", "UIDL", "RETR 1", "TOP 1 0", "DELE 2", "RSET", "NOOP", "QUIT",
		"CAPA", "STLS", "APOP jill c4c9334bac560ecc979e58001b3e22fb", "", " ", "X",
		"LIST 99999999999999999999", "TOP -1 -1", "USER \x00", "pass \xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseCommand(line)
		if err != nil {
			return
		}
		if !keyword.MatchString(c.name) {
			t.Fatalf("keyword %q from %q", c.name, line)
		}
		if !strings.EqualFold(line[:len(c.name)], c.name) {
			t.Fatalf("keyword %q is not the start of %q", c.name, line)
		}
		if len(line) > len(c.name) && line[len(c.name)+1:] != c.rest {
			t.Fatalf("rest %q from %q", c.rest, line)
		}
		for _, a := range c.args {
			if a == "" || strings.ContainsAny(a, " \r\n\x00") {
				t.Fatalf("argument %q from %q", a, line)
			}
			if !strings.Contains(c.rest, a) {
				t.Fatalf("argument %q not in %q", a, c.rest)
			}
		}
		for _, a := range c.args {
			if n, ok := parseNumber(a); ok && n < 0 {
				t.Fatalf("parseNumber(%q) = %d", a, n)
			}
		}
	})
}
