package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/acme/autocert"

	"pail/internal/blobdb"
	"pail/internal/pgtest"
)

// pgCluster is the private PostgreSQL server of this package's tests.
var pgCluster *pgtest.Cluster

func TestMain(m *testing.M) {
	c, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pgCluster = c
	code := m.Run()
	c.Close()
	os.Exit(code)
}

// dbTargets returns a fresh database of each dialect, by name.
func dbTargets(t *testing.T) map[string]string {
	t.Helper()
	url, err := pgCluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"sqlite": filepath.Join(t.TempDir(), "state.db"), "postgres": url}
}

func openBlobDB(t *testing.T, target string) *blobdb.DB {
	t.Helper()
	db, err := blobdb.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDBCache: the cache in the database answers ErrCacheMiss for a
// missing key, and one node reads what another put.
func TestDBCache(t *testing.T) {
	ctx := context.Background()
	for name, target := range dbTargets(t) {
		t.Run(name, func(t *testing.T) {
			a, b := NewDBCache(openBlobDB(t, target)), NewDBCache(openBlobDB(t, target))
			if _, err := a.Get(ctx, "mx.hill.test"); err != autocert.ErrCacheMiss {
				t.Fatalf("missing key: %v", err)
			}
			if err := a.Put(ctx, "acme_account+key", []byte("k\x00")); err != nil {
				t.Fatal(err)
			}
			if got, err := b.Get(ctx, "acme_account+key"); err != nil || string(got) != "k\x00" {
				t.Fatalf("other node: %q %v", got, err)
			}
			if err := b.Delete(ctx, "acme_account+key"); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Get(ctx, "acme_account+key"); err != autocert.ErrCacheMiss {
				t.Fatalf("deleted key: %v", err)
			}
		})
	}
}

// loopbackDNS answers every A query with 127.0.0.1 (and every other
// query with no records), for pebble's look-ups of the hosts.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// startPebble runs pebble (a missing pebble fails the test) validating
// HTTP-01 at 127.0.0.1:httpPort and TLS-ALPN-01 at a port nobody listens
// on, resolving through dnsAddr. It returns the directory URL and the
// file of pebble's own TLS certificate.
func startPebble(t *testing.T, dnsAddr, httpPort string) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("pebble")
	if err != nil {
		t.Fatalf("pebble (Let's Encrypt's test CA) is needed: %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	listen, mgmt := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`{"pebble": {"listenAddress": %q, "managementListenAddress": %q,
  "certificate": %q, "privateKey": %q, "httpPort": %s, "tlsPort": %s,
  "ocspResponderURL": "", "externalAccountBindingRequired": false}}`,
		listen, mgmt, certFile, keyFile, httpPort, port(freePort(t)))
	config := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", config, "-dnsserver", dnsAddr)
	cmd.Dir = dir
	// Validation at once, and no nonces rejected on purpose
	// (/work/shared/peers/README.md, "pebble").
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	out := &syncLog{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pebble: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble:\n%s", out)
		}
	})
	directory := "https://" + listen + "/dir"
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := client.Get(directory)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return directory, certFile
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble's directory did not answer: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// node is one cluster node's manager, running.
type node struct {
	name   string
	m      *Manager
	log    *syncLog
	cancel context.CancelFunc
	done   chan struct{}
	served atomic.Int64 // HTTP-01 requests it answered
}

func (n *node) stop() {
	n.cancel()
	<-n.done
}

func startNode(t *testing.T, name, directory, caFile string, db *blobdb.DB, ttl time.Duration) *node {
	t.Helper()
	n := &node{name: name, log: &syncLog{}, done: make(chan struct{})}
	m, err := New(Config{
		Directory:   directory,
		CAFile:      caFile,
		Hosts:       []string{"mx.hill.test", "mta-sts.hill.test"},
		Default:     "mx.hill.test",
		RenewBefore: 30 * 24 * time.Hour,
		HTTP01:      true,
		Cache:       NewDBCache(db),
		Lease:       db.Lease("acme", name, ttl),
	}, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, fmt.Errorf("no fallback") },
		slog.New(slog.NewTextHandler(n.log, nil)).With("node", name))
	if err != nil {
		t.Fatal(err)
	}
	m.followEvery = 100 * time.Millisecond
	n.m = m
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { m.Run(ctx); close(n.done) }()
	t.Cleanup(n.stop)
	return n
}

func serial(t *testing.T, m *Manager, sni string) string {
	t.Helper()
	c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
	if err != nil {
		t.Fatalf("GetCertificate(%q): %v", sni, err)
	}
	return c.Leaf.SerialNumber.Text(16)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

// TestClusterPebble: two nodes on one database (SQLite, PostgreSQL),
// their lease held at first by a node that died. Once its time has run
// out one node takes the lease and orders from pebble; the CA's HTTP-01
// requests are answered by the other node, from the shared cache; both
// serve the same certificates, the other node never reaching the CA.
// When the holder stops, the other takes the lease over and keeps the
// certificates without ordering again.
func TestClusterPebble(t *testing.T) {
	var route atomic.Pointer[[2]*node] // the nodes of the running subtest
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The CA's HTTP-01 requests go to a node that does not hold the
	// lease, so that they are answered from the shared cache.
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes := route.Load()
		n := nodes[0]
		if n.m.leading.Load() {
			n = nodes[1]
		}
		n.served.Add(1)
		n.m.HTTPHandler(http.NotFoundHandler()).ServeHTTP(w, r)
	})}
	go hs.Serve(httpLn)
	t.Cleanup(func() { hs.Close() })
	directory, caFile := startPebble(t, loopbackDNS(t), port(httpLn.Addr().String()))

	const ttl = 2 * time.Second
	for name, target := range dbTargets(t) {
		t.Run(name, func(t *testing.T) {
			dbA, dbB := openBlobDB(t, target), openBlobDB(t, target)
			ghost := dbA.Lease("acme", "ghost", ttl)
			if _, held, err := ghost.Acquire(context.Background()); !held || err != nil {
				t.Fatalf("ghost: %v %v", held, err)
			}
			started := time.Now()
			a := startNode(t, "a", directory, caFile, dbA, ttl)
			b := startNode(t, "b", directory, caFile, dbB, ttl)
			route.Store(&[2]*node{a, b})
			waitFor(t, "both nodes serve every host's certificate", 90*time.Second, func() bool {
				for _, m := range []*Manager{a.m, b.m} {
					for _, h := range m.cfg.Hosts {
						if m.current(h) == nil {
							return false
						}
					}
				}
				return true
			})
			if time.Since(started) < ttl/2 {
				t.Errorf("a node ordered while the dead node's lease ran (%v)", time.Since(started))
			}
			holder, other := a, b
			if !a.m.leading.Load() {
				holder, other = b, a
			}
			if !holder.m.leading.Load() || other.m.leading.Load() {
				t.Fatalf("leading: a %v, b %v", a.m.leading.Load(), b.m.leading.Load())
			}
			for _, sni := range []string{"", "mx.hill.test", "mta-sts.hill.test"} {
				hSerial, oSerial := serial(t, holder.m, sni), serial(t, other.m, sni)
				if hSerial != oSerial {
					t.Errorf("SNI %q: holder serves %s, the other %s", sni, hSerial, oSerial)
				}
			}
			c, _ := other.m.GetCertificate(&tls.ClientHelloInfo{ServerName: "mta-sts.hill.test"})
			if !strings.Contains(c.Leaf.Issuer.CommonName, "Pebble") || c.Leaf.VerifyHostname("mta-sts.hill.test") != nil {
				t.Errorf("certificate from %q for %v", c.Leaf.Issuer.CommonName, c.Leaf.DNSNames)
			}
			if other.served.Load() == 0 || holder.served.Load() != 0 {
				t.Errorf("HTTP-01 answered by the holder %d times, the other %d", holder.served.Load(), other.served.Load())
			}
			ol := other.log.String()
			if strings.Contains(ol, "lease taken") || strings.Contains(ol, "no certificate from the CA") || strings.Contains(ol, "acme: renewing") {
				t.Errorf("the node without the lease talked to the CA:\n%s", ol)
			}
			if !strings.Contains(holder.log.String(), "lease taken") {
				t.Errorf("holder's log:\n%s", holder.log)
			}
			before := serial(t, other.m, "mx.hill.test")

			// The holder stops (releasing the lease): the other takes
			// it over and keeps the same certificates.
			holder.stop()
			waitFor(t, "the other node takes the lease", 10*time.Second, other.m.leading.Load)
			waitFor(t, "a round by the new holder", 30*time.Second, func() bool {
				return strings.Contains(other.log.String(), "lease taken")
			})
			time.Sleep(500 * time.Millisecond)
			if s := serial(t, other.m, "mx.hill.test"); s != before {
				t.Errorf("the new holder serves %s, not %s: it ordered again", s, before)
			}
			if ol := other.log.String(); strings.Contains(ol, "acme: renewing") || strings.Contains(ol, "no certificate from the CA") {
				t.Errorf("new holder's log:\n%s", ol)
			}
			if h, _, err := ghost.HeldBy(context.Background()); h != other.name || err != nil {
				t.Errorf("lease held by %q (%v), want %s", h, err, other.name)
			}
		})
	}
}

// TestNotLeadingNeverReachesCA: a node whose lease another holds makes
// no request to the directory, whoever asks (a round, or autocert's own
// renewal timer through the same client), and its Run only follows.
func TestNotLeadingNeverReachesCA(t *testing.T) {
	var hits atomic.Int64
	dir := httptestServer(t, &hits)
	db := openBlobDB(t, filepath.Join(t.TempDir(), "state.db"))
	if _, held, err := db.Lease("acme", "other", time.Hour).Acquire(context.Background()); !held || err != nil {
		t.Fatal(held, err)
	}
	n := startNode(t, "me", dir, "", db, time.Second)
	time.Sleep(700 * time.Millisecond) // two renewal attempts, several follows
	if n.m.leading.Load() {
		t.Fatal("took a lease another holds")
	}
	if _, failed := n.m.round(context.Background()); !failed {
		t.Error("a round without the lease succeeded")
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the directory", hits.Load())
	}
	if !strings.Contains(n.log.String(), "does not hold the lease") {
		t.Errorf("log:\n%s", n.log)
	}
}

// httptestServer is a directory that counts the requests it gets.
func httptestServer(t *testing.T, hits *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/dir"
}
