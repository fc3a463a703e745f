package sieve

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds scripts to Compile: it must return a script or an
// *Error, never panic. Seeds: testdata/fuzz/FuzzParse (the RFCs'
// examples) and the scripts of testdata/errors.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/errors/*.sieve")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		_, err := Compile(src, Options{})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
		}
	})
}
