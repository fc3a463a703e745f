package queue

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"pail/internal/dkim"
	"pail/internal/remote"
)

// TestEnqueueSignsOnce: a message from a local domain is stored with its
// DKIM signatures in front (the queue signs once, so every attempt sends
// the same bytes), a DSN from a local domain is signed too, and a
// message from another domain is stored as it came.
func TestEnqueueSignsOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		keys, err := dkim.Open(filepath.Join(t.TempDir(), "dkim"), nil)
		if err != nil {
			t.Fatal(err)
		}
		local := func(d string) bool { return d == "town.test" || d == "mx.town.test" }
		signer := dkim.NewSigner(keys, dkim.Policy{Local: local})
		e := newEnv(t, db, func(c *Config) { c.Signer = signer })

		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test", "nobody@hill.test")
		data := e.stored(e.q, "m1")
		if !strings.HasPrefix(string(data), "DKIM-Signature: ") || !strings.HasSuffix(string(data), "\r\n"+body) ||
			strings.Count(string(data), "DKIM-Signature: ") != 2 {
			t.Fatalf("queued file:\n%s", data)
		}
		lookup := func(domain string) func(string) ([]string, error) {
			return func(name string) ([]string, error) {
				ks, _ := keys.Keys(domain)
				for _, k := range ks {
					if k.Name() == name+"." {
						return []string{k.TXT()}, nil
					}
				}
				return nil, errors.New("no record " + name)
			}
		}
		verify := func(what, msg, domain string) {
			t.Helper()
			v, err := msgdkim.VerifyWithOptions(strings.NewReader(msg), &msgdkim.VerifyOptions{LookupTXT: lookup(domain)})
			if err != nil || len(v) != 2 {
				t.Fatalf("%s: %d verifications, %v", what, len(v), err)
			}
			for _, r := range v {
				if r.Err != nil || r.Domain != domain {
					t.Errorf("%s: %+v", what, r)
				}
			}
		}
		verify("queued", string(data), "town.test")

		// First attempt deferred, second delivered: the same signed bytes.
		var mu sync.Mutex
		tries := map[string]int{}
		d := &fakeDeliverer{fn: func(_ context.Context, domain, rcpt string) remote.Status {
			mu.Lock()
			defer mu.Unlock()
			tries[rcpt]++
			switch {
			case rcpt == "nobody@hill.test":
				return remote.Failed
			case domain == "hill.test" && tries[rcpt] == 1:
				return remote.Deferred
			}
			return remote.Delivered
		}}
		e.q.Start(d)
		waitFor(t, "the first attempt and the DSN", func() bool { return len(d.snapshot()) >= 2 })
		if _, err := e.q.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the second attempt", func() bool { return len(d.snapshot()) >= 3 })
		var toHill []string
		dsns := 0
		for _, c := range d.snapshot() {
			if c.domain == "hill.test" {
				toHill = append(toHill, c.body)
			} else {
				dsns++
				verify("DSN", c.body, "mx.town.test")
			}
		}
		if dsns != 1 {
			t.Errorf("%d DSNs, want 1", dsns)
		}
		if len(toHill) < 2 || toHill[0] != string(data) || toHill[1] != string(data) {
			t.Errorf("attempts sent %d copies, not all the queued signed file", len(toHill))
		}

		// Mail from a domain that is not ours is queued unchanged, and so is
		// mail from ours that was not authenticated (sign false: an MX
		// message forwarded by an alias).
		for _, c := range []struct {
			id, msg string
			sign    bool
		}{
			{"m2", strings.Replace(body, "alice@town.test", "x@far.test", 1), true},
			{"m3", body, false},
		} {
			f := newEnv(t, db, func(c *Config) { c.Signer = signer })
			if err := f.q.Enqueue(context.Background(), c.id, "x@far.test", []string{"bob@hill.test"}, section(c.msg), c.sign); err != nil {
				t.Fatal(err)
			}
			if data := f.stored(f.q, c.id); data != c.msg {
				t.Errorf("%s stored as:\n%s", c.id, data)
			}
		}
	})
}
