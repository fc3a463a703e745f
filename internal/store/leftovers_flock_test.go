// Tests that need flock(2): see owner_flock.go.

//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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
	// A spool that never reaches DeliverBody, and one caught between placing
	// its files for two accounts and committing their rows.
	spool(t, s, "half a message")
	s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: 1}, {AccountID: 2}})
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
	if _, err := s.DeliverBody(ctx, spool(t, s, "kept\r\n"), []Delivery{{AccountID: a.ID}, {AccountID: b.ID}}); err != nil {
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
		_, err := s2.DeliverBody(ctx, spool(t, s2, "in flight\r\n"), []Delivery{{AccountID: a.ID}})
		done <- err
	}()
	<-placed
	// What a start-up does: the dead owners' lock files say that the
	// message directories need a scan.
	removed, scanned, err := s.RemoveCrashLeftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !scanned || len(removed) != 2 {
		t.Errorf("removed %v (scanned %v), want the two copies of the killed child", removed, scanned)
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
		if _, err := os.Stat(m.path); err != nil {
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

// TestLeftoversLockFileRemoved: a lock file missing under a live store (an
// operator or a tmp cleaner emptied locks/) does not make the files it
// placed leftovers. A repair from another store, as by `pail check
// --repair` or a second `pail serve`, leaves them, and the commit that
// follows names a file that is there.
func TestLeftoversLockFileRemoved(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	placed, release := make(chan struct{}), make(chan struct{})
	s.afterPlace = func() { close(placed); <-release }
	sp := spool(t, s, "in flight\r\n")
	done := make(chan error, 1)
	go func() {
		_, err := s.DeliverBody(ctx, sp, []Delivery{{AccountID: a.ID}})
		done <- err
	}()
	<-placed
	if err := os.RemoveAll(filepath.Join(dir, locksDir)); err != nil {
		t.Fatal(err)
	}
	other := openTest(t, dir)
	if removed, _, err := other.RemoveCrashLeftovers(ctx); err != nil || len(removed) != 0 {
		t.Errorf("start-up removed %v (%v), want nothing", removed, err)
	}
	if removed, err := other.RemoveLeftovers(ctx); err != nil || len(removed) != 0 {
		t.Errorf("repair removed %v (%v), want nothing", removed, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the delivery in flight failed: %v", err)
	}
	if p, err := other.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("check after the commit: %v %v", p, err)
	}
}

// TestLeftoversWithoutFlock: on a filesystem that refuses flock the store
// still opens and says why it holds no lock; leftovers are then told by
// when they were placed, and a COPY's link in flight, whose bytes (and
// modification time) are old, survives a repair from another process,
// while a dead process's file placed long enough ago goes.
func TestLeftoversWithoutFlock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// The flock(2) of a filesystem that does not support it.
	enotsup := func(f *os.File) (bool, error) {
		return flockNB(f, func(int, int) error { return syscall.ENOTSUP })
	}
	s, err := open(ctx, dir, enotsup)
	if err != nil {
		t.Fatalf("open on a filesystem without flock: %v", err)
	}
	defer s.Close()
	if err := s.OwnerLock(); !errors.Is(err, errNoLocks) || !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("OwnerLock() = %v, want the reason there is none", err)
	}
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	saved, err := s.CreateMailbox(ctx, a.ID, "Saved", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeliverBody(ctx, spool(t, s, "old\r\n"), []Delivery{{AccountID: a.ID}}); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.Messages(ctx, inbox.ID)
	then := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(msgs[0].path, then, then); err != nil {
		t.Fatal(err)
	}
	// What a process killed on this filesystem left: a file named by its
	// token, beside the lock file that nobody can ask.
	dead := filepath.Join(s.accountDir(a.ID), "00112233445566ff.0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(dead, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, locksDir, "00112233445566ff"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(leftoverAgeForTest + 100*time.Millisecond)

	other, err := open(ctx, dir, enotsup)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.leftoverAge = leftoverAgeForTest
	placed, release := make(chan struct{}), make(chan struct{})
	s.afterPlace = func() { close(placed); <-release }
	done := make(chan error, 1)
	go func() {
		_, err := s.Copy(ctx, inbox.ID, []uint32{msgs[0].UID}, saved.ID)
		done <- err
	}()
	<-placed
	removed, scanned, err := other.RemoveCrashLeftovers(ctx)
	if err != nil || !scanned || len(removed) != 1 || removed[0] != dead {
		t.Errorf("start-up removed %v (scanned %v, %v), want only %s", removed, scanned, err, dead)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the copy in flight failed: %v", err)
	}
	if p, err := other.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("check after the copy: %v %v", p, err)
	}
}

// TestCrashLeftoversAtStart: start-up scans the message directories only
// when a lock file says a process may have left something, or when no scan
// was ever done; otherwise it reads the lock files alone.
func TestCrashLeftoversAtStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	if _, err := s.DeliverBody(ctx, spool(t, s, "kept\r\n"), []Delivery{{AccountID: a.ID}}); err != nil {
		t.Fatal(err)
	}
	start := func(want bool) []string {
		t.Helper()
		removed, scanned, err := s.RemoveCrashLeftovers(ctx)
		if err != nil || scanned != want {
			t.Fatalf("RemoveCrashLeftovers: scanned %v (%v), want %v", scanned, err, want)
		}
		return removed
	}
	start(true) // never scanned: an upgrade may have left unnamed files
	start(false)
	openTest(t, dir) // a live admin command
	start(false)

	// A killed process: its lock file is free and names its file.
	dead := filepath.Join(s.accountDir(a.ID), "00112233445566ff.0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(dead, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, locksDir, "00112233445566ff"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if removed := start(true); len(removed) != 1 || removed[0] != dead {
		t.Errorf("removed %v, want %s", removed, dead)
	}
	if _, err := os.Stat(filepath.Join(dir, locksDir, "00112233445566ff")); !os.IsNotExist(err) {
		t.Errorf("the dead owner's lock file stayed: %v", err)
	}
	start(false)
	if p, err := s.Check(ctx); err != nil || len(p) != 0 {
		t.Errorf("check: %v %v", p, err)
	}
}
