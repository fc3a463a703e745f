//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/testnet"
	"pail/internal/testpki"
)

// The names of the doctor's test domain: example.org, whose mail host
// mx.example.org sends from and serves HTTPS (the MTA-STS policy) on
// doctorAddr, an address of the loopback network that no other test
// uses, so that port 443 (where senders, and the doctor, fetch
// policies, RFC 8461 §3.3) is free on it.
const (
	doctorDomain = "example.org"
	doctorHost   = "mx.example.org"
	doctorAddr   = "127.0.0.47"
	doctorRev    = "0.0.127.in-addr.arpa" // the reverse zone holding doctorAddr's PTR
	doctorBL     = "bl.example.net"       // the blocklist in [inbound] dnsbl
)

// doctorLine is one line of pail doctor's output.
type doctorLine struct {
	status, text string
}

// doctorRun is one run of `pail doctor -c FILE`.
type doctorRun struct {
	out   string
	exit  int
	lines map[string]doctorLine // by check
	order []string              // the checks in the order printed
}

// runDoctor runs the pail binary's doctor on config, with env added to
// its environment, and parses its lines ("STATUS  check: detail").
func runDoctor(t *testing.T, config string, env ...string) doctorRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pailBin, "doctor", "-c", config)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := doctorRun{lines: map[string]doctorLine{}}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("pail doctor: %v\n%s", err, stderr.Bytes())
	}
	r.out = stdout.String() + stderr.String()
	for l := range strings.Lines(stdout.String()) {
		l = strings.TrimSuffix(l, "\n")
		status, rest, ok := strings.Cut(l, " ")
		check, _, ok2 := strings.Cut(strings.TrimLeft(rest, " "), ": ")
		if !ok || !ok2 {
			t.Fatalf("pail doctor printed %q, not STATUS  check: detail\n%s", l, r.out)
		}
		if _, dup := r.lines[check]; dup {
			t.Fatalf("pail doctor printed check %q twice:\n%s", check, r.out)
		}
		r.lines[check] = doctorLine{status: status, text: l}
		r.order = append(r.order, check)
	}
	return r
}

// expect checks that the run printed exactly checks, in that order,
// each with its status in want, that the line of each check in texts
// holds its text, and that the exit status is exit.
func (r doctorRun) expect(t *testing.T, checks []string, want map[string]string, exit int, texts map[string]string) {
	t.Helper()
	if !slices.Equal(r.order, checks) {
		t.Errorf("pail doctor printed the checks\n  %s\nwant\n  %s", strings.Join(r.order, "\n  "), strings.Join(checks, "\n  "))
	}
	for _, c := range checks {
		if got := r.lines[c].status; got != want[c] {
			t.Errorf("%s: %s, want %s: %s", c, got, want[c], r.lines[c].text)
		}
	}
	for c, text := range texts {
		if !strings.Contains(r.lines[c].text, text) {
			t.Errorf("%s: line %q lacks %q", c, r.lines[c].text, text)
		}
	}
	if r.exit != exit {
		t.Errorf("pail doctor exited %d, want %d", r.exit, exit)
	}
	if t.Failed() {
		t.Logf("pail doctor:\n%s", r.out)
	}
}

// doctorZones are the master files pail's name server serves for the
// doctor's test: the domain's records as pail dns-records prints them
// plus mx.example.org's address, the reverse zone with its PTR, and the
// blocklist. Each variant of the test changes one thing of it.
type doctorZones struct {
	dir     string
	serial  uint32
	records []string // pail dns-records's lines (master-file syntax)
	// replace maps "NAME TYPE" of printed records to the records
	// published instead ("" for none).
	replace map[string]string
	noPTR   bool
}

// files writes the three zones, their SOA serial s.serial, and returns
// their paths.
func (z *doctorZones) files(t *testing.T) []string {
	t.Helper()
	soa := func(origin string) string {
		return fmt.Sprintf("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1.example.org. hostmaster.example.org. %d 3600 900 604800 120\n  IN NS ns1.example.org.\n", origin, z.serial)
	}
	var dom strings.Builder
	dom.WriteString(soa(doctorDomain))
	fmt.Fprintf(&dom, "ns1 IN A 127.0.0.1\nmx IN A %s\n", doctorAddr)
	for _, l := range z.records {
		rr, err := dns.NewRR(l)
		if err != nil || rr == nil {
			t.Fatalf("pail dns-records line %q: %v", l, err)
		}
		key := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
		if rep, ok := z.replace[key]; ok {
			if rep != "" {
				dom.WriteString(rep + "\n")
			}
			continue
		}
		dom.WriteString(l + "\n")
	}
	rev := soa(doctorRev)
	if !z.noPTR {
		last := doctorAddr[strings.LastIndexByte(doctorAddr, '.')+1:]
		rev += fmt.Sprintf("%s IN PTR %s.\n", last, doctorHost)
	}
	// RFC 5782 §5: 127.0.0.2 is listed by every list, for testing;
	// doctorAddr is not.
	bl := soa(doctorBL) + "2.0.0.127 IN A 127.0.0.2\n2.0.0.127 IN TXT \"RFC 5782 test entry\"\n"
	var paths []string
	for name, text := range map[string]string{doctorDomain: dom.String(), doctorRev: rev, doctorBL: bl} {
		p := filepath.Join(z.dir, name+".zone")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// waitSerial waits until the name server at addr serves every zone of
// the test with SOA serial.
func waitSerial(t *testing.T, addr string, serial uint32) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for _, origin := range []string{doctorDomain, doctorRev, doctorBL} {
		for {
			m := new(dns.Msg)
			m.SetQuestion(origin+".", dns.TypeSOA)
			in, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, addr)
			if err == nil && len(in.Answer) == 1 {
				if soa, ok := in.Answer[0].(*dns.SOA); ok && soa.Serial == serial {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s SOA: serial %d not served after %v (%v, %v)", origin, serial, startTimeout, in, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestDoctorZones runs the real `pail doctor -c FILE` against zones
// served by pail's own name server (`pail dns`, the configured
// resolver) for example.org, whose pail serve sends from 127.0.0.47 and
// serves the MTA-STS policy on 127.0.0.47:443 with a certificate from a
// test CA (trusted through SSL_CERT_FILE, as the system's roots), with
// [inbound] dnsbl naming a list and [doctor] dnsbl not set.
//
// The correct zone (MX, the host's A, its PTR in the reverse zone, and
// SPF, DKIM, DMARC, MTA-STS and TLS-RPT as pail dns-records prints them)
// gets OK on every line, the blocklist of [inbound] dnsbl checked
// included, and exit status 0. Then one thing at a time is broken and
// only its own line FAILs, with exit status 1: an ed25519 DKIM key
// published that is not the one in use, the PTR record missing, and an
// SPF record that does not allow the address.
func TestDoctorZones(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("this test serves MTA-STS on %s:443, the port senders fetch from; run the interop suite as root", doctorAddr)
	}
	httpsAddr := net.JoinHostPort(doctorAddr, "443")
	if ln, err := net.Listen("tcp", httpsAddr); err != nil {
		t.Fatalf("%s is not free for the test's MTA-STS policy host: %v", httpsAddr, err)
	} else {
		ln.Close()
	}
	dir := t.TempDir()

	// A certificate for every name clients use, from a CA the doctor
	// trusts as the system's roots.
	ca := testpki.NewCA(t)
	leaf := ca.LeafValid(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour),
		doctorHost, "mta-sts."+doctorDomain, "autoconfig."+doctorDomain)
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, caFile, "CERTIFICATE", ca.Cert.Raw)
	writePEM(t, certFile, "CERTIFICATE", leaf.Certificate...)
	writeKey(t, keyFile, leaf)
	doctorEnv := []string{"SSL_CERT_FILE=" + caFile}

	s := &server{
		t:        t,
		dir:      dir,
		config:   filepath.Join(dir, "pail.toml"),
		dataDir:  filepath.Join(dir, "data"),
		smtpAddr: testnet.Addr(t),
		log:      &syncBuffer{},
	}
	// The configuration; resolver is set once the name server runs.
	conf := fmt.Sprintf(`hostname = %q
domains  = [%q]
data_dir = %q

[listen]
smtp  = %q
https = %q

[tls]
cert = %q
key  = %q

[outbound]
source = %q

[inbound]
dnsbl = [%q]
`, doctorHost, doctorDomain, s.dataDir, s.smtpAddr, httpsAddr, certFile, keyFile, doctorAddr, doctorBL)
	if err := os.WriteFile(s.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("config %s:\n%s", s.config, conf)
			t.Logf("pail serve output:\n%s", s.log.tail(maxLogDump))
		}
	})

	// The records to publish, as pail dns-records prints them (it makes
	// the DKIM keys pail serve then signs with).
	printed := string(s.pail("", []string{"dns-records", doctorDomain}))
	z := &doctorZones{dir: dir, serial: 1}
	var rsaName, edName string
	for l := range strings.Lines(printed) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		z.records = append(z.records, l)
		rr, err := dns.NewRR(l)
		if err != nil || rr == nil {
			t.Fatalf("pail dns-records line %q: %v", l, err)
		}
		if txt, ok := rr.(*dns.TXT); ok && strings.HasSuffix(txt.Hdr.Name, "._domainkey."+doctorDomain+".") {
			switch v := strings.Join(txt.Txt, ""); {
			case strings.Contains(v, "k=rsa;"):
				rsaName = txt.Hdr.Name
			case strings.Contains(v, "k=ed25519;"):
				edName = txt.Hdr.Name
			}
		}
	}
	if rsaName == "" || edName == "" {
		t.Fatalf("pail dns-records printed no rsa and ed25519 DKIM records:\n%s", printed)
	}
	args := []string{}
	for _, p := range z.files(t) {
		args = append(args, "--zone", p)
	}
	ns := startPailDNS(t, args...)
	conf = fmt.Sprintf("resolver = %q\n", ns.addr) + conf
	if err := os.WriteFile(s.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	if err := waitListening(httpsAddr, s.proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("https: %v", err)
	}

	checks := []string{
		"outbound address",
		"mx " + doctorDomain,
		"ptr " + doctorAddr,
		"spf " + doctorDomain,
		"dkim " + strings.TrimSuffix(rsaName, "."),
		"dkim " + strings.TrimSuffix(edName, "."),
		"dmarc " + doctorDomain,
		"mta-sts " + doctorDomain,
		"tls-rpt " + doctorDomain,
		"certificate " + doctorHost,
		"certificate mta-sts." + doctorDomain,
		"dnsbl " + doctorBL,
		"data directory",
	}
	allOK := map[string]string{}
	for _, c := range checks {
		allOK[c] = "OK"
	}
	with := func(check, status string) map[string]string {
		m := maps.Clone(allOK)
		m[check] = status
		return m
	}

	t.Run("correct", func(t *testing.T) {
		runDoctor(t, s.config, doctorEnv...).expect(t, checks, allOK, 0, map[string]string{
			"outbound address":                doctorAddr + " (outbound.source)",
			"mx " + doctorDomain:              "MX " + doctorHost + " is this host",
			"ptr " + doctorAddr:               doctorAddr + " → " + doctorHost + " → " + doctorAddr + " (forward-confirmed)",
			"spf " + doctorDomain:             "pass for " + doctorAddr,
			"mta-sts " + doctorDomain:         "mode enforce, mx " + doctorHost + ", fetched over verified HTTPS",
			"certificate " + doctorHost:       "issued by pail test CA",
			"dnsbl " + doctorBL:               "not listed: " + doctorAddr,
			"tls-rpt " + doctorDomain:         "reports go to mailto:postmaster@" + doctorDomain,
			"dmarc " + doctorDomain:           "p=reject",
			"certificate mta-sts.example.org": "issued by pail test CA",
		})
	})

	// variant publishes the zones with one change and runs the doctor.
	variant := func(name string, change func(z *doctorZones), check string, text string) {
		t.Run(name, func(t *testing.T) {
			z.replace, z.noPTR = nil, false
			change(z)
			z.serial++
			z.files(t)
			ns.hup()
			waitSerial(t, ns.addr, z.serial)
			runDoctor(t, s.config, doctorEnv...).expect(t, checks, with(check, "FAIL"), 1, map[string]string{check: text})
		})
	}

	otherKey, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	variant("wrong DKIM key", func(z *doctorZones) {
		z.replace = map[string]string{edName + " TXT": fmt.Sprintf("%s 3600 IN TXT \"v=DKIM1; k=ed25519; p=%s\"", edName, base64.StdEncoding.EncodeToString(otherKey))}
	}, "dkim "+strings.TrimSuffix(edName, "."), "is not the active ed25519 key in use: receivers fail its signatures")
	variant("missing PTR", func(z *doctorZones) { z.noPTR = true },
		"ptr "+doctorAddr, doctorAddr+" has no PTR record")
	// The address of the provider the domain used to send through.
	variant("SPF without the address", func(z *doctorZones) {
		z.replace = map[string]string{doctorDomain + ". TXT": doctorDomain + `. 3600 IN TXT "v=spf1 ip4:192.0.2.10 -all"`}
	}, "spf "+doctorDomain, "does not allow the outbound address: fail for "+doctorAddr+" -- fix: add ip4:"+doctorAddr+" to the SPF record of "+doctorDomain)
}
