//go:build interop

package interop

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"pail/internal/testnet"
)

// Edge addresses of the CDN test: loopback aliases, which Linux routes
// without set-up.
var cdnEdges = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

// cdnWithdrawal bounds how long a stopped edge may stay in answers: the
// health interval is 300ms and two failures withdraw it.
const cdnWithdrawal = 5 * time.Second

// edge is one `pail proxy` process.
type edge struct {
	t    *testing.T
	addr string
	args []string
	log  *syncBuffer
	proc *process
}

func (e *edge) start() {
	e.t.Helper()
	argv := append([]string{"proxy", "--listen", e.addr}, e.args...)
	fmt.Fprintf(e.log, "=== pail %s ===\n", strings.Join(argv, " "))
	cmd := exec.Command(pailBin, argv...)
	cmd.Stdout, cmd.Stderr = e.log, e.log
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting pail proxy: %v", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	e.proc = p
	if err := waitListening(e.addr, p, time.Now().Add(startTimeout)); err != nil {
		e.t.Fatalf("pail proxy did not come up on %s: %v\n%s", e.addr, err, e.log.String())
	}
}

func (e *edge) stop() {
	p := e.proc
	if p == nil {
		return
	}
	e.proc = nil
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// freeEdgePort returns a TCP port free on every edge address.
func freeEdgePort(t *testing.T) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", cdnEdges[0]+":0")
		if err != nil {
			t.Fatalf("loopback alias %s: %v", cdnEdges[0], err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ok := true
		for _, a := range cdnEdges[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(a, port))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		ln.Close()
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every edge address")
	return ""
}

// TestCDN is the whole CDN of issue 9: an origin, three pail web-cache
// edges and pail's name server with a pool over them. Clients from two
// subnets (ECS) are sent to different edges; each edge serves the
// content, the second time from its cache; an edge that stops leaves the
// answers within seconds and comes back when it starts again.
func TestCDN(t *testing.T) {
	needPeer(t, "kdig")
	needPeer(t, "dig")
	var originHits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "content of %s from the origin\n", r.URL.Path)
	}))
	t.Cleanup(origin.Close)

	port := freeEdgePort(t)
	edges := map[string]*edge{}
	for _, a := range cdnEdges {
		e := &edge{t: t, addr: net.JoinHostPort(a, port), args: []string{"--origin", origin.URL, "--name", "edge-" + a}, log: &syncBuffer{}}
		e.start()
		edges[a] = e
		t.Cleanup(func() {
			e.stop()
			if t.Failed() {
				t.Logf("edge %s output:\n%s", a, e.log.tail(maxLogDump))
			}
		})
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "dns.toml")
	var b strings.Builder
	fmt.Fprintf(&b, "[dns]\nhealth_interval = \"300ms\"\nhealth_timeout = \"250ms\"\n\n")
	fmt.Fprintf(&b, "[[dns.zones]]\norigin = \"cdn.test\"\nrecords = [\"@ NS ns1\", \"ns1 A 127.0.0.1\"]\n\n")
	fmt.Fprintf(&b, "[[dns.pools]]\nname = \"www.cdn.test\"\nttl = 10\nedges = [\n")
	for i, a := range cdnEdges {
		loc := []string{"eu", "us", "asia"}[i]
		fmt.Fprintf(&b, "  { address = %q, location = %q, health = \"http://%s/_pail/metrics\" },\n", a, loc, net.JoinHostPort(a, port))
	}
	fmt.Fprintf(&b, "]\n\n[dns.locations]\n\"10.1.0.0/16\" = \"eu\"\n\"10.2.0.0/16\" = \"us\"\n")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startPailDNS(t, "-c", cfg)

	// ask returns the edge the name server gives a client in subnet, and
	// checks the ECS scope (the /16 of the location table).
	ask := func(tool, subnet string) string {
		t.Helper()
		out := digAt(t, tool, d.addr, "+subnet="+subnet, "www.cdn.test", "A")
		if !strings.Contains(out, "CLIENT-SUBNET: "+subnet+"/16") {
			t.Errorf("%s +subnet=%s: no scope /16 in\n%s", tool, subnet, out)
		}
		var got []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 5 && f[0] == "www.cdn.test." && f[3] == "A" {
				got = append(got, f[4])
			}
		}
		if len(got) != 1 {
			t.Fatalf("%s +subnet=%s: answers %v\n%s", tool, subnet, got, out)
		}
		return got[0]
	}
	eu, us := ask("kdig", "10.1.7.0/24"), ask("dig", "10.2.7.0/24")
	if eu != "127.0.0.2" || us != "127.0.0.3" {
		t.Fatalf("eu client sent to %s, us client to %s; want 127.0.0.2 and 127.0.0.3", eu, us)
	}

	// Each client fetches through its edge: the first time from the
	// origin, the second from the edge's cache.
	fetch := func(edgeAddr, path string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(edgeAddr, port)+path, nil)
		req.Host = "www.cdn.test"
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("GET %s via %s: %v", path, edgeAddr, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s via %s: %s\n%s", path, edgeAddr, resp.Status, body)
		}
		return string(body), resp.Header.Get("Cache-Status")
	}
	for _, a := range []string{eu, us} {
		body, cs := fetch(a, "/logo.txt")
		if body != "content of /logo.txt from the origin\n" || strings.Contains(cs, "; hit") {
			t.Errorf("first fetch via %s: %q, Cache-Status %q", a, body, cs)
		}
		body, cs = fetch(a, "/logo.txt")
		if body != "content of /logo.txt from the origin\n" || !strings.Contains(cs, "edge-"+a+"; hit") {
			t.Errorf("second fetch via %s: %q, Cache-Status %q, want a hit", a, body, cs)
		}
	}
	if n := originHits.Load(); n != 2 {
		t.Errorf("origin asked %d times, want 2 (once per edge)", n)
	}

	// The eu edge stops: within seconds eu clients go elsewhere.
	waitEdge := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(cdnWithdrawal)
		for {
			got := ask("kdig", "10.1.7.0/24")
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: eu client still sent to %s after %v", what, got, cdnWithdrawal)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	start := time.Now()
	edges["127.0.0.2"].stop()
	waitEdge("eu edge stopped", func(a string) bool { return a != "127.0.0.2" })
	t.Logf("stopped edge withdrawn after %v", time.Since(start).Round(100*time.Millisecond))
	if body, _ := fetch(ask("kdig", "10.1.7.0/24"), "/logo.txt"); !strings.Contains(body, "content of /logo.txt") {
		t.Errorf("fetch through the fallback edge: %q", body)
	}
	start = time.Now()
	edges["127.0.0.2"].start()
	waitEdge("eu edge restarted", func(a string) bool { return a == "127.0.0.2" })
	t.Logf("restarted edge back after %v", time.Since(start).Round(100*time.Millisecond))
	if got := ask("dig", "10.2.7.0/24"); got != "127.0.0.3" {
		t.Errorf("us client moved to %s while the eu edge came and went", got)
	}
}

// mailZones are the zones of TestMXThroughPailDNS: hill's MX is on its own
// loopback address, port 25, as a real MX is.
const mailZones = `
[[dns.zones]]
origin = "hill.test"
records = ["@ NS ns1", "ns1 A 127.0.0.1", "@ MX 10 mx", "mx A 127.0.0.5"]

[[dns.zones]]
origin = "town.test"
records = ["@ NS ns1.hill.test.", "@ MX 10 mx", "mx A 127.0.0.1"]
`

// TestMXThroughPailDNS is item 4 of issue 9: town and hill use pail's own
// name server (run by hill's `pail serve` as its [dns] service) as their
// resolver; dig finds hill's MX there, and mail from alice@town.test to
// bob@hill.test is delivered through that lookup to port 25 of hill's
// address.
func TestMXThroughPailDNS(t *testing.T) {
	needPeer(t, "swaks")
	needPeer(t, "dig")
	dnsAddr := freeUDPTCPAddr(t)
	townSMTP, townSub := testnet.Addr(t), testnet.Addr(t)
	const hillSMTP = "127.0.0.5:25"
	if ln, err := net.Listen("tcp", hillSMTP); err != nil {
		t.Fatalf("hill's MX address %s is not free (the test runs as root on Linux): %v", hillSMTP, err)
	} else {
		ln.Close()
	}
	town := newMailServer(t, "mx.town.test", "town.test", townSMTP, townSub, dnsAddr, "25")
	hill := newMailServer(t, "mx.hill.test", "hill.test", hillSMTP, "", dnsAddr, "25")
	f, err := os.OpenFile(hill.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[dns]\nlisten = %q\n%s", dnsAddr, mailZones)
	f.Close()
	town.addUser("alice@town.test")
	hill.addUser("bob@hill.test")
	hill.start()
	if err := waitDNS(dnsAddr, hill.proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("hill's name server: %v", err)
	}
	town.start()

	if got := strings.TrimSpace(digAt(t, "dig", dnsAddr, "+short", "MX", "hill.test")); got != "10 mx.hill.test." {
		t.Fatalf("dig MX hill.test: %q", got)
	}
	if got := strings.TrimSpace(digAt(t, "dig", dnsAddr, "+short", "A", "mx.hill.test")); got != "127.0.0.5" {
		t.Fatalf("dig A mx.hill.test: %q", got)
	}
	runSwaks(t, town.submissionAddr, "--tls",
		"--auth", "PLAIN", "--auth-user", "alice@town.test", "--auth-password", passwordFor("alice@town.test"),
		"--from", "alice@town.test", "--to", "bob@hill.test",
		"--header", "Subject: via pail DNS", "--body", "Found you through your MX.")
	m := waitForMessage(t, hill, town, "bob@hill.test", "via pail DNS")
	checkRelayed(t, m)
	if !strings.Contains(string(m.body()), "Found you through your MX.") {
		t.Errorf("body %q", m.body())
	}
}
