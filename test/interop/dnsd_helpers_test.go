//go:build interop

package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// pailDNS is one `pail dns` process.
type pailDNS struct {
	t    *testing.T
	addr string
	args []string
	log  *syncBuffer
	proc *process
}

// startPailDNS runs `pail dns --listen ADDR` with args (--zone FILE, -c
// FILE ...) on a free loopback port and waits until it answers over UDP
// and TCP; it is stopped when the test ends.
func startPailDNS(t *testing.T, args ...string) *pailDNS {
	t.Helper()
	d := &pailDNS{t: t, addr: freeUDPTCPAddr(t), args: args, log: &syncBuffer{}}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("pail dns output:\n%s", d.log.tail(maxLogDump))
		}
	})
	return d
}

func (d *pailDNS) start() {
	d.t.Helper()
	argv := append([]string{"dns", "--listen", d.addr}, d.args...)
	fmt.Fprintf(d.log, "=== pail %s ===\n", strings.Join(argv, " "))
	cmd := exec.Command(pailBin, argv...)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("starting pail dns: %v", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	d.proc = p
	if err := waitDNS(d.addr, p, time.Now().Add(startTimeout)); err != nil {
		d.t.Fatalf("pail dns did not come up on %s: %v\n%s", d.addr, err, d.log.String())
	}
}

// hup sends SIGHUP: reload the zones.
func (d *pailDNS) hup() {
	d.t.Helper()
	if err := d.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
}

func (d *pailDNS) stop() {
	p := d.proc
	if p == nil {
		return
	}
	d.proc = nil
	if p.exited() {
		d.t.Errorf("pail dns exited by itself: %v", p.err)
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		d.t.Errorf("pail dns did not exit within %v of SIGTERM", stopTimeout)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitDNS polls addr with a query over UDP and TCP until both answer, p
// exits or the deadline passes.
func waitDNS(addr string, p *process, deadline time.Time) error {
	for _, n := range []string{"udp", "tcp"} {
		for {
			if p != nil && p.exited() {
				return fmt.Errorf("exited: %v", p.err)
			}
			m := new(dns.Msg)
			m.SetQuestion("wait.invalid.", dns.TypeA)
			c := &dns.Client{Net: n, Timeout: 250 * time.Millisecond}
			if _, _, err := c.Exchange(m, addr); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("no %s answer after %v: %v", n, startTimeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// freeUDPTCPAddr returns a 127.0.0.1 address whose port was free over
// both UDP and TCP a moment ago.
func freeUDPTCPAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			ln.Close()
			return pc.LocalAddr().String()
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return ""
}

// dig runs dig or kdig (tool) against the server at addr and returns its
// output. A missing tool fails the test.
func digAt(t *testing.T, tool, addr string, args ...string) string {
	t.Helper()
	bin := needPeer(t, tool)
	host, port, _ := net.SplitHostPort(addr)
	argv := append([]string{"@" + host, "-p", port}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(argv, " "), err, out.Bytes())
	}
	return out.String()
}
