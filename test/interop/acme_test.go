//go:build interop

package interop

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// Bounds of the ACME tests.
const (
	// issueTimeout is from pail's start to a certificate in use: pebble
	// validates at once (PEBBLE_VA_NOSLEEP), so a few seconds.
	issueTimeout = 60 * time.Second
	// retryTimeout is how long the tests wait for pail's next attempt
	// after a failure (pail's first backoff is 65 seconds).
	retryTimeout = 150 * time.Second
)

// acmeHosts are the default [acme] hosts of the test server: the host
// name, and mta-sts. and autoconfig. of its domain.
var acmeHosts = []string{testHostname, "mta-sts." + testDomain, "autoconfig." + testDomain}

// acmeZone resolves every ACME host to loopback, where pail's http and
// https listeners are, for pebble's validation.
const acmeZone = `$ORIGIN hill.test.
$TTL 60
@          IN SOA ns1 hostmaster 1 3600 900 604800 60
           IN NS  ns1
ns1        IN A   127.0.0.1
mx         IN A   127.0.0.1
mta-sts    IN A   127.0.0.1
autoconfig IN A   127.0.0.1
`

// pebble is one run of Let's Encrypt's test CA.
type pebble struct {
	t        *testing.T
	dir      string
	config   string
	listen   string // the ACME directory's address
	mgmt     string // the management interface (roots)
	certFile string // pebble's own TLS certificate
	dns      string // the name server it resolves through
	env      []string
	log      *syncBuffer
	proc     *process
}

// newPebble prepares pebble on free ports, resolving names through dns
// and validating HTTP-01 at 127.0.0.1:httpPort and TLS-ALPN-01 at
// 127.0.0.1:tlsPort. It does not start it.
func newPebble(t *testing.T, dns string, httpPort, tlsPort string) *pebble {
	t.Helper()
	needPeer(t, "pebble")
	dir := t.TempDir()
	p := &pebble{
		t: t, dir: dir, config: filepath.Join(dir, "pebble-config.json"),
		listen: testnet.Addr(t), mgmt: testnet.Addr(t), certFile: filepath.Join(dir, "cert.pem"), dns: dns, log: &syncBuffer{},
	}
	keyFile := filepath.Join(dir, "key.pem")
	writeLocalhostCert(t, p.certFile, keyFile)
	cfg := fmt.Sprintf(`{"pebble": {"listenAddress": %q, "managementListenAddress": %q,
  "certificate": %q, "privateKey": %q, "httpPort": %s, "tlsPort": %s,
  "ocspResponderURL": "", "externalAccountBindingRequired": false}}`,
		p.listen, p.mgmt, p.certFile, keyFile, httpPort, tlsPort)
	if err := os.WriteFile(p.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Validation at once, and no nonces rejected on purpose
	// (/work/shared/peers/README.md, "pebble").
	p.env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.log.tail(maxLogDump))
		}
	})
	return p
}

// directory is the ACME directory URL.
func (p *pebble) directory() string { return "https://" + p.listen + "/dir" }

// start runs pebble and waits until its directory answers.
func (p *pebble) start() {
	p.t.Helper()
	cmd := exec.Command(needPeer(p.t, "pebble"), "-config", p.config, "-dnsserver", p.dns)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting pebble: %v", err)
	}
	proc := &process{cmd: cmd, done: make(chan struct{})}
	go func() { proc.err = cmd.Wait(); close(proc.done) }()
	p.proc = proc
	client := p.httpClient()
	deadline := time.Now().Add(startTimeout)
	for {
		if proc.exited() {
			p.t.Fatalf("pebble exited: %v\n%s", proc.err, p.log.String())
		}
		res, err := client.Get(p.directory())
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pebble's directory did not answer within %v: %v\n%s", startTimeout, err, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *pebble) stop() {
	proc := p.proc
	if proc == nil {
		return
	}
	p.proc = nil
	if proc.exited() {
		p.t.Errorf("pebble exited by itself: %v", proc.err)
		return
	}
	proc.cmd.Process.Kill()
	<-proc.done
}

// httpClient trusts pebble's own TLS certificate.
func (p *pebble) httpClient() *http.Client {
	pool := x509.NewCertPool()
	b, err := os.ReadFile(p.certFile)
	if err != nil || !pool.AppendCertsFromPEM(b) {
		p.t.Fatalf("pebble's certificate %s: %v", p.certFile, err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// roots returns the root that pebble issues under (a new one each start),
// from its management interface.
func (p *pebble) roots() *x509.CertPool {
	p.t.Helper()
	res, err := p.httpClient().Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		p.t.Fatalf("pebble /roots/0: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		p.t.Fatalf("pebble /roots/0: %s %v", res.Status, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		p.t.Fatalf("pebble /roots/0 is not PEM:\n%s", b)
	}
	return pool
}

// writeLocalhostCert writes a self-signed certificate for localhost and
// 127.0.0.1, pebble's own (the openssl line of the peers README, in Go).
func writeLocalhostCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// acmeServer is a test server with the ACME listeners and [acme] on.
type acmeServer struct {
	*server
	imapsAddr, httpAddr, httpsAddr string
	// more are the other TLS listeners, by name, when every one is on.
	more map[string]string
}

// newACMEServer allots the ports of a server with smtp, imaps, http and
// (when https) https listeners, before pebble is configured with them;
// configure writes its config.
func newACMEServer(t *testing.T, https bool) *acmeServer {
	t.Helper()
	s := &acmeServer{server: newServer(t, serverOptions{}), imapsAddr: testnet.Addr(t), httpAddr: testnet.Addr(t)}
	if https {
		s.httpsAddr = testnet.Addr(t)
	}
	return s
}

// configure writes the config file: [acme] pointing at directory,
// trusting caFile, with the extra [acme] lines.
func (s *acmeServer) configure(directory, caFile string, acmeLines ...string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "hostname = %q\ndomains = [%q]\ndata_dir = %q\n\n", testHostname, testDomain, s.dataDir)
	fmt.Fprintf(&b, "[listen]\nsmtp = %q\nimaps = %q\nhttp = %q\n", s.smtpAddr, s.imapsAddr, s.httpAddr)
	for _, name := range []string{"submission", "submissions", "imap", "pop3", "pop3s"} {
		if a := s.more[name]; a != "" {
			fmt.Fprintf(&b, "%s = %q\n", name, a)
		}
	}
	if s.httpsAddr != "" {
		fmt.Fprintf(&b, "https = %q\n", s.httpsAddr)
	}
	fmt.Fprintf(&b, "\n[acme]\nenabled = true\ndirectory = %q\nca_file = %q\nemail = \"postmaster@hill.test\"\n", directory, caFile)
	for _, l := range acmeLines {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(s.config, []byte(b.String()), 0o600); err != nil {
		s.t.Fatal(err)
	}
	cfg := b.String()
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("acme config:\n%s", cfg)
		}
	})
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitLog waits until the server's output has n lines containing every
// one of parts.
func waitLog(t *testing.T, log *syncBuffer, timeout time.Duration, n int, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if countLines(log.String(), parts...) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d log lines with %q within %v", n, parts, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countLines(text string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// tlsCheck is how a client looks at the certificate it is given: verified
// against roots for host, with or without sending the name (SNI).
func tlsCheck(roots *x509.CertPool, sni bool) *tls.Config {
	if sni {
		return &tls.Config{RootCAs: roots, ServerName: testHostname}
	}
	// No ServerName: Go's client sends no SNI, as mail clients that
	// connect by address do; the chain is checked by hand.
	return &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: testHostname})
			return err
		},
	}
}

// imapsCert connects to IMAPS with cfg, reads the greeting and returns the
// server's certificate.
func imapsCert(t *testing.T, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "* OK") {
		return nil, fmt.Errorf("IMAPS greeting %q: %v", line, err)
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// starttlsCert says EHLO and STARTTLS on the SMTP (MX, port 25) listener
// with net/smtp and returns the server's certificate.
func starttlsCert(t *testing.T, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, testHostname)
	if err != nil {
		return nil, err
	}
	if err := c.Hello("client.example"); err != nil {
		return nil, err
	}
	if err := c.StartTLS(cfg); err != nil {
		return nil, err
	}
	cs, _ := c.TLSConnectionState()
	c.Quit()
	return cs.PeerCertificates[0], nil
}

// starttlsAny upgrades a connection to TLS as each protocol does — SMTP
// EHLO and STARTTLS (RFC 3207), IMAP STARTTLS (RFC 9051 §6.2.1), POP3 STLS
// (RFC 2595 §4) — or at once for implicit TLS, and returns the server's
// certificate.
func starttlsAny(t *testing.T, proto, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	if proto == "smtp" {
		return starttlsCert(t, addr, cfg)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	expect := func(prefix string) error {
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, prefix) {
			return fmt.Errorf("%s: %q, want %s: %v", proto, line, prefix, err)
		}
		return nil
	}
	switch proto {
	case "imap":
		if err := expect("* OK"); err != nil {
			return nil, err
		}
		fmt.Fprintf(conn, "a STARTTLS\r\n")
		if err := expect("a OK"); err != nil {
			return nil, err
		}
	case "pop3":
		if err := expect("+OK"); err != nil {
			return nil, err
		}
		fmt.Fprintf(conn, "STLS\r\n")
		if err := expect("+OK"); err != nil {
			return nil, err
		}
	}
	c := tls.Client(conn, cfg)
	if err := c.Handshake(); err != nil {
		return nil, fmt.Errorf("%s: %w", proto, err)
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// startACMEPeers starts pail's name server with acmeZone and pebble
// validating against s's http and https ports (tlsPort: https's, or
// another free port when s has none).
func startACMEPeers(t *testing.T, s *acmeServer) *pebble {
	t.Helper()
	zone := filepath.Join(t.TempDir(), "hill.test.zone")
	if err := os.WriteFile(zone, []byte(acmeZone), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startPailDNS(t, "--zone", zone)
	tlsPort := port(t, testnet.Addr(t)) // nothing listens there
	if s.httpsAddr != "" {
		tlsPort = port(t, s.httpsAddr)
	}
	return newPebble(t, d.addr, port(t, s.httpAddr), tlsPort)
}

// TestACMEPebble: with [acme] pointing at pebble, pail obtains a
// certificate for each default host at start, with no TLS client around
// (TLS-ALPN-01 on the https listener, pail's first choice); a Go client
// verifying against pebble's root gets the host name's certificate on
// IMAPS, with and without SNI, after STARTTLS on the SMTP port, and on
// submission, submissions, IMAP STARTTLS, POP3 STLS and POP3S; the
// https listener serves each host its own; the account key and
// certificates are the owner's alone under data_dir/acme; after a restart
// with pebble gone the cached certificate is served.
func TestACMEPebble(t *testing.T) {
	t.Parallel()
	s := newACMEServer(t, true)
	s.more = map[string]string{}
	for _, name := range []string{"submission", "submissions", "imap", "pop3", "pop3s"} {
		s.more[name] = testnet.Addr(t)
	}
	pb := startACMEPeers(t, s)
	pb.start()
	s.configure(pb.directory(), pb.certFile)
	s.start()
	for _, h := range acmeHosts {
		waitLog(t, s.log, issueTimeout, 1, "acme: certificate in use", "host="+h)
	}
	roots := pb.roots()
	// Every other TLS listener, STARTTLS or implicit, without SNI.
	for name, proto := range map[string]string{"submission": "smtp", "submissions": "tls", "imap": "imap", "pop3": "pop3", "pop3s": "tls"} {
		if _, err := starttlsAny(t, proto, s.more[name], tlsCheck(roots, false)); err != nil {
			t.Errorf("%s with pebble's root: %v", name, err)
		}
	}

	var serial *big.Int
	for _, sni := range []bool{true, false} {
		c, err := imapsCert(t, s.imapsAddr, tlsCheck(roots, sni))
		if err != nil {
			t.Fatalf("IMAPS (SNI %v) with pebble's root: %v", sni, err)
		}
		if serial == nil {
			serial = c.SerialNumber
		} else if c.SerialNumber.Cmp(serial) != 0 {
			t.Errorf("IMAPS without SNI: serial %x, with SNI %x", c.SerialNumber, serial)
		}
		c, err = starttlsCert(t, s.smtpAddr, tlsCheck(roots, sni))
		if err != nil {
			t.Fatalf("SMTP STARTTLS (SNI %v) with pebble's root: %v", sni, err)
		}
		if c.SerialNumber.Cmp(serial) != 0 {
			t.Errorf("SMTP STARTTLS (SNI %v): serial %x, IMAPS %x", sni, c.SerialNumber, serial)
		}
	}
	for _, h := range acmeHosts {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.httpsAddr,
			&tls.Config{RootCAs: roots, ServerName: h, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Errorf("HTTPS for %s: %v", h, err)
			continue
		}
		c.Close()
	}
	// The CA validated each host over TLS-ALPN-01, never HTTP-01 (pail
	// logs each validation it answers).
	for _, h := range acmeHosts {
		if countLines(s.log.String(), "acme: TLS-ALPN-01 validation", "host="+h) == 0 {
			t.Errorf("no TLS-ALPN-01 validation for %s", h)
		}
	}
	if strings.Contains(s.log.String(), "HTTP-01 validation") {
		t.Error("HTTP-01 used although TLS-ALPN-01 is possible")
	}
	acmeDir := filepath.Join(s.dataDir, "acme")
	ents, err := os.ReadDir(acmeDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(acmeDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v %v, want 0700", acmeDir, fi.Mode(), err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v %v, want the owner's alone", e.Name(), fi.Mode(), err)
		}
		names[e.Name()] = true
	}
	for _, want := range append([]string{"acme_account+key"}, acmeHosts...) {
		if !names[want] {
			t.Errorf("data_dir/acme lacks %s: %v", want, names)
		}
	}

	// Restart with the CA gone: the cached certificate is served at once.
	s.stop()
	pb.stop()
	s.start()
	waitLog(t, s.log, issueTimeout, 2, "acme: certificate in use", "host="+testHostname)
	c, err := imapsCert(t, s.imapsAddr, tlsCheck(roots, false))
	if err != nil {
		t.Fatalf("IMAPS after a restart without the CA: %v", err)
	}
	if c.SerialNumber.Cmp(serial) != 0 {
		t.Errorf("after restart: serial %x, want the cached %x", c.SerialNumber, serial)
	}
}

// TestACMEHTTP01: without an https listener, the certificate comes
// through HTTP-01 on the http listener (TLS-ALPN-01 is tried first and
// fails, as pail warns at start), and the web pages still answer there.
func TestACMEHTTP01(t *testing.T) {
	t.Parallel()
	s := newACMEServer(t, false)
	pb := startACMEPeers(t, s)
	pb.start()
	s.configure(pb.directory(), pb.certFile, fmt.Sprintf("hosts = [%q]", testHostname))
	s.start()
	waitLog(t, s.log, issueTimeout, 1, "acme: certificate in use", "host="+testHostname)
	if !strings.Contains(s.log.String(), "no [listen] https") {
		t.Error("no warning about the missing https listener")
	}
	if c, err := imapsCert(t, s.imapsAddr, tlsCheck(pb.roots(), false)); err != nil {
		t.Fatalf("IMAPS with pebble's root: %v", err)
	} else if c.Subject.CommonName != testHostname {
		t.Errorf("IMAPS certificate for %q", c.Subject.CommonName)
	}
	if countLines(s.log.String(), "acme: HTTP-01 validation", "host="+testHostname) == 0 {
		t.Error("no HTTP-01 validation")
	}
	res, err := http.Get("http://" + s.httpAddr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /login on the http listener: %s", res.Status)
	}
}

// TestACMERenewal: with renew_before beyond the certificate's lifetime
// (pebble issues for five years), pail renews while it runs, from its
// background loop, with no restart and no client asking: IMAPS serves a
// new serial, still verified against pebble's root, and every connection
// meanwhile gets a valid certificate.
func TestACMERenewal(t *testing.T) {
	t.Parallel()
	s := newACMEServer(t, true)
	pb := startACMEPeers(t, s)
	pb.start()
	s.configure(pb.directory(), pb.certFile, fmt.Sprintf("hosts = [%q]", testHostname), `renew_before = "87600h"`)
	s.start()
	// The first round obtains a certificate, finds it due at once and
	// renews it; the next renewal is the background loop's, a round later.
	waitLog(t, s.log, issueTimeout, 2, "acme: certificate in use", "host="+testHostname)
	waitLog(t, s.log, issueTimeout, 1, "acme: next attempt")
	roots := pb.roots()
	first, err := imapsCert(t, s.imapsAddr, tlsCheck(roots, false))
	if err != nil {
		t.Fatalf("IMAPS: %v", err)
	}
	deadline := time.Now().Add(retryTimeout)
	for {
		c, err := imapsCert(t, s.imapsAddr, tlsCheck(roots, false))
		if err != nil {
			t.Fatalf("IMAPS while renewing: %v", err)
		}
		if c.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if countLines(s.log.String(), "acme: renewing") < 2 {
				t.Error("renewed without saying so")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("IMAPS still serves serial %x after %v", first.SerialNumber, retryTimeout)
		}
		time.Sleep(time.Second)
	}
}

// TestACMEDirectoryDown: with the CA not running, pail starts, serves its
// self-signed certificate and logs why; once the CA is up, the next
// attempt (within the first backoff) obtains the certificate, and IMAPS
// serves it without a restart.
func TestACMEDirectoryDown(t *testing.T) {
	t.Parallel()
	s := newACMEServer(t, true)
	pb := startACMEPeers(t, s)
	s.configure(pb.directory(), pb.certFile, fmt.Sprintf("hosts = [%q]", testHostname))
	s.start()
	waitLog(t, s.log, issueTimeout, 1, "acme: no certificate from the CA; serving the self-signed", "host="+testHostname, "connection refused")
	waitLog(t, s.log, issueTimeout, 1, "acme: next attempt")
	c, err := imapsCert(t, s.imapsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("IMAPS with the CA down: %v", err)
	}
	if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "pail self-signed" {
		t.Errorf("IMAPS with the CA down: certificate %v, want pail's self-signed one", c.Subject)
	}
	pb.start()
	waitLog(t, s.log, retryTimeout, 1, "acme: certificate in use", "host="+testHostname)
	if _, err := imapsCert(t, s.imapsAddr, tlsCheck(pb.roots(), false)); err != nil {
		t.Fatalf("IMAPS after the CA came up: %v", err)
	}
}
