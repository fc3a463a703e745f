//go:build unix

package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// crashEnv names the data directory in which the test binary, run again
// as a child, starts a delivery and SIGKILLs itself before the commit.
const crashEnv = "PAIL_STORE_TEST_CRASH_DIR"

// TestHelperCrashMidDelivery is the child of TestLeftoversAfterCrash.
func TestHelperCrashMidDelivery(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return // only meaningful as a child process
	}
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.afterPlace = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	// A spool that never reaches Deliver, and one caught between placing
	// its files for two accounts and committing their rows.
	spool(t, s, "half a message")
	s.Deliver(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: 1}, {AccountID: 2}})
	t.Fatal("not killed")
}

// TestLeftoversAfterCrash: files a killed process placed but never
// committed are reported by Check at once and removed by RemoveLeftovers,
// while files another live process is about to commit are left alone.
func TestLeftoversAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	b, _ := s.AddAccount(ctx, "jill@hill.com", "h", false)
	if _, err := s.Deliver(ctx, spool(t, s, "kept\r\n"), []Delivery{{AccountID: a.ID}, {AccountID: b.ID}}); err != nil {
		t.Fatal(err)
	}
	kept := storeFiles(t, s)

	// A process that crashed before it placed anything leaves only its
	// lock file: a lock nobody holds.
	if err := os.WriteFile(filepath.Join(dir, locksDir, "00112233445566ff"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashMidDelivery$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	if n := len(storeFiles(t, s)) - len(kept); n != 3 {
		t.Fatalf("%d files left by the killed child, want 3 (two placed copies, one spool)", n)
	}
	problems, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 {
		t.Errorf("check right after the crash: %v, want the two placed copies as orphans", problems)
	}

	// Another live process (here a second Store on the same directory,
	// which holds its own lock) has placed files and not yet committed.
	s2 := openTest(t, dir)
	placed, release := make(chan struct{}), make(chan struct{})
	s2.afterPlace = func() { close(placed); <-release }
	done := make(chan error, 1)
	go func() {
		_, err := s2.Deliver(ctx, spool(t, s2, "in flight\r\n"), []Delivery{{AccountID: a.ID}})
		done <- err
	}()
	<-placed
	removed, err := s.RemoveLeftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want the two copies of the killed child", removed)
	}
	if p, err := s.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("check with a delivery in flight: %v %v", p, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the delivery in flight failed: %v", err)
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	msgs, _ := s.Messages(ctx, inbox.ID)
	if len(msgs) != 2 {
		t.Fatalf("bob has %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if _, err := os.Stat(m.Path); err != nil {
			t.Errorf("committed message lost its file: %v", err)
		}
	}
	if n := len(storeFiles(t, s)); n != len(kept)+1 {
		t.Errorf("%d files, want %d (the spool of the killed child is gone too)", n, len(kept)+1)
	}
	if p, err := s.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("check after repair: %v %v", p, err)
	}
	if locks, _ := os.ReadDir(filepath.Join(dir, locksDir)); len(locks) != 2 {
		t.Errorf("%d lock files, want 2 (the two open stores; the dead ones' swept)", len(locks))
	}
}
