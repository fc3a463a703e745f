package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pail/internal/auth"
)

// passwordIs reports whether addr's password is pw.
func (p *pailT) passwordIs(addr, pw string) bool {
	p.t.Helper()
	e := &env{ctx: context.Background(), config: p.config}
	_, st, err := e.openStore()
	if err != nil {
		p.t.Fatal(err)
	}
	defer st.Close()
	acct, err := st.AccountByAddress(e.ctx, addr)
	if err != nil {
		p.t.Fatal(err)
	}
	ok, err := auth.CheckPassword(acct.PasswordHash, pw)
	if err != nil {
		p.t.Fatal(err)
	}
	return ok
}

// openPTY opens a pseudo-terminal: the master, the test's side, and the
// slave, the terminal the command reads its password from.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// screen collects what the command writes to the terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// typeAt waits until the screen shows prompt for the n-th time and the
// terminal has echo off (the command is reading), then types line.
func typeAt(t *testing.T, master, slave *os.File, scr *screen, prompt string, n int, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(scr.String(), prompt) >= n && tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no prompt %q (#%d) with echo off; screen %q", prompt, n, scr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := master.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
}

// runOnTerminal runs the CLI with the pty slave as its stdin and stderr,
// types the lines at the prompts, and returns the screen and the error.
func (p *pailT) runOnTerminal(lines []string, args ...string) (string, error) {
	p.t.Helper()
	master, slave := openPTY(p.t)
	scr := &screen{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			scr.mu.Lock()
			scr.buf.Write(b[:n])
			scr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		e := &env{ctx: context.Background(), stdin: slave, stdout: &out, stderr: slave}
		done <- run(e, append([]string{"-c", p.config}, args...))
	}()
	prompts := []string{"Password: ", "Password (again): "}
	for i, l := range lines {
		typeAt(p.t, master, slave, scr, prompts[i%2], i/2+1, l)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("pail %v did not finish; screen %q", args, scr.String())
	}
	time.Sleep(50 * time.Millisecond) // let the reader catch the last output
	return scr.String(), err
}

// TestPasswordOnTerminal: on a real pseudo-terminal, `pail user add` and
// `pail user passwd` without --password-stdin ask twice with echo off (the
// password never appears on the screen), and refuse two that differ,
// changing nothing.
func TestPasswordOnTerminal(t *testing.T) {
	p := newPail(t)
	scr, err := p.runOnTerminal([]string{"s3cret-one", "s3cret-one"}, "user", "add", "jill@hill.test")
	if err != nil {
		t.Fatalf("user add: %v; screen %q", err, scr)
	}
	if strings.Contains(scr, "s3cret") || !strings.Contains(scr, "Password: ") || !strings.Contains(scr, "Password (again): ") {
		t.Errorf("user add's screen %q: the password was echoed or not asked twice", scr)
	}
	if !p.passwordIs("jill@hill.test", "s3cret-one") {
		t.Error("user add did not set the password typed")
	}

	scr, err = p.runOnTerminal([]string{"first-try", "frist-try"}, "user", "add", "bob@hill.test")
	if err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("user add with two passwords that differ: %v", err)
	}
	if strings.Contains(scr, "try") {
		t.Errorf("screen %q shows the password", scr)
	}
	if out := p.must("", "user", "list"); out != "jill@hill.test\tadmin\n" {
		t.Errorf("after a refused user add:\n%s", out)
	}

	scr, err = p.runOnTerminal([]string{"new-pass", "new-pass-typo"}, "user", "passwd", "jill@hill.test")
	if err == nil || !strings.Contains(err.Error(), "differ") || strings.Contains(scr, "new-pass") {
		t.Errorf("user passwd with two that differ: %v; screen %q", err, scr)
	}
	if !p.passwordIs("jill@hill.test", "s3cret-one") {
		t.Error("a refused user passwd changed the password")
	}
	scr, err = p.runOnTerminal([]string{"new-pass", "new-pass"}, "user", "passwd", "jill@hill.test")
	if err != nil || strings.Contains(scr, "new-pass") {
		t.Errorf("user passwd: %v; screen %q", err, scr)
	}
	if !p.passwordIs("jill@hill.test", "new-pass") {
		t.Error("user passwd did not set the password typed")
	}
}

// TestPasswordNotTerminal: without --password-stdin and without a
// terminal, user add and user passwd refuse, pointing to the flag, and
// change nothing (a script's piped password is not taken unasked).
func TestPasswordNotTerminal(t *testing.T) {
	p := newPail(t)
	p.must("old\n", "user", "add", "jill@hill.test", "--password-stdin")
	for _, args := range [][]string{{"user", "add", "bob@hill.test"}, {"user", "passwd", "jill@hill.test"}} {
		if _, err := p.run("new\n", args...); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
			t.Errorf("pail %v on a pipe: %v", args, err)
		}
	}
	if out := p.must("", "user", "list"); out != "jill@hill.test\tadmin\n" {
		t.Errorf("user list:\n%s", out)
	}
	if !p.passwordIs("jill@hill.test", "old") {
		t.Error("the password changed")
	}
}
