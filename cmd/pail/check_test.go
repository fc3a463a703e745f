package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRepair: a message file that a process now gone left without an
// index row is reported by `pail check` at once (whatever its age) and
// removed by `pail check --repair`, which then says clean.
func TestCheckRepair(t *testing.T) {
	p := newPail(t)
	p.must("pw\n", "user", "add", "jill@hill.test", "--password-stdin")
	p.must("From jack@town.test Sun Dec  6 12:00:00 2026\nFrom: jack@town.test\nSubject: kept\n\nkept\n", "import", "jill@hill.test", "-")
	dir := filepath.Join(filepath.Dir(p.config), "data", "mail", "1")
	// Named as a store names its files before the commit: the owner token
	// of a killed process, a dot, a random name; its lock file stays, and
	// nobody holds the lock.
	leftover := filepath.Join(dir, "00112233445566ff.0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(leftover, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(p.config), "data", "locks", "00112233445566ff"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := p.run("", "check")
	if err == nil || !strings.Contains(out, "orphan-file: "+leftover) {
		t.Fatalf("check did not report the leftover: %v\n%s", err, out)
	}
	out = p.must("", "check", "--repair")
	if !strings.Contains(out, "removed leftover: "+leftover) || !strings.Contains(out, "clean") {
		t.Errorf("check --repair:\n%s", out)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover still there: %v", err)
	}
	if exported := p.must("", "export", "jill@hill.test"); !strings.Contains(exported, "Subject: kept") {
		t.Errorf("the stored message went too:\n%s", exported)
	}
}
