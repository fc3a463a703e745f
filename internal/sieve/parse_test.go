package sieve

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/errors.golden")

// TestCompileErrorsGolden compiles every script in testdata/errors and
// compares the messages, with their line and column, to a golden file.
func TestCompileErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.sieve")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	var b strings.Builder
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, cerr := Compile(src, Options{})
		name := strings.TrimSuffix(filepath.Base(f), ".sieve")
		if cerr == nil {
			t.Errorf("%s: compiled, want an error", name)
			continue
		}
		if _, ok := cerr.(*Error); !ok {
			t.Errorf("%s: error %T, want *Error", name, cerr)
		}
		b.WriteString(name + ": " + cerr.Error() + "\n")
	}
	golden := "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("messages differ from %s (go test -update to accept):\n%s", golden, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("- " + a + "\n+ " + c + "\n")
		}
	}
	return b.String()
}

// TestParseValues checks the lexer's values: escapes, multi-line text
// with dot-stuffing, quantifiers, comments.
func TestParseValues(t *testing.T) {
	src := "# comment\r\n/* bracket\r\n comment */ require [\"vacation\"];\r\n" +
		"if size :over 1K { stop; }\nif size :under 2m { stop; }\nif size :over 3G { stop; }\n" +
		"vacation :subject \"a\\\"b\\\\c\\d\" text: # comment\r\nline 1\r\n..dot\r\n.\r\n;\n"
	s, err := Compile([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	nums := []uint64{1024, 2 << 20, 3 << 30}
	for i, n := range nums {
		if got := s.cmds[i+1].tests[0].pargs[0].num; got != n {
			t.Errorf("number %d = %d, want %d", i, got, n)
		}
	}
	v := s.cmds[4]
	if got := v.tags["subject"].strs[0]; got != `a"b\cd` {
		t.Errorf("quoted = %q", got)
	}
	if got := v.pargs[0].strs[0]; got != "line 1\r\n.dot\r\n" {
		t.Errorf("text: = %q", got)
	}
	// LF-only line ends give CRLF in the value too.
	s, err = Compile([]byte("require \"reject\";\nreject text:\nA\n.\n;"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.cmds[1].pargs[0].strs[0]; got != "A\r\n" {
		t.Errorf("text: with LF = %q", got)
	}
}

// TestLimits checks each compile-time bound.
func TestLimits(t *testing.T) {
	cases := []struct {
		name string
		src  string
		lim  Limits
		want string
	}{
		{"size", "keep;          ", Limits{MaxScriptBytes: 10}, "line 1, column 1: script is 15 bytes, more than the limit of 10"},
		{"nesting", strings.Repeat("if true {", 5) + strings.Repeat("}", 5), Limits{MaxNesting: 4}, "line 1, column 40: nested more than 4 deep"},
		{"test nesting", "if " + strings.Repeat("not ", 5) + "true {}", Limits{MaxNesting: 4}, "line 1, column 20: nested more than 4 deep"},
		{"commands", "keep; keep; keep;", Limits{MaxCommands: 2}, "line 1, column 13: more than 2 commands and tests"},
		{"string", `require "fileinto"; fileinto "abcdefghij";`, Limits{MaxStringBytes: 9}, "line 1, column 30: string longer than 9 bytes"},
		{"list", `if header ["a","b","c"] "x" {}`, Limits{MaxListItems: 2}, "line 1, column 11: string list longer than 2"},
	}
	for _, c := range cases {
		_, err := Compile([]byte(c.src), Options{Limits: c.lim})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// Within the default bounds the same scripts compile.
	for _, c := range cases[1:] {
		if _, err := Compile([]byte(c.src), Options{}); err != nil {
			t.Errorf("%s with default limits: %v", c.name, err)
		}
	}
}

// TestCompileRFCExamples compiles the RFCs' example scripts
// (testdata/valid, also the fuzz seeds).
func TestCompileRFCExamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.sieve")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(src, Options{}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
