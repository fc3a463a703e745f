//go:build interop

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pail/internal/testnet"
)

// Test-wide bounds.
const (
	startTimeout = 20 * time.Second // from exec to the SMTP port accepting
	stopTimeout  = 10 * time.Second // from SIGTERM to exit, then SIGKILL
	adminTimeout = 60 * time.Second // one admin command (user add, export, ...)
	peerTimeout  = 2 * time.Minute  // one run of a third-party client
	maxLogDump   = 64 << 10         // bytes of server output logged on failure
)

// Names every test server uses (DESIGN.md, "Configuration contract").
const (
	testHostname = "mx.hill.test"
	testDomain   = "hill.test"
	maxMsgBytes  = 1048576
	maxRcpts     = 5
)

// pailBin is the binary that TestMain builds once for every test.
var pailBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds ./cmd/pail into a temporary directory and runs the
// tests. A build failure fails the whole suite: there is nothing to test.
// When PAIL_BIN names a binary, the suite tests that one instead (a
// release build, say) and builds nothing.
func buildAndRun(m *testing.M) int {
	if bin := os.Getenv("PAIL_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "interop: PAIL_BIN: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "interop: testing PAIL_BIN=%s\n", abs)
		pailBin = abs
		return m.Run()
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "pail-interop-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "pail")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/pail")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: FAIL: go build ./cmd/pail in %s: %v\n%s", root, err, out)
		return 1
	}
	pailBin = bin
	return m.Run()
}

// moduleRoot walks up from the working directory to the directory that
// holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// needPeer returns the path of a third-party program the test drives, and
// fails the test when it is missing: the interop suite never skips.
func needPeer(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("interop peer %q is missing (%v); run scripts/install-deps.sh", name, err)
	}
	return path
}

// serverOptions shapes the config file of one test server.
type serverOptions struct {
	// submission also starts the submission service.
	submission bool
	// limits are extra lines for the [limits] table, such as
	// `command_timeout = "2s"`.
	limits []string
	// listen are extra lines for the [listen] table, such as
	// `https = "127.0.0.1:8443"`.
	listen []string
	// inbound are lines for the [inbound] table, such as
	// `dnsbl = ["bl.test"]`. The authentication checks are off unless
	// they set `checks`: a server without a name server of its own would
	// ask the system's about every sender.
	inbound []string
}

// server is one `pail serve` process with its own config file and data
// directory. It can be stopped, killed and started again on the same data.
type server struct {
	t              *testing.T
	dir            string
	config         string
	dataDir        string
	smtpAddr       string
	submissionAddr string
	log            *syncBuffer
	proc           *process
	starts         int
	// env is added to pail serve's environment (SSL_CERT_FILE=...).
	env []string
}

// process is one run of `pail serve`.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result; read only after done is closed
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startServer writes a config file for a fresh server and starts it.
func startServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	s := newServer(t, opts)
	s.start()
	return s
}

// newServer writes the config file of a server on free loopback ports but
// does not start it; admin commands work on it already. The server is
// stopped when the test ends, and its output is logged if the test failed.
func newServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{
		t:        t,
		dir:      dir,
		config:   filepath.Join(dir, "pail.toml"),
		dataDir:  filepath.Join(dir, "data"),
		smtpAddr: testnet.Addr(t),
		log:      &syncBuffer{},
	}
	if opts.submission {
		s.submissionAddr = testnet.Addr(t)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "hostname = %q\n", testHostname)
	fmt.Fprintf(&b, "domains  = [%q]\n", testDomain)
	fmt.Fprintf(&b, "data_dir = %q\n\n", s.dataDir)
	fmt.Fprintf(&b, "[listen]\nsmtp = %q\n", s.smtpAddr)
	if s.submissionAddr != "" {
		fmt.Fprintf(&b, "submission = %q\n", s.submissionAddr)
	}
	for _, l := range opts.listen {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "\n[limits]\nmax_message_bytes = %d\nmax_recipients = %d\n", maxMsgBytes, maxRcpts)
	for _, l := range opts.limits {
		b.WriteString(l + "\n")
	}
	// Most servers have no name server of their own, and the inbound
	// checks would ask the system's about every sender; the tests of the
	// checks (inbound_checks_test.go) give their servers one and turn
	// them on.
	b.WriteString("\n[inbound]\n")
	if !slices.ContainsFunc(opts.inbound, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "checks") }) {
		b.WriteString("checks = false\n")
	}
	for _, l := range opts.inbound {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(s.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("config %s:\n%s", s.config, b.String())
			t.Logf("pail serve output:\n%s", s.log.tail(maxLogDump))
		}
	})
	return s
}

// start runs `pail serve -c FILE` and waits until every configured port
// accepts connections.
func (s *server) start() {
	s.t.Helper()
	if s.proc != nil && !s.proc.exited() {
		s.t.Fatalf("server already running")
	}
	s.starts++
	fmt.Fprintf(s.log, "=== pail serve -c %s (start %d) ===\n", s.config, s.starts)

	cmd := exec.Command(pailBin, "serve", "-c", s.config)
	cmd.Dir = s.dir
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	cmd.WaitDelay = stopTimeout
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting pail serve: %v", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	deadline := time.Now().Add(startTimeout)
	for _, addr := range []string{s.smtpAddr, s.submissionAddr} {
		if addr == "" {
			continue
		}
		if err := waitListening(addr, p, deadline); err != nil {
			if p.exited() {
				s.proc = nil // reported here, not again by stop
			}
			s.t.Fatalf("pail serve did not come up on %s: %v", addr, err)
		}
	}
}

// waitListening polls addr until it accepts a connection, the process
// exits or the deadline passes.
func waitListening(addr string, p *process, deadline time.Time) error {
	for {
		if p.exited() {
			return fmt.Errorf("pail serve exited: %v", p.err)
		}
		c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections after %v: %v", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends a running server with SIGTERM, then SIGKILL if it does not exit
// in time. A server that has exited by itself fails the test: no input may
// crash the process.
func (s *server) stop() {
	s.t.Helper()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	if p.exited() {
		s.t.Errorf("pail serve exited by itself before the test stopped it: %v", p.err)
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		s.t.Errorf("pail serve did not exit within %v of SIGTERM; killing it", stopTimeout)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the server with SIGKILL, as a power cut or the OOM killer would,
// and waits for it to be gone.
func (s *server) kill() {
	s.t.Helper()
	p := s.proc
	if p == nil {
		s.t.Fatalf("kill: server not running")
	}
	s.proc = nil
	if p.exited() {
		s.t.Fatalf("pail serve exited by itself before the test killed it: %v", p.err)
	}
	p.cmd.Process.Kill()
	<-p.done
	fmt.Fprintf(s.log, "=== killed with SIGKILL ===\n")
}

// pail runs an admin command against the server's config file and returns
// its standard output. args are the subcommand words followed by flags and
// arguments; "-c FILE" is put right after the subcommand words.
func (s *server) pail(stdin string, words []string, args ...string) []byte {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	argv := append(append(append([]string{}, words...), "-c", s.config), args...)
	cmd := exec.CommandContext(ctx, pailBin, argv...)
	cmd.Dir = s.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("pail %s: %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(argv, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// addUser creates an account; its password is passwordFor(addr).
func (s *server) addUser(addr string) {
	s.t.Helper()
	s.pail(passwordFor(addr)+"\n", []string{"user", "add"}, "--password-stdin", addr)
}

// passwordFor is the password the tests give each account.
func passwordFor(addr string) string {
	return "pw-" + strings.ReplaceAll(addr, "@", "-at-") + "-9f3k"
}

// addAlias makes alias deliver to targets.
func (s *server) addAlias(alias string, targets ...string) {
	s.t.Helper()
	s.pail("", []string{"alias", "add"}, append([]string{alias}, targets...)...)
}

// export returns the messages in addr's INBOX.
func (s *server) export(addr string) []mboxMessage {
	s.t.Helper()
	return s.exportFolder(addr, "")
}

// exportFolder returns the messages in one of addr's folders; "" is the
// default (INBOX).
func (s *server) exportFolder(addr, folder string) []mboxMessage {
	s.t.Helper()
	var args []string
	if folder != "" {
		args = append(args, "--folder", folder)
	}
	out := s.pail("", []string{"export"}, append(args, addr)...)
	msgs, err := parseMbox(out)
	if err != nil {
		s.t.Fatalf("pail export %s: %v\noutput:\n%s", addr, err, clip(out, 4000))
	}
	return msgs
}

// syncBuffer is a bytes.Buffer that the server's output copiers and the test
// can use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n bytes written, marking what it left out.
func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.buf.Bytes()
	if len(p) <= n {
		return string(p)
	}
	return fmt.Sprintf("... (%d bytes left out)\n%s", len(p)-n, p[len(p)-n:])
}

// clip shortens b for a failure message.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return fmt.Sprintf("%s\n... (%d more bytes)", b[:n], len(b)-n)
}
