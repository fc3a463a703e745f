package acme

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert makes a certificate for names valid from notBefore to notAfter.
func testCert(t *testing.T, serial int64, notBefore, notAfter time.Time, names ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// syncLog is a log sink safe for the manager's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestManager(t *testing.T, directory string, fallback *tls.Certificate) (*Manager, *syncLog) {
	t.Helper()
	logs := &syncLog{}
	m, err := New(Config{
		Directory:   directory,
		Hosts:       []string{"mx.hill.test", "mta-sts.hill.test"},
		Default:     "mx.hill.test",
		RenewBefore: 30 * 24 * time.Hour,
		CacheDir:    filepath.Join(t.TempDir(), "acme"),
		HTTP01:      true,
	}, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return fallback, nil },
		slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m, logs
}

// TestGetCertificateChoice: a handshake without a server name, or with an
// address, gets the host name's ACME certificate; one naming a host gets
// that host's; a name that is not one of the hosts, a host without a
// certificate yet, and an expired certificate get the fallback; Real
// follows the host name's certificate.
func TestGetCertificateChoice(t *testing.T) {
	now := time.Now()
	self := testCert(t, 1, now.Add(-time.Hour), now.Add(time.Hour), "localhost")
	m, _ := newTestManager(t, "http://127.0.0.1:1/dir", self)
	get := func(sni string) *tls.Certificate {
		t.Helper()
		c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil {
			t.Fatalf("GetCertificate(%q): %v", sni, err)
		}
		return c
	}
	if m.Real() || get("") != self || get("mx.hill.test") != self {
		t.Fatal("before any ACME certificate: want the fallback and Real false")
	}
	mx := testCert(t, 2, now.Add(-time.Hour), now.Add(90*24*time.Hour), "mx.hill.test")
	m.install("mx.hill.test", mx)
	for _, sni := range []string{"", "MX.hill.test.", "mx.hill.test", "127.0.0.1"} {
		if get(sni) != mx {
			t.Errorf("server name %q: not the host name's ACME certificate", sni)
		}
	}
	if get("mta-sts.hill.test") != self || get("localhost") != self || get("other.test") != self {
		t.Error("a name without an ACME certificate: want the fallback")
	}
	if !m.Real() {
		t.Error("Real false with a valid certificate for the host name")
	}
	sts := testCert(t, 3, now.Add(-time.Hour), now.Add(90*24*time.Hour), "mta-sts.hill.test")
	m.install("mta-sts.hill.test", sts)
	if get("mta-sts.hill.test") != sts || get("") != mx {
		t.Error("each host gets its own certificate")
	}
	m.now = func() time.Time { return now.Add(91 * 24 * time.Hour) }
	if m.Real() || get("") != self {
		t.Error("expired ACME certificate: want the fallback and Real false")
	}
}

// TestHTTPHandler: requests under /.well-known/acme-challenge/ are
// autocert's (an unknown token is 404, never the web pages); everything
// else reaches the next handler.
func TestHTTPHandler(t *testing.T) {
	m, _ := newTestManager(t, "http://127.0.0.1:1/dir", nil)
	h := m.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("webmail")) }))
	for path, want := range map[string]int{"/": 200, "/login": 200, "/.well-known/acme-challenge/nope": 404} {
		req := httptest.NewRequest("GET", "http://mx.hill.test"+path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want || (want == 200) != (rec.Body.String() == "webmail") {
			t.Errorf("%s: %d %q, want %d", path, rec.Code, rec.Body.String(), want)
		}
	}
	req := httptest.NewRequest("GET", "http://other.test/.well-known/acme-challenge/x", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("challenge for a host not configured: %d, want 403", rec.Code)
	}
}

// TestDirectoryDown: with the directory refusing connections, or
// answering 500, a round fails quickly, logs why for every host with the
// certificate in use, and the fallback keeps being served.
func TestDirectoryDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/dir"
	ln.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}))
	defer broken.Close()
	now := time.Now()
	self := testCert(t, 1, now.Add(-time.Hour), now.Add(time.Hour), "localhost")
	for _, dir := range []string{closed, broken.URL + "/dir"} {
		m, logs := newTestManager(t, dir, self)
		start := time.Now()
		wait, failed := m.round(context.Background())
		if !failed || wait < retryMin {
			t.Errorf("%s: round failed=%v wait=%v", dir, failed, wait)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: a failing round took %v", dir, d)
		}
		out := logs.String()
		for _, h := range []string{"mx.hill.test", "mta-sts.hill.test"} {
			if !strings.Contains(out, "host="+h) || !strings.Contains(out, "serving the self-signed or [tls] certificate") {
				t.Errorf("%s: no warning for %s:\n%s", dir, h, out)
			}
		}
		if c, _ := m.GetCertificate(&tls.ClientHelloInfo{}); c != self || m.Real() {
			t.Errorf("%s: not the fallback after a failed round", dir)
		}
	}
}

// TestRunStops: Run returns soon after its context ends, even while
// waiting to retry.
func TestRunStops(t *testing.T) {
	m, _ := newTestManager(t, "http://127.0.0.1:1/dir", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestDue: a certificate is renewed by pail renew_before ahead of expiry,
// after autocert's own turn when renew_before is within autocert's cap,
// at once when it is beyond it.
func TestDue(t *testing.T) {
	now := time.Now()
	c := testCert(t, 1, now.Add(-time.Hour), now.Add(10*24*time.Hour), "mx.hill.test")
	m, _ := newTestManager(t, "http://127.0.0.1:1/dir", nil)
	m.cfg.RenewBefore = 5 * 24 * time.Hour
	if m.due(c) {
		t.Error("due 10 days before expiry with renew_before 5 days")
	}
	m.cfg.RenewBefore = 10*24*time.Hour + time.Hour
	if m.due(c) {
		t.Error("due before autocert's turn")
	}
	if at := m.dueAt(c); at.Before(c.Leaf.NotAfter.Add(-m.cfg.RenewBefore).Add(time.Hour)) || !at.Before(c.Leaf.NotAfter) {
		t.Errorf("due at %v, expiry %v", at, c.Leaf.NotAfter)
	}
	m.cfg.RenewBefore = 60 * 24 * time.Hour
	if !m.due(c) {
		t.Error("not due with renew_before beyond autocert's cap and the lifetime")
	}
}

// TestCacheDirPerms: data_dir/acme is the owner's alone.
func TestCacheDirPerms(t *testing.T) {
	m, _ := newTestManager(t, "http://127.0.0.1:1/dir", nil)
	fi, err := os.Stat(m.cfg.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", fi.Mode().Perm())
	}
}
