//go:build interop

package interop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/dane"
	"pail/internal/testnet"
)

// The DNSSEC harness: zones signed with ldns-signzone (ldnsutils), served
// by NSD and validated by unbound from the zones' own trust anchors (no
// root hints, no root key), as /work/shared/peers/README.md's "DNSSEC"
// row runs them. A test that needs a validating resolver calls
// startDNSSEC and points pail's `resolver` at its Resolver address.

// zoneMode is how the harness serves a zone.
type zoneMode int

const (
	// zoneSigned: signed, and unbound trusts its key: answers carry AD.
	zoneSigned zoneMode = iota
	// zoneBogus: signed and trusted, then one byte of its first TLSA
	// record changed after signing: unbound answers SERVFAIL ("signature
	// crypto failed").
	zoneBogus
	// zoneStripped: served unsigned although unbound has a trust anchor
	// for it (signatures stripped on the way): SERVFAIL ("no DNSKEY").
	zoneStripped
	// zoneInsecure: unsigned, no trust anchor: answers come without AD,
	// as for any zone that does not use DNSSEC.
	zoneInsecure
)

func (m zoneMode) String() string {
	return [...]string{"signed", "bogus", "stripped", "insecure"}[m]
}

// dnssecZone is one zone for startDNSSEC.
type dnssecZone struct {
	// origin is the zone's name, such as "dane.test" (no final dot).
	origin string
	// records are zone-file lines, relative to the origin or absolute;
	// the harness adds the SOA, the NS and the name server's address.
	records []string
	mode    zoneMode
}

// daneZone returns the zone of a recipient domain the way a DANE
// receiver publishes it: `domain MX 10 mx.domain`, `mx.domain A
// 127.0.0.1`, and one TLSA record at _PORT._tcp.mx.domain for each rdata
// ("3 1 1 <hex>", see tlsaRData). port is the SMTP port pail will connect
// to (a test port, not 25: the TLSA name carries it).
func daneZone(domain string, port int, mode zoneMode, tlsa ...string) dnssecZone {
	z := dnssecZone{origin: domain, mode: mode, records: []string{
		"@ IN MX 10 mx",
		"mx IN A 127.0.0.1",
	}}
	for _, rd := range tlsa {
		z.records = append(z.records, fmt.Sprintf("_%d._tcp.mx IN TLSA %s", port, rd))
	}
	return z
}

// tlsaRData returns the TLSA RDATA "USAGE SELECTOR MTYPE hex" that
// associates cert, as an operator publishes it.
func tlsaRData(t *testing.T, usage, selector, matchingType uint8, cert *x509.Certificate) string {
	t.Helper()
	rr, err := dane.NewTLSA("x.", usage, selector, matchingType, cert)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %d %d %s", rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate)
}

// daneCert is a certificate made by the test with its key, and their
// files for a server's [tls] cert (the chain, leaf first) and key.
type daneCert struct {
	tls      tls.Certificate
	leaf     *x509.Certificate
	certFile string
	keyFile  string
}

// newDANECert makes a self-signed ECDSA P-256 certificate for names,
// valid from an hour ago for a day, and writes cert.pem and key.pem
// under a new directory in dir.
func newDANECert(t *testing.T, dir string, names ...string) daneCert {
	t.Helper()
	return makeDANECert(t, dir, nil, false, names)
}

// newDANECA makes a self-signed CA certificate (for DANE-TA records) the
// way newDANECert makes a server's.
func newDANECA(t *testing.T, dir, name string) daneCert {
	t.Helper()
	return makeDANECert(t, dir, nil, true, []string{name})
}

// newDANECertFrom makes a server certificate for names issued by ca. Its
// chain (tls.Certificate and cert.pem) is the certificate then ca's, so
// that a server presents the DANE-TA anchor, as RFC 7671 §5.2 asks.
func newDANECertFrom(t *testing.T, dir string, ca daneCert, names ...string) daneCert {
	t.Helper()
	return makeDANECert(t, dir, &ca, false, names)
}

func makeDANECert(t *testing.T, dir string, issuer *daneCert, isCA bool, names []string) daneCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = names
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	parent, signer := tmpl, crypto.Signer(key)
	if issuer != nil {
		parent, signer = issuer.leaf, issuer.tls.PrivateKey.(crypto.Signer)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp(dir, "cert-")
	if err != nil {
		t.Fatal(err)
	}
	c := daneCert{
		tls:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		leaf:     leaf,
		certFile: filepath.Join(d, "cert.pem"),
		keyFile:  filepath.Join(d, "key.pem"),
	}
	chainPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if issuer != nil {
		c.tls.Certificate = append(c.tls.Certificate, issuer.leaf.Raw)
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuer.leaf.Raw})...)
	}
	writeHarnessFile(t, c.certFile, chainPEM, 0o644)
	writeHarnessFile(t, c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return c
}

// dnssecDNS is NSD serving the zones and unbound validating them.
type dnssecDNS struct {
	t *testing.T
	// resolver is unbound's address (127.0.0.1:PORT, UDP and TCP): the
	// validating resolver pail's `resolver` setting should name.
	resolver string
	// authority is NSD's address, which answers without validation.
	authority string
	dir       string
	daemons   []*daemon
}

// daemon is one NSD or unbound process.
type daemon struct {
	name string
	log  *syncBuffer
	proc *process
}

// startDNSSEC writes, signs and serves zones: NSD on one free loopback
// port, unbound on another with a stub zone and (for zoneSigned,
// zoneBogus and zoneStripped) a trust anchor for each. It returns once
// both answer over UDP and TCP; both are stopped when the test ends, and
// their logs are shown if it failed. A missing program fails the test.
func startDNSSEC(t *testing.T, zones ...dnssecZone) *dnssecDNS {
	t.Helper()
	nsdBin := needPeer(t, "nsd")
	unboundBin := needPeer(t, "unbound")
	needPeer(t, "ldns-keygen")
	needPeer(t, "ldns-signzone")

	d := &dnssecDNS{t: t, dir: t.TempDir(), authority: testnet.Addr(t), resolver: testnet.Addr(t)}
	t.Cleanup(d.stop)
	for _, sub := range []string{"nsd", "zones"} {
		if err := os.MkdirAll(filepath.Join(d.dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var anchors []string
	for _, z := range zones {
		if anchor := d.writeZone(z); anchor != "" {
			anchors = append(anchors, anchor)
		}
	}
	nsdConf := filepath.Join(d.dir, "nsd.conf")
	writeHarnessFile(t, nsdConf, []byte(d.nsdConf(zones)), 0o644)
	unboundConf := filepath.Join(d.dir, "unbound.conf")
	writeHarnessFile(t, unboundConf, []byte(d.unboundConf(zones, anchors)), 0o644)

	d.start("nsd", d.authority, nsdBin, "-d", "-c", nsdConf)
	d.start("unbound", d.resolver, unboundBin, "-d", "-c", unboundConf)
	return d
}

// writeZone writes z's zone file (signed, tampered or plain, per its
// mode) for NSD and returns the path of its trust anchor, or "" when
// unbound is to get none.
func (d *dnssecDNS) writeZone(z dnssecZone) string {
	t := d.t
	t.Helper()
	origin := strings.TrimSuffix(z.origin, ".")
	zdir := filepath.Join(d.dir, "zones", origin)
	if err := os.MkdirAll(zdir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL 300\n", origin)
	fmt.Fprintf(&b, "@ IN SOA ns1.%s. hostmaster.%s. 1 3600 900 604800 300\n", origin, origin)
	fmt.Fprintf(&b, "@ IN NS ns1.%s.\nns1 IN A 127.0.0.1\n", origin)
	for _, r := range z.records {
		b.WriteString(r + "\n")
	}
	plain := filepath.Join(zdir, "zone")
	writeHarnessFile(t, plain, []byte(b.String()), 0o644)
	served := filepath.Join(zdir, "served")

	if z.mode == zoneInsecure {
		copyHarnessFile(t, plain, served)
		return ""
	}
	// README "DNSSEC" row: a KSK and a ZSK, ECDSA P-256; the KSK's DS
	// (written by ldns-keygen -k) is the trust anchor.
	ksk := toolOutput(t, zdir, "ldns-keygen", "-a", "ECDSAP256SHA256", "-k", origin)
	zsk := toolOutput(t, zdir, "ldns-keygen", "-a", "ECDSAP256SHA256", origin)
	anchor := filepath.Join(zdir, ksk+".ds")
	if z.mode == zoneStripped {
		copyHarnessFile(t, plain, served)
		return anchor
	}
	toolOutput(t, zdir, "ldns-signzone", "-n", "-o", origin, "-f", served, plain, ksk, zsk)
	if z.mode == zoneBogus {
		tamperTLSA(t, served)
	}
	return anchor
}

// tamperTLSA changes the last hex digit of the first TLSA record of a
// signed zone file, so that its RRSIG no longer matches.
func tamperTLSA(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 8 && f[3] == "TLSA" {
			last := l[len(l)-1]
			repl := byte('0')
			if last == '0' {
				repl = '1'
			}
			lines[i] = l[:len(l)-1] + string(repl)
			writeHarnessFile(t, file, []byte(strings.Join(lines, "\n")), 0o644)
			return
		}
	}
	t.Fatalf("tamperTLSA: no TLSA record in %s to tamper with", file)
}

// nsdConf is nsd-dnssec.conf from the peers directory, with the zones.
func (d *dnssecDNS) nsdConf(zones []dnssecZone) string {
	host, port := dnsHostPort(d.t, d.authority)
	s := filepath.Join(d.dir, "nsd")
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  ip-address: %s@%s
  port: %s
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: %q
  pidfile: %q
  xfrdfile: %q
  zonelistfile: %q
  xfrdir: %q
  logfile: %q
  hide-version: yes
  verbosity: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
`, host, port, port, filepath.Join(d.dir, "zones"), filepath.Join(s, "nsd.pid"), filepath.Join(s, "xfrd.state"),
		filepath.Join(s, "zone.list"), s, filepath.Join(s, "nsd.log"))
	for _, z := range zones {
		origin := strings.TrimSuffix(z.origin, ".")
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", origin, filepath.Join(origin, "served"))
	}
	return b.String()
}

// unboundConf is unbound-dnssec.conf from the peers directory, with a
// stub zone per zone and the trust anchors.
func (d *dnssecDNS) unboundConf(zones []dnssecZone, anchors []string) string {
	host, port := dnsHostPort(d.t, d.resolver)
	nsdHost, nsdPort := dnsHostPort(d.t, d.authority)
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  interface: %s@%s
  port: %s
  do-ip6: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  logfile: ""
  use-syslog: no
  verbosity: 1
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  val-log-level: 2
  harden-dnssec-stripped: yes
`, host, port, port, d.dir, filepath.Join(d.dir, "unbound.pid"))
	for _, a := range anchors {
		fmt.Fprintf(&b, "  trust-anchor-file: %q\n", a)
	}
	// unbound answers the RFC 6761 names (.test, .invalid, ...) itself
	// with NXDOMAIN unless told not to.
	tlds := map[string]bool{}
	for _, z := range zones {
		labels := dns.SplitDomainName(z.origin)
		tld := labels[len(labels)-1]
		if !tlds[tld] {
			tlds[tld] = true
			fmt.Fprintf(&b, "  local-zone: \"%s.\" nodefault\n", tld)
		}
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "stub-zone:\n  name: \"%s.\"\n  stub-addr: %s@%s\n", strings.TrimSuffix(z.origin, "."), nsdHost, nsdPort)
	}
	return b.String()
}

// start runs one daemon in the foreground and waits until addr answers.
func (d *dnssecDNS) start(name, addr, bin string, args ...string) {
	t := d.t
	t.Helper()
	dm := &daemon{name: name, log: &syncBuffer{}}
	fmt.Fprintf(dm.log, "=== %s %s ===\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = d.dir
	cmd.Stdout, cmd.Stderr = dm.log, dm.log
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	dm.proc = p
	d.daemons = append(d.daemons, dm)
	if err := waitDNS(addr, p, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("%s did not come up on %s: %v\n%s", name, addr, err, dm.log.String())
	}
}

// stop ends the daemons (unbound first) and shows their logs if the test
// failed. A daemon that exited by itself fails the test.
func (d *dnssecDNS) stop() {
	for i := len(d.daemons) - 1; i >= 0; i-- {
		dm := d.daemons[i]
		p := dm.proc
		if p.exited() {
			d.t.Errorf("%s exited by itself: %v", dm.name, p.err)
		} else {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				d.t.Errorf("%s did not exit within %v of SIGTERM", dm.name, stopTimeout)
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		if d.t.Failed() {
			d.t.Logf("%s output:\n%s", dm.name, dm.log.tail(maxLogDump))
		}
	}
	d.daemons = nil
	if d.t.Failed() {
		if b, err := os.ReadFile(filepath.Join(d.dir, "nsd", "nsd.log")); err == nil {
			d.t.Logf("nsd.log:\n%s", clip(b, maxLogDump))
		}
	}
}

// query asks unbound for name/qtype with the DO bit (over TCP if the UDP
// answer is truncated) and returns its answer.
func (d *dnssecDNS) query(name string, qtype uint16) *dns.Msg {
	d.t.Helper()
	return dnsQuery(d.t, d.resolver, name, qtype, false)
}

// dnsQuery sends one query with RD and DO (and CD when cd is set) to addr.
func dnsQuery(t *testing.T, addr, name string, qtype uint16, cd bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	m.CheckingDisabled = cd
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, addr)
	}
	if err != nil {
		t.Fatalf("query %s %s at %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

// tlsaOf returns the TLSA records of an answer.
func tlsaOf(m *dns.Msg) []*dns.TLSA {
	var out []*dns.TLSA
	for _, rr := range m.Answer {
		if t, ok := rr.(*dns.TLSA); ok {
			out = append(out, t)
		}
	}
	return out
}

// toolOutput runs a program in dir and returns its standard output, trimmed; a
// failure fails the test.
func toolOutput(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, needPeer(t, name), args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func dnsHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func writeHarnessFile(t *testing.T, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
}

func copyHarnessFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeHarnessFile(t, to, b, 0o644)
}
