package delivery

import (
	"context"
	"log/slog"
	"testing"

	"pail/internal/store"
)

// BenchmarkSieveNoScript measures what Sieve adds to the commit of a
// message whose recipient has no active script: the one query for the
// recipients' scripts.
func BenchmarkSieveNoScript(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	acct, err := st.AddAccount(ctx, "jill@hill.test", "h", false)
	if err != nil {
		b.Fatal(err)
	}
	d := NewDeliverer(st, nil, nil, "mx.hill.test")
	d.SetSieve(&Sieve{Store: st, Log: slog.New(slog.DiscardHandler)})
	m := &Message{d: d}
	ds := []store.Delivery{{AccountID: acct.ID}}
	ts := []Target{{ID: acct.ID, Address: "jill@hill.test"}}
	b.ResetTimer()
	for range b.N {
		if _, err := m.filter(ctx, ds, ts); err != nil {
			b.Fatal(err)
		}
	}
}
