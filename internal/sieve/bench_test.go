package sieve

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// fiftyRules is a script of 50 ordinary rules: header and address tests
// filing into folders, the shape the webmail's rule form writes.
func fiftyRules() string {
	var b strings.Builder
	b.WriteString(`require ["fileinto", "imap4flags", "variables"];` + "\n")
	for i := 0; i < 50; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "if header :contains \"subject\" \"topic%d\" { fileinto \"Topic%d\"; stop; }\n", i, i)
		case 1:
			fmt.Fprintf(&b, "if address :is \"from\" \"list%d@example.org\" { fileinto \"Lists/%d\"; stop; }\n", i, i)
		default:
			fmt.Fprintf(&b, "if header :matches \"list-id\" \"*<list%d.*>\" { addflag \"$L%d\"; }\n", i, i)
		}
	}
	return b.String()
}

// BenchmarkRun50Rules runs a compiled 50-rule script against a message
// none of its rules match: every test is evaluated.
func BenchmarkRun50Rules(b *testing.B) {
	s, err := Compile([]byte(fiftyRules()), Options{})
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte(baseMsg)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Run(context.Background(), Input{Message: NewMessage(raw)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile50Rules compiles the same script (what an upload costs).
func BenchmarkCompile50Rules(b *testing.B) {
	src := []byte(fiftyRules())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(src, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
