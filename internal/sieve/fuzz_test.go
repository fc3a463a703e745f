package sieve

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds scripts to Compile: it must return a script or an
// *Error, never panic; a script that compiles is run against a small
// message, which must end in a result or an error, never a panic. Seeds: testdata/fuzz/FuzzParse (the RFCs'
// examples) and the scripts of testdata/errors.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/errors/*.sieve")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	msg := []byte("From: a@example.org\r\nTo: b+x@example.com\r\nSubject: =?utf-8?q?hi?=\r\n" +
		"Date: Mon, 7 Dec 2026 10:15:00 -0800\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Compile(src, Options{Limits: Limits{MaxSteps: 100000}})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			return
		}
		res, err := s.Run(context.Background(), Input{
			Message:    NewMessage(msg),
			Envelope:   Envelope{From: "a@example.org", To: "b+x@example.com"},
			Verdict:    Verdict{SpamTested: true, SpamScore: 5, SpamPercent: 50},
			Mailboxes:  mailboxSet{"INBOX": true},
			Duplicates: dupStore{},
			Scripts:    scriptDir{"personal/a": `require "include"; include "a";`, "global/b": "keep;"},
		})
		if err == nil && len(res.Actions) == 0 {
			t.Fatal("a run without error and without any action: the implicit keep is lost")
		}
	})
}
