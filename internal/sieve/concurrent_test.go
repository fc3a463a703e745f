package sieve

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentRuns: one compiled Script runs for many messages at once
// (delivery keeps compiled scripts and shares them), each run seeing only
// its own message; run with -race, a write to the shared Script fails.
func TestConcurrentRuns(t *testing.T) {
	rules := fiftyRules()
	src := rules[:strings.Index(rules, "\n")+1] + `if header :matches "Subject" "* *" { set "word" "${1}"; addflag "${word}"; }
if header :contains "From" "jack" { fileinto "Jack"; }
` + rules[strings.Index(rules, "\n")+1:]
	s, err := Compile([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := "jill@hill.test"
			if i%2 == 0 {
				from = "jack@hill.test"
			}
			raw := []byte("From: " + from + "\r\nSubject: w" + string(rune('a'+i)) + " x\r\n\r\nbody\r\n")
			for range 50 {
				res, err := s.Run(context.Background(), Input{Message: NewMessage(raw)})
				if err != nil {
					t.Error(err)
					return
				}
				filed := false
				for _, a := range res.Actions {
					if f, ok := a.(FileInto); ok && f.Mailbox == "Jack" {
						filed = true
					}
				}
				if filed != (i%2 == 0) {
					t.Errorf("run %d: filed into Jack %v", i, filed)
					return
				}
			}
		}()
	}
	wg.Wait()
}
