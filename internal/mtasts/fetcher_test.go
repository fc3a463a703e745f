package mtasts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// errNXDomain is the test resolver's "no such name".
var errNXDomain = errors.New("test resolver: no such name")

// txtTable answers TXT lookups from a table; a name mapped to an error
// fails with it. It stands in for the project's resolver, which is not
// what these tests are about.
type txtTable struct {
	mu  sync.Mutex
	txt map[string][]string
	err map[string]error
}

func (r *txtTable) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.err[name]; err != nil {
		return nil, err
	}
	if t, ok := r.txt[name]; ok {
		return t, nil
	}
	return nil, errNXDomain
}

func (r *txtTable) set(name string, txts ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txt[name] = txts
	delete(r.err, name)
}

func (r *txtTable) fail(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err[name] = err
}

// testCA is a certificate authority the test client trusts.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a server certificate for names.
func (ca *testCA) leaf(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// policyHost is a real HTTPS server (httptest) playing every policy host
// mta-sts.*: it presents the certificate chosen by SNI and answers by
// Host with the handler of that domain.
type policyHost struct {
	srv      *httptest.Server
	certs    map[string]tls.Certificate // SNI -> certificate
	handlers map[string]http.HandlerFunc
	hits     atomic.Int64
	mu       sync.Mutex
}

func newPolicyHost(t *testing.T) *policyHost {
	h := &policyHost{certs: map[string]tls.Certificate{}, handlers: map[string]http.HandlerFunc{}}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		fn := h.handlers[r.Host]
		h.mu.Unlock()
		if fn == nil || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		fn(w, r)
	}))
	h.srv.TLS = &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		c, ok := h.certs[hello.ServerName]
		if !ok {
			return nil, errors.New("no certificate for " + hello.ServerName)
		}
		return &c, nil
	}}
	h.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	return h
}

// serve makes mta-sts.domain answer with fn, presenting cert.
func (h *policyHost) serve(domain string, cert tls.Certificate, fn http.HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.certs["mta-sts."+domain] = cert
	h.handlers["mta-sts."+domain] = fn
}

// text answers with a policy body as text/plain.
func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(body))
	}
}

// client is an HTTPS client that connects to the policy host for every
// name (as the project's resolver would resolve mta-sts.DOMAIN) and
// trusts roots.
func (h *policyHost) client(roots *x509.CertPool) *http.Client {
	addr := h.srv.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a Fetcher against a policy host and a TXT table.
type env struct {
	t    *testing.T
	host *policyHost
	ca   *testCA
	txt  *txtTable
	clk  *clock
	dir  string
}

func newEnv(t *testing.T) *env {
	return &env{
		t: t, host: newPolicyHost(t), ca: newCA(t),
		txt: &txtTable{txt: map[string][]string{}, err: map[string]error{}},
		clk: &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		dir: t.TempDir(),
	}
}

func (e *env) fetcher(mod func(*Config)) *Fetcher {
	e.t.Helper()
	cfg := Config{
		Resolver:   e.txt,
		IsNotFound: func(err error) bool { return errors.Is(err, errNXDomain) },
		Client:     e.host.client(e.ca.pool),
		Dir:        e.dir,
		Now:        e.clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

const hillPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx.hill.test\r\nmx: *.mx.hill.test\r\nmax_age: 86400\r\n"

// TestFetchCacheAndID: a policy is fetched once, used from the cache
// while its id stays the same, fetched again when the id changes or
// max_age passes.
func TestFetchCacheAndID(t *testing.T) {
	e := newEnv(t)
	body := hillPolicy
	var mu sync.Mutex
	e.host.serve("hill.test", e.ca.leaf(t, "mta-sts.hill.test"), func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		text(body)(w, r)
	})
	e.txt.set("_mta-sts.hill.test.", "v=spf1 -all", "v=STSv1; id=one;")
	f := e.fetcher(nil)
	ctx := context.Background()

	r := f.Lookup(ctx, "Hill.Test.")
	if r.Status != HasPolicy || r.Cached || r.Err != nil || r.ID != "one" || r.Policy.Mode != ModeEnforce || !r.Policy.Matches("a.mx.hill.test") {
		t.Fatalf("first lookup: %+v", r)
	}
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || !r.Cached || e.host.hits.Load() != 1 {
		t.Fatalf("second lookup: %+v, %d fetches", r, e.host.hits.Load())
	}
	// A new id: fetched again, the new policy applies.
	mu.Lock()
	body = strings.Replace(hillPolicy, "enforce", "testing", 1)
	mu.Unlock()
	e.txt.set("_mta-sts.hill.test.", "v=STSv1; id=two")
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || r.Cached || r.ID != "two" || r.Policy.Mode != ModeTesting || e.host.hits.Load() != 2 {
		t.Fatalf("after the id changed: %+v, %d fetches", r, e.host.hits.Load())
	}
	// Same id, but max_age has passed: fetched again.
	e.clk.add(86400*time.Second - time.Second)
	if r := f.Lookup(ctx, "hill.test"); !r.Cached || e.host.hits.Load() != 2 {
		t.Fatalf("a second before expiry: %+v, %d fetches", r, e.host.hits.Load())
	}
	e.clk.add(time.Second)
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || r.Cached || e.host.hits.Load() != 3 {
		t.Fatalf("at expiry: %+v, %d fetches", r, e.host.hits.Load())
	}
}

// TestCacheSurvivesRestart: a new Fetcher on the same directory uses
// the saved policy without fetching, until it expires; the file is
// written atomically (no temporary files left).
func TestCacheSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.host.serve("hill.test", e.ca.leaf(t, "mta-sts.hill.test"), text(hillPolicy))
	e.txt.set("_mta-sts.hill.test.", "v=STSv1; id=one")
	if r := e.fetcher(nil).Lookup(context.Background(), "hill.test"); r.Status != HasPolicy {
		t.Fatalf("%+v", r)
	}
	names, _ := filepath.Glob(filepath.Join(e.dir, "*"))
	if len(names) != 1 || filepath.Base(names[0]) != CacheFile {
		t.Fatalf("cache directory holds %v", names)
	}
	// The policy host is gone; the saved policy still applies.
	e.host.srv.Close()
	f := e.fetcher(nil)
	r := f.Lookup(context.Background(), "hill.test")
	if r.Status != HasPolicy || !r.Cached || r.ID != "one" || !r.Policy.Matches("mx.hill.test") {
		t.Fatalf("after a restart: %+v", r)
	}
	// A restart after max_age: the old policy is not loaded, and the
	// fetch fails.
	e.clk.add(86400 * time.Second)
	r = e.fetcher(nil).Lookup(context.Background(), "hill.test")
	if r.Status != TempFail || r.Failure != FailureFetch {
		t.Fatalf("after expiry and a restart: %+v", r)
	}
	// A damaged file: an empty cache, not a failed start.
	os.WriteFile(filepath.Join(e.dir, CacheFile), []byte("{not json"), 0o600)
	if _, err := New(Config{Resolver: e.txt, IsNotFound: func(error) bool { return false }, Client: http.DefaultClient, Dir: e.dir}); err != nil {
		t.Fatalf("damaged cache file: %v", err)
	}
}

// TestTXTGoneOrFailingKeepsCache: a TXT lookup that fails, or a record
// that is no longer there, leaves the cached unexpired policy in force
// (RFC 8461 §3.1, §3.3); without a cache they are a temporary failure
// and no policy.
func TestTXTGoneOrFailingKeepsCache(t *testing.T) {
	e := newEnv(t)
	e.host.serve("hill.test", e.ca.leaf(t, "mta-sts.hill.test"), text(hillPolicy))
	e.txt.set("_mta-sts.hill.test.", "v=STSv1; id=one")
	f := e.fetcher(nil)
	ctx := context.Background()
	f.Lookup(ctx, "hill.test")
	servfail := errors.New("SERVFAIL")
	e.txt.fail("_mta-sts.hill.test.", servfail)
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || !r.Cached || !errors.Is(r.Err, servfail) {
		t.Errorf("TXT lookup failing: %+v", r)
	}
	e.txt.fail("_mta-sts.hill.test.", errNXDomain)
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || !r.Cached || !errors.Is(r.Err, ErrNoRecord) {
		t.Errorf("TXT record gone: %+v", r)
	}
	e.txt.set("_mta-sts.hill.test.", "v=STSv1; id=a", "v=STSv1; id=b")
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || !errors.Is(r.Err, ErrMultipleRecords) {
		t.Errorf("two records: %+v", r)
	}

	e.txt.fail("_mta-sts.dale.test.", servfail)
	if r := f.Lookup(ctx, "dale.test"); r.Status != TempFail || r.Failure != FailureNone || !errors.Is(r.Err, servfail) {
		t.Errorf("no cache, TXT failing: %+v", r)
	}
	if r := f.Lookup(ctx, "none.test"); r.Status != NoPolicy || r.Policy != nil || !errors.Is(r.Err, ErrNoRecord) {
		t.Errorf("no record: %+v", r)
	}
	e.txt.set("_mta-sts.two.test.", "v=STSv1; id=a", "v=STSv1; id=b")
	if r := f.Lookup(ctx, "two.test"); r.Status != NoPolicy || !errors.Is(r.Err, ErrMultipleRecords) {
		t.Errorf("two records, no cache: %+v", r)
	}
	if e.host.hits.Load() != 1 {
		t.Errorf("%d fetches, want 1", e.host.hits.Load())
	}
}

// TestFetchFailures: each way a policy host can fail gets its TLS-RPT
// failure type (RFC 8460 §4.3.2.1); a failure with a policy cached keeps
// the cached one in force and still says what failed.
func TestFetchFailures(t *testing.T) {
	e := newEnv(t)
	other := newCA(t)
	good := text(hillPolicy)
	for _, tc := range []struct {
		domain  string
		cert    tls.Certificate
		handler http.HandlerFunc
		want    Failure
	}{
		{"wrongname.test", e.ca.leaf(t, "mta-sts.other.test"), good, FailureWebPKI},
		{"untrusted.test", other.leaf(t, "mta-sts.untrusted.test"), good, FailureWebPKI},
		{"redirect.test", e.ca.leaf(t, "mta-sts.redirect.test"), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://mta-sts.good.test/.well-known/mta-sts.txt", http.StatusFound)
		}, FailureFetch},
		{"notfound.test", e.ca.leaf(t, "mta-sts.notfound.test"), http.NotFound, FailureFetch},
		{"error.test", e.ca.leaf(t, "mta-sts.error.test"), func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		}, FailureFetch},
		{"html.test", e.ca.leaf(t, "mta-sts.html.test"), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(hillPolicy))
		}, FailureInvalid},
		{"big.test", e.ca.leaf(t, "mta-sts.big.test"), text(hillPolicy + "pad: " + strings.Repeat("x", MaxPolicyBytes) + "\r\n"), FailureInvalid},
		{"bigchunked.test", e.ca.leaf(t, "mta-sts.bigchunked.test"), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(hillPolicy))
			for range 9 {
				w.(http.Flusher).Flush()
				w.Write([]byte(strings.Repeat("x", 8<<10)))
			}
		}, FailureInvalid},
		{"syntax.test", e.ca.leaf(t, "mta-sts.syntax.test"), text("version: STSv1\r\nmode: enforce\r\n"), FailureInvalid},
	} {
		e.host.serve(tc.domain, tc.cert, tc.handler)
		e.txt.set("_mta-sts."+tc.domain+".", "v=STSv1; id=one")
	}
	e.host.serve("good.test", e.ca.leaf(t, "mta-sts.good.test"), good)
	f := e.fetcher(nil)
	ctx := context.Background()
	for _, d := range []string{"wrongname.test", "untrusted.test", "redirect.test", "notfound.test", "error.test", "html.test", "big.test", "bigchunked.test", "syntax.test"} {
		r := f.Lookup(ctx, d)
		want := map[string]Failure{"wrongname.test": FailureWebPKI, "untrusted.test": FailureWebPKI, "html.test": FailureInvalid, "big.test": FailureInvalid, "bigchunked.test": FailureInvalid, "syntax.test": FailureInvalid}[d]
		if want == "" {
			want = FailureFetch
		}
		if r.Status != TempFail || r.Failure != want || r.Policy != nil || r.Err == nil {
			t.Errorf("%s: %+v, want TempFail %s", d, r, want)
		}
	}
	// The redirect was not followed: good.test was never asked.
	if r := f.Lookup(ctx, "good.test"); r.Status != NoPolicy {
		t.Errorf("good.test has no TXT record: %+v", r)
	}

	// Within RetryAfter of a failure, the same id is not fetched again.
	hits := e.host.hits.Load()
	if r := f.Lookup(ctx, "notfound.test"); r.Failure != FailureFetch || e.host.hits.Load() != hits {
		t.Errorf("retry within 5 minutes: %+v, %d fetches", r, e.host.hits.Load()-hits)
	}
	e.clk.add(DefaultRetryAfter)
	f.Lookup(ctx, "notfound.test")
	if e.host.hits.Load() != hits+1 {
		t.Errorf("after 5 minutes: %d fetches", e.host.hits.Load()-hits)
	}

	// A cached policy, then a new id whose policy host has a bad
	// certificate: the cached policy applies, the failure is reported.
	e.host.serve("hill.test", e.ca.leaf(t, "mta-sts.hill.test"), good)
	e.txt.set("_mta-sts.hill.test.", "v=STSv1; id=one")
	f.Lookup(ctx, "hill.test")
	e.host.serve("hill.test", other.leaf(t, "mta-sts.hill.test"), good)
	e.txt.set("_mta-sts.hill.test.", "v=STSv1; id=two")
	if r := f.Lookup(ctx, "hill.test"); r.Status != HasPolicy || !r.Cached || r.ID != "one" || r.Failure != FailureWebPKI {
		t.Errorf("cached policy, new one with a bad certificate: %+v", r)
	}
}

// TestFetchDeadline: a policy host that never answers costs at most
// FetchTimeout.
func TestFetchDeadline(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	e.host.serve("slow.test", e.ca.leaf(t, "mta-sts.slow.test"), func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	e.txt.set("_mta-sts.slow.test.", "v=STSv1; id=one")
	f := e.fetcher(func(c *Config) { c.FetchTimeout = 200 * time.Millisecond })
	start := time.Now()
	r := f.Lookup(context.Background(), "slow.test")
	if r.Status != TempFail || r.Failure != FailureFetch || time.Since(start) > 5*time.Second {
		t.Errorf("%+v after %v", r, time.Since(start))
	}
}

// TestCacheBound: past MaxEntries the least recently used domain goes,
// in memory and in the file.
func TestCacheBound(t *testing.T) {
	e := newEnv(t)
	for _, d := range []string{"a.test", "b.test", "c.test"} {
		e.host.serve(d, e.ca.leaf(t, "mta-sts."+d), text(hillPolicy))
		e.txt.set("_mta-sts."+d+".", "v=STSv1; id=one")
	}
	f := e.fetcher(func(c *Config) { c.MaxEntries = 2 })
	ctx := context.Background()
	f.Lookup(ctx, "a.test")
	e.clk.add(time.Second)
	f.Lookup(ctx, "b.test")
	e.clk.add(time.Second)
	f.Lookup(ctx, "a.test") // a is now the more recently used
	e.clk.add(time.Second)
	f.Lookup(ctx, "c.test") // b goes
	if e.host.hits.Load() != 3 {
		t.Fatalf("%d fetches", e.host.hits.Load())
	}
	data, _ := os.ReadFile(filepath.Join(e.dir, CacheFile))
	if strings.Contains(string(data), `"b.test"`) || !strings.Contains(string(data), `"a.test"`) || !strings.Contains(string(data), `"c.test"`) {
		t.Errorf("cache file: %s", data)
	}
	f.Lookup(ctx, "b.test")
	if e.host.hits.Load() != 4 {
		t.Errorf("b.test was not evicted: %d fetches", e.host.hits.Load())
	}
}

// TestNewRefusesUnverifiedClient: a client that skips certificate checks
// cannot fetch policies (RFC 8461 §3.3).
func TestNewRefusesUnverifiedClient(t *testing.T) {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	_, err := New(Config{Resolver: &txtTable{}, IsNotFound: func(error) bool { return false }, Client: c})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("New with InsecureSkipVerify: %v", err)
	}
}
