package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLeftoversWithoutOwner: files named by an older pail (no owner token)
// are leftovers only once they are older than orphanAge.
func TestLeftoversWithoutOwner(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	dir := s.accountDir(a.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	young, old := filepath.Join(dir, "0123456789abcdef0123456789abcdef"), filepath.Join(dir, "fedcba9876543210fedcba9876543210")
	for _, p := range []string{young, old} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * orphanAge)
	os.Chtimes(old, then, then)
	removed, err := s.RemoveLeftovers(ctx)
	if err != nil || len(removed) != 1 || removed[0] != old {
		t.Errorf("removed %v (%v), want only %s", removed, err, old)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("young file removed: %v", err)
	}
}
