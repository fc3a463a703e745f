//go:build interop

package interop

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// imapServer is a test server with the imap and imaps listeners on.
type imapServer struct {
	*server
	imapAddr  string
	imapsAddr string
}

// startIMAPServer starts a server whose config also lists imap and imaps
// on free loopback ports, with one account, bob@hill.test.
func startIMAPServer(t *testing.T) *imapServer {
	t.Helper()
	s := &imapServer{server: newServer(t, serverOptions{}), imapAddr: testnet.Addr(t), imapsAddr: testnet.Addr(t)}
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	if strings.Count(cfg, "[listen]\n") != 1 {
		t.Fatalf("harness config has changed:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "[listen]\n", fmt.Sprintf("[listen]\nimap = %q\nimaps = %q\n", s.imapAddr, s.imapsAddr), 1)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.addUser("bob@" + testDomain)
	s.start()
	deadline := time.Now().Add(startTimeout)
	for _, a := range []string{s.imapAddr, s.imapsAddr} {
		if err := waitListening(a, s.proc, deadline); err != nil {
			t.Fatalf("imap not listening on %s: %v", a, err)
		}
	}
	return s
}

// runPeer runs a third-party program with a time limit and returns its
// combined output; a failure fails the test with that output.
func runPeer(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) string {
	t.Helper()
	path := needPeer(t, name)
	cmd := exec.Command(path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = time.Second
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: timed out\n%s", name, out.String())
	}
	return out.String()
}
