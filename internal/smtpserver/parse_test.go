package smtpserver

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in         string
		null, rcpt bool
		addr, rest string
		ok         bool
	}{
		{"<jill@hill.test>", false, false, "jill@hill.test", "", true},
		{"<jill@hill.test> SIZE=10", false, false, "jill@hill.test", " SIZE=10", true},
		{"jill@hill.test", false, false, "jill@hill.test", "", true},
		{"<>", true, false, "", "", true},
		{"<>", false, true, "", "", false},
		{"<@relay.test,@b.test:jill@hill.test>", false, true, "jill@hill.test", "", true},
		{"<@relay.test>", false, true, "", "", false},
		{`<"jill"@hill.test>`, false, false, "jill@hill.test", "", true},
		{`<"j ill"@hill.test>`, false, false, `"j ill"@hill.test`, "", true},
		{`<"j\"ill"@hill.test>`, false, false, `"j\"ill"@hill.test`, "", true},
		{`<"jill@hill.test>`, false, false, "", "", false},
		{"<postmaster>", false, true, "postmaster", "", true},
		{"<PostMaster> x", false, true, "PostMaster", " x", true},
		{"<postmaster>", true, false, "", "", false}, // not as a reverse-path
		{"<postmasters>", false, true, "", "", false},
		{"<postmaster@>", false, true, "", "", false},
		{"<jill@>", false, false, "", "", false},
		{"<@hill.test>", false, false, "", "", false},
		{"<jill>", false, true, "", "", false},
		{"<jill@hill.test", false, false, "", "", false},
		{"jill@hill.test>", false, false, "", "", false},
		{"<ji ll@hill.test>", false, false, "", "", false},
		{"<jöran@hill.test>", false, false, "jöran@hill.test", "", true},
		{"<jill@[127.0.0.1]>", false, false, "jill@[127.0.0.1]", "", true},
		{"", true, true, "", "", false},
	} {
		addr, rest, ok := parsePath(tc.in, tc.null, tc.rcpt)
		if ok != tc.ok || (ok && (addr != tc.addr || rest != tc.rest)) {
			t.Errorf("parsePath(%q, %v, %v) = %q, %q, %v; want %q, %q, %v", tc.in, tc.null, tc.rcpt, addr, rest, ok, tc.addr, tc.rest, tc.ok)
		}
	}
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []param
		ok   bool
	}{
		{"", nil, true},
		{" SIZE=100 body=8BITMIME", []param{{"SIZE", "100"}, {"BODY", "8BITMIME"}}, true},
		{" SMTPUTF8", []param{{"SMTPUTF8", ""}}, true},
		{" SIZE=", nil, false},
		{" SIZE=1=2", nil, false},
		{" -X=1", nil, false},
		{" S_Z=1", nil, false},
		{" SIZE=1 size=2", nil, false},
		{" AUTH=<>", []param{{"AUTH", "<>"}}, true},
		{strings.Repeat(" A=1", maxParams+1), nil, false},
	} {
		got, ok := parseParams(tc.in)
		if ok != tc.ok || (ok && len(got) != len(tc.want)) {
			t.Errorf("parseParams(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parseParams(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestParseBDAT(t *testing.T) {
	for _, tc := range []struct {
		in   string
		size int64
		last bool
		ok   bool
	}{
		{"10", 10, false, true},
		{"0 LAST", 0, true, true},
		{"9 last", 9, true, true},
		{"0009\u00a0LAST", 9, true, true},
		{"4294967295", 4294967295, false, true},
		{"4294967296", 0, false, false},
		{"+9", 0, false, false},
		{"-1", 0, false, false},
		{"", 0, false, false},
		{"9 LAST x", 0, false, false},
		{"9 FIRST", 0, false, false},
	} {
		size, last, ok := parseBDAT(tc.in)
		if ok != tc.ok || size != tc.size || last != tc.last {
			t.Errorf("parseBDAT(%q) = %d, %v, %v; want %d, %v, %v", tc.in, size, last, ok, tc.size, tc.last, tc.ok)
		}
	}
}

func TestDecodeXtext(t *testing.T) {
	for in, want := range map[string]string{"jill@hill.test": "jill@hill.test", "a+2Bb": "a+b", "+3D": "=", "+2": "!", "+2b": "!", "a+": "!"} {
		got, ok := decodeXtext(in)
		if want == "!" {
			if ok {
				t.Errorf("decodeXtext(%q) = %q, want an error", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("decodeXtext(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzCommand feeds command lines to the parser: nothing may panic, the
// verb is in upper case, and a path that parses is never longer than the
// line, nor has a CR, LF or angle bracket outside quotes.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<jill@hill.test> SIZE=100 BODY=8BITMIME SMTPUTF8 AUTH=<>",
		"RCPT TO:<postmaster>", "RCPT TO:<@a.test,@b.test:jill@hill.test>", `RCPT TO:<"j\"ill"@hill.test>`,
		"BDAT 100 LAST", "BDAT 0009\u00a0last", "EHLO [127.0.0.1]", "AUTH PLAIN AGppbGwAczNjcmV0",
		"mail from:jill@hill.test", "STARTTLS", "", " ", "MAIL FROM:<", "RCPT TO:<\"", "MAIL FROM:<> SIZE==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd := parseCommand([]byte(line))
		if utf8.ValidString(cmd.verb) && cmd.verb != strings.ToUpper(cmd.verb) {
			t.Fatalf("verb %q not upper case", cmd.verb)
		}
		for _, prefix := range []string{"FROM:", "TO:"} {
			rest, ok := cutPrefixFold(cmd.arg, prefix)
			if !ok {
				continue
			}
			addr, tail, ok := parsePath(strings.TrimLeft(rest, " "), prefix == "FROM:", prefix == "TO:")
			if !ok {
				continue
			}
			if len(addr) > len(line) || len(tail) > len(rest) {
				t.Fatalf("path %q, rest %q from %q", addr, tail, line)
			}
			if !strings.HasPrefix(addr, `"`) && strings.ContainsAny(addr, "<>\r\n") {
				t.Fatalf("path %q from %q", addr, line)
			}
			parseParams(tail)
		}
		parseBDAT(cmd.arg)
		parseHello(cmd.arg)
		decodeXtext(cmd.arg)
	})
}
