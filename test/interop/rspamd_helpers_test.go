//go:build interop

package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pail/internal/testnet"
)

// The rspamd harness: Debian's rspamd 3.x with Debian's own
// /etc/rspamd/rspamd.conf and a LOCAL_CONFDIR of the test's, on loopback
// ports of its own, with every module that does DNS or HTTP lookups off
// and the resolver pointed at a closed port (no network), and a
// redis-server for the Bayes statistics (rspamd 3.4 learns only into
// redis). /work/shared/peers/README.md's rspamd row runs it the same way.

// rspamdStartTimeout bounds rspamd's start: the first start compiles
// its hyperscan databases into DBDIR, 10-15 s on this kind of machine.
const rspamdStartTimeout = 90 * time.Second

// rspamdPassword is the controller's password; secure_ip names no
// loopback address, so every controller request must carry it.
const rspamdPassword = "q1-interop"

// rspamdModulesOff are the modules that would look things up on the
// network (DNS, HTTP, maps.rspamd.com) or need state the test does not
// give them.
var rspamdModulesOff = []string{
	"arc", "asn", "bimi", "dcc", "dkim", "dkim_signing", "dmarc", "emails", "fuzzy_check",
	"greylist", "hfilter", "history_redis", "multimap", "mx_check", "neural", "once_received",
	"phishing", "ratelimit", "rbl", "replies", "reputation", "rspamd_update", "spf",
	"url_redirector", "whitelist",
}

// rspamdPeer is a running rspamd and its redis.
type rspamdPeer struct {
	t          *testing.T
	dir        string
	normal     string // URL of the normal worker (checks)
	controller string // URL of the controller (learning, stats)
	daemons    []*daemon
}

// startRspamd starts redis-server and rspamd on free loopback ports and
// waits until both workers answer /ping. They stop when the test ends.
func startRspamd(t *testing.T) *rspamdPeer {
	t.Helper()
	rspamdBin := needPeer(t, "rspamd")
	redisBin := needPeer(t, "redis-server")
	const confFile = "/etc/rspamd/rspamd.conf"
	if _, err := os.Stat(confFile); err != nil {
		t.Fatalf("interop peer rspamd: %v; run scripts/install-deps.sh", err)
	}
	// Not t.TempDir: rspamd's workers run as _rspamd and must reach it.
	dir, err := os.MkdirTemp("", "pail-rspamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &rspamdPeer{t: t, dir: dir}
	t.Cleanup(p.stop)

	redisAddr := testnet.Addr(t)
	redisHost, redisPort := dnsHostPort(t, redisAddr)
	mkdir := func(parts ...string) string {
		d := filepath.Join(append([]string{dir}, parts...)...)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	redisDir := mkdir("redis")
	writeHarnessFile(t, filepath.Join(dir, "redis.conf"), []byte(fmt.Sprintf(
		"bind %s\nport %s\nprotected-mode yes\ndaemonize no\ndir %s\nlogfile \"\"\nsave \"\"\nappendonly no\n",
		redisHost, redisPort, redisDir)), 0o644)
	p.start("redis-server", redisAddr, redisBin, filepath.Join(dir, "redis.conf"))

	r := mkdir("rspamd")
	local, override := mkdir("rspamd", "local.d"), mkdir("rspamd", "override.d")
	for _, m := range rspamdModulesOff {
		writeHarnessFile(t, filepath.Join(local, m+".conf"), []byte("enabled = false;\n"), 0o644)
	}
	files := map[string]string{
		filepath.Join(local, "classifier-bayes.conf"): fmt.Sprintf("backend = \"redis\";\nservers = %q;\n", redisAddr),
		filepath.Join(local, "logging.inc"):           "type = \"console\";\nlevel = \"notice\";\n",
		// No resolver: lookups that are left go to a closed port and
		// fail at once. The test patterns make GTUBE's variants force
		// the other actions ("YJS*..." add header, "ZJS*..." rewrite
		// subject, "AJS*..." no action), as "XJS*..." forces reject.
		filepath.Join(local, "options.inc"): "dns {\n  nameserver = [\"127.0.0.1:1\"];\n  timeout = 0.1s;\n  retransmits = 1;\n}\n" +
			"enable_test_patterns = true;\n",
	}
	normalAddr, controllerAddr := testnet.Addr(t), testnet.Addr(t)
	files[filepath.Join(override, "worker-normal.inc")] = fmt.Sprintf("bind_socket = %q;\ncount = 1;\n", normalAddr)
	files[filepath.Join(override, "worker-controller.inc")] = fmt.Sprintf(
		"bind_socket = %q;\ncount = 1;\npassword = %q;\nenable_password = %q;\nsecure_ip = \"192.0.2.255\";\nstatic_dir = \"${WWWDIR}\";\n",
		controllerAddr, rspamdPassword, rspamdPassword)
	files[filepath.Join(override, "worker-proxy.inc")] = fmt.Sprintf("bind_socket = %q;\ncount = 0;\n", testnet.Addr(t))
	for name, text := range files {
		writeHarnessFile(t, name, []byte(text), 0o644)
	}
	args := []string{"-f", "-c", confFile}
	db, run, logDir := mkdir("rspamd", "db"), mkdir("rspamd", "run"), mkdir("rspamd", "log")
	if os.Geteuid() == 0 {
		// rspamd will not run its workers as root.
		u, err := user.Lookup("_rspamd")
		if err != nil {
			t.Fatalf("interop peer rspamd: no _rspamd user (%v); run scripts/install-deps.sh", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{db, run, logDir} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "-u", "_rspamd", "-g", "_rspamd")
	}
	args = append(args, "--var=LOCAL_CONFDIR="+r, "--var=DBDIR="+db, "--var=RUNDIR="+run, "--var=LOGDIR="+logDir)
	p.normal, p.controller = "http://"+normalAddr, "http://"+controllerAddr
	p.start("rspamd", normalAddr, rspamdBin, args...)
	deadline := time.Now().Add(rspamdStartTimeout)
	for _, u := range []string{p.normal, p.controller} {
		for {
			if dm := p.daemons[len(p.daemons)-1]; dm.proc.exited() {
				t.Fatalf("rspamd exited: %v\n%s", dm.proc.err, dm.log.tail(maxLogDump))
			}
			if body, err := p.get(u + "/ping"); err == nil && strings.TrimSpace(body) == "pong" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rspamd did not answer %s/ping within %v\n%s", u, rspamdStartTimeout, p.daemons[len(p.daemons)-1].log.tail(maxLogDump))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return p
}

// start runs one daemon in the foreground; redis is waited for until its
// port accepts connections, rspamd by startRspamd.
func (p *rspamdPeer) start(name, addr, bin string, args ...string) {
	t := p.t
	t.Helper()
	dm := &daemon{name: name, log: &syncBuffer{}}
	fmt.Fprintf(dm.log, "=== %s %s ===\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = dm.log, dm.log
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	proc := &process{cmd: cmd, done: make(chan struct{})}
	go func() { proc.err = cmd.Wait(); close(proc.done) }()
	dm.proc = proc
	p.daemons = append(p.daemons, dm)
	if name == "rspamd" {
		return
	}
	if err := waitListening(addr, proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("%s did not come up on %s: %v\n%s", name, addr, err, dm.log.String())
	}
}

// stop ends rspamd, then redis, and shows their output if the test
// failed. A daemon that exited by itself fails the test.
func (p *rspamdPeer) stop() {
	for i := len(p.daemons) - 1; i >= 0; i-- {
		dm := p.daemons[i]
		if dm.proc.exited() {
			p.t.Errorf("%s exited by itself: %v", dm.name, dm.proc.err)
		} else {
			dm.proc.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-dm.proc.done:
			case <-time.After(stopTimeout):
				p.t.Errorf("%s did not exit within %v of SIGTERM", dm.name, stopTimeout)
				dm.proc.cmd.Process.Kill()
				<-dm.proc.done
			}
		}
		if p.t.Failed() {
			p.t.Logf("%s output:\n%s", dm.name, dm.log.tail(maxLogDump))
		}
	}
	p.daemons = nil
}

// rspamdHTTP bounds one request of the harness to rspamd.
var rspamdHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// get fetches u with the controller password.
func (p *rspamdPeer) get(u string) (string, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Password", rspamdPassword)
	resp, err := rspamdHTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(b), err
}

// learned returns the controller's count of learned messages (/stat).
func (p *rspamdPeer) learned() int {
	p.t.Helper()
	body, err := p.get(p.controller + "/stat")
	if err != nil {
		p.t.Fatalf("rspamd /stat: %v: %s", err, body)
	}
	var st struct {
		Learned *int `json:"learned"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Learned == nil {
		p.t.Fatalf("rspamd /stat: %v: %s", err, clip([]byte(body), 2000))
	}
	return *st.Learned
}
