package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// leftoverAgeForTest stands for orphanAge in tests that cannot wait a
// minute; a file placed just before a scan must stay younger than it.
const leftoverAgeForTest = time.Second

// TestLeftoversWithoutOwner: files named by an older pail (no owner token)
// are leftovers only once they were placed more than orphanAge ago; where
// the system has no status change time they are reported, never removed.
func TestLeftoversWithoutOwner(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	s.leftoverAge = leftoverAgeForTest
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	dir := s.accountDir(a.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	young, old := filepath.Join(dir, "0123456789abcdef0123456789abcdef"), filepath.Join(dir, "fedcba9876543210fedcba9876543210")
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(leftoverAgeForTest + 100*time.Millisecond)
	if err := os.WriteFile(young, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(old)
	if err != nil {
		t.Fatal(err)
	}
	_, removable := changeTime(info)
	removed, err := s.RemoveLeftovers(ctx)
	switch {
	case err != nil:
		t.Fatal(err)
	case removable && (len(removed) != 1 || removed[0] != old):
		t.Errorf("removed %v, want only %s", removed, old)
	case !removable && len(removed) != 0:
		t.Errorf("removed %v without a status change time", removed)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("young file removed: %v", err)
	}
}
