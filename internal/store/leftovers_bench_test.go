package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The store size of the start-up benchmark: a few thousand messages in each
// of many accounts.
const (
	benchAccounts = 50
	benchFiles    = 2000
)

// benchStore makes a store of benchAccounts accounts with benchFiles
// messages each, whose files are named as an older pail named them (no
// owner token) and were written a day ago.
func benchStore(b *testing.B) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	then := time.Now().Add(-24 * time.Hour)
	for i := range benchAccounts {
		a, err := s.AddAccount(ctx, fmt.Sprintf("u%d@hill.com", i), "h", false)
		if err != nil {
			b.Fatal(err)
		}
		dir := s.accountDir(a.ID)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		names := make([]string, benchFiles)
		for j := range names {
			names[j] = fmt.Sprintf("%032x", i*benchFiles+j)
			p := filepath.Join(dir, names[j])
			if err := os.WriteFile(p, []byte("x\r\n"), 0o600); err != nil {
				b.Fatal(err)
			}
			if err := os.Chtimes(p, then, then); err != nil {
				b.Fatal(err)
			}
		}
		err = s.write(ctx, nil, func(tx *dbTx) error {
			for _, n := range names {
				if _, err := insertMessage(tx, a.ID, Inbox, "", n, 3, then, nil, kept{}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkLeftovers measures the look for crash leftovers on a large
// store: at start-up after a clean stop (the lock files alone), and the
// complete scan of `pail check --repair` (and of the first start after an
// upgrade, or after a crash).
func BenchmarkLeftovers(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b)
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.RemoveLeftovers(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("start", func(b *testing.B) {
		if _, err := s.RemoveLeftovers(ctx); err != nil { // the scan of the first start
			b.Fatal(err)
		}
		for b.Loop() {
			if _, scanned, err := s.RemoveCrashLeftovers(ctx); err != nil || scanned {
				b.Fatalf("scanned %v (%v) after a complete scan", scanned, err)
			}
		}
	})
}
