//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pail/internal/testnet"
)

// serviceUID and serviceGID stand for the service user a data directory
// belongs to: nobody and nogroup, which every Debian system has.
const (
	serviceUID = 65534
	serviceGID = 65534
)

// ownedSetup is a data directory that belongs to serviceUID, a config file
// and a copy of the pail binary, all where that user can reach them (the
// tests' own temporary directories are root's alone).
type ownedSetup struct {
	t        *testing.T
	base     string
	bin      string
	config   string
	dataDir  string
	imapAddr string
}

func newOwnedSetup(t *testing.T) *ownedSetup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test runs admin commands as root on a data directory of uid %d; run the interop suite as root", serviceUID)
	}
	base, err := os.MkdirTemp("", "pail-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	o := &ownedSetup{t: t, base: base, bin: filepath.Join(base, "pail"), config: filepath.Join(base, "pail.toml"),
		dataDir: filepath.Join(base, "data"), imapAddr: testnet.Addr(t)}
	b, err := os.ReadFile(pailBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(o.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(o.dataDir, serviceUID, serviceGID); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("hostname = %q\ndomains = [%q]\ndata_dir = %q\n\n[listen]\nimap = %q\n",
		testHostname, testDomain, o.dataDir, o.imapAddr)
	if err := os.WriteFile(o.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return o
}

// asRoot runs an admin command as root (this process's user) and fails the
// test if it fails.
func (o *ownedSetup) asRoot(stdin string, args ...string) string {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, append([]string{"-c", o.config}, args...)...)
	cmd.Dir = o.base
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		o.t.Fatalf("pail %s (as root): %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serveAsService starts `pail serve` as serviceUID and returns the process
// and its output so far.
func (o *ownedSetup) serveAsService() (*process, *syncBuffer) {
	o.t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(o.bin, "serve", "-c", o.config)
	cmd.Dir = o.base
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = stopTimeout
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: serviceUID, Gid: serviceGID}}
	if err := cmd.Start(); err != nil {
		o.t.Fatalf("starting pail serve as uid %d: %v", serviceUID, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	o.t.Cleanup(func() {
		if !p.exited() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				cmd.Process.Kill()
				<-p.done
			}
		}
	})
	return p, out
}

// notOwned lists what under dir does not belong to serviceUID:serviceGID.
func notOwned(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != serviceUID || st.Gid != serviceGID {
			bad = append(bad, fmt.Sprintf("%s (%d:%d)", path, st.Uid, st.Gid))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestAdminAsRootKeepsDataOwner runs the admin commands as root on a data
// directory that belongs to the service user: every file they create
// belongs to that user, and `pail serve` running as that user starts,
// accepts a login and sees what the commands stored.
func TestAdminAsRootKeepsDataOwner(t *testing.T) {
	o := newOwnedSetup(t)
	user := "bob@" + testDomain
	o.asRoot(passwordFor(user)+"\n", "user", "add", "--password-stdin", user)
	o.asRoot("", "alias", "add", "crew@"+testDomain, user)
	// An mbox only root can read still imports: it is opened before the
	// command changes identity.
	mbox := filepath.Join(o.base, "root-only.mbox")
	if err := os.WriteFile(mbox, []byte("From jack@town.test Mon Jan  2 15:04:05 2006\nSubject: imported\n\nold mail\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.asRoot("", "import", user, mbox)
	o.asRoot("Subject: from cron\n\nbackup done\n", "sendmail", "-f", "root@"+testDomain, user)
	o.asRoot("", "check")
	o.asRoot("", "queue", "list")
	if bad := notOwned(t, o.dataDir); len(bad) > 0 {
		t.Fatalf("admin commands run as root left files the service user does not own:\n%s", strings.Join(bad, "\n"))
	}

	p, out := o.serveAsService()
	if err := waitListening(o.imapAddr, p, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("pail serve as uid %d did not come up: %v\n%s", serviceUID, err, out.tail(maxLogDump))
	}
	c, err := net.DialTimeout("tcp", o.imapAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "a LOGIN %s %s\r\nb SELECT INBOX\r\nc LOGOUT\r\n", user, passwordFor(user))
	dialogue, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	for _, want := range []string{"\r\na OK", "* 2 EXISTS", "\r\nb OK"} {
		if !bytes.Contains(dialogue, []byte(want)) {
			t.Fatalf("IMAP as the service user: no %q in\n%s\nserver output:\n%s", want, dialogue, out.tail(maxLogDump))
		}
	}
	if bad := notOwned(t, o.dataDir); len(bad) > 0 {
		t.Fatalf("after pail serve, files not owned by the service user:\n%s", strings.Join(bad, "\n"))
	}
}

// TestAdminAsRootTakesOwnersGroups: a data directory of the service user
// whose group is root's (65534:0) does not leave an admin command run as
// root with group 0: it takes the owner's own groups from the user database,
// so what it creates is the service user's and group's.
func TestAdminAsRootTakesOwnersGroups(t *testing.T) {
	o := newOwnedSetup(t)
	if err := os.Chown(o.dataDir, serviceUID, 0); err != nil {
		t.Fatal(err)
	}
	o.asRoot(passwordFor("bob@"+testDomain)+"\n", "user", "add", "--password-stdin", "bob@"+testDomain)
	var bad []string
	for _, p := range notOwned(t, o.dataDir) {
		if p != fmt.Sprintf("%s (%d:0)", o.dataDir, serviceUID) { // the directory itself keeps its group
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("an admin command run as root on a directory of group 0 left:\n%s", strings.Join(bad, "\n"))
	}
}

// TestStoreNotWritableSaysWhy: a database file left owned by root (mode
// 0644), the store's or the queue's, stops a server running as the service
// user with a message that names the file, its owner and the process's
// user, not SQLite's bare "attempt to write a readonly database".
func TestStoreNotWritableSaysWhy(t *testing.T) {
	for _, name := range []string{"pail.db", "queue/queue.db"} {
		t.Run(name, func(t *testing.T) {
			o := newOwnedSetup(t)
			o.asRoot(passwordFor("bob@"+testDomain)+"\n", "user", "add", "--password-stdin", "bob@"+testDomain)
			o.asRoot("", "queue", "list")
			db := filepath.Join(o.dataDir, name)
			if err := os.Chown(db, 0, 0); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(db, 0o644); err != nil {
				t.Fatal(err)
			}
			p, out := o.serveAsService()
			select {
			case <-p.done:
			case <-time.After(startTimeout):
				t.Fatalf("pail serve as uid %d kept running on a database it cannot write:\n%s", serviceUID, out.tail(maxLogDump))
			}
			if p.err == nil {
				t.Fatalf("pail serve exited 0 on a database it cannot write:\n%s", out.String())
			}
			msg := out.String()
			for _, want := range []string{db + " is owned by root (uid 0", "runs as nobody (uid 65534)"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the error does not say %q:\n%s", want, msg)
				}
			}
		})
	}
}
