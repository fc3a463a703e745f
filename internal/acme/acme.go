// Package acme obtains the server's certificates from an ACME directory
// (RFC 8555) such as Let's Encrypt and renews them, with
// golang.org/x/crypto/acme/autocert doing the protocol: TLS-ALPN-01
// (RFC 8737) on the https listener and HTTP-01 (RFC 8555 §8.3) on the
// http listener. Its GetCertificate is the one certificate hook of every
// TLS listener; until a certificate has been obtained (first start, CA
// down, a failing challenge) it hands out the fallback certificate (the
// configured or self-signed one) and the reason is logged.
//
// autocert obtains a certificate at the first TLS handshake that names a
// host, and renews only those it has served. Mail clients often send no
// server name at all, so Run obtains every host's certificate at start and
// checks them on a timer, renewing (with backoff) whatever autocert has
// not renewed by renew_before.
//
// Several nodes serving the same hosts share their certificates through
// Config.Cache (DBCache, in the cluster's database) and order them one
// node at a time, the holder of Config.Lease (cluster.go).
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"pail/internal/safeio"
)

// Timing of the background loop.
const (
	// retryMin is the first wait after a failed attempt, and the least
	// time between two attempts: autocert keeps a failed issuance for a
	// minute (its createCertRetryAfter) and answers every request for
	// that host with the failure meanwhile.
	retryMin = time.Minute + 5*time.Second
	// retryMax caps the doubling backoff: a CA that is down for a day is
	// asked once an hour.
	retryMax = time.Hour
	// checkEvery is how often certificates are looked at when nothing is
	// due, so that one autocert renewed on its own timer is in use soon
	// after (the old one stays valid for weeks meanwhile).
	checkEvery = 10 * time.Minute
	// autocertMaxRenewBefore is autocert's cap on RenewBefore (renewal.go):
	// with renew_before up to it, autocert renews on its own timer.
	autocertMaxRenewBefore = 30 * 24 * time.Hour
	// autocertGrace is how long past renew_before pail leaves autocert to
	// renew on its own timer before forcing a renewal itself: autocert
	// adds up to an hour of jitter.
	autocertGrace = 2 * time.Hour
	// requestTimeout bounds one HTTP exchange with the directory.
	requestTimeout = 30 * time.Second
	// requestRetries is how often one request that failed with a
	// retriable answer (5xx, 429, a bad nonce, RFC 8555 §6.5) is tried
	// again, at most requestRetryMax apart: a CA still failing then is
	// down or limiting, and Run's backoff takes over instead of a
	// request waiting out a long Retry-After.
	requestRetries  = 3
	requestRetryMax = 10 * time.Second
)

// Config is what the Manager needs; the server fills it from [acme].
type Config struct {
	// Directory is the ACME directory URL.
	Directory string
	// Email is the account's contact address; may be empty.
	Email string
	// Hosts are the names certificates are obtained for.
	Hosts []string
	// Default is the host whose certificate clients that send no server
	// name (or an address) get: the host name. It must be one of Hosts;
	// otherwise Hosts[0] is used.
	Default string
	// CAFile, when set, is a PEM file of extra roots for the directory's
	// HTTPS.
	CAFile string
	// RenewBefore is how long before expiry a certificate is renewed.
	RenewBefore time.Duration
	// CacheDir holds the account key and certificates (data_dir/acme),
	// owner-only, unless Cache is set.
	CacheDir string
	// Cache, when set, holds the account key, certificates and HTTP-01
	// tokens instead of CacheDir: NewDBCache for a cluster's nodes,
	// which share them. nil means autocert.DirCache(CacheDir).
	Cache autocert.Cache
	// Lease, when set, is shared by the nodes of a cluster: only the
	// node holding it talks to the CA; the others serve what it stored
	// in Cache (cluster.go). nil: this node orders on its own.
	Lease Lease
	// HTTP01 says that the http listener answers HTTPHandler's
	// challenges; without it only TLS-ALPN-01 is tried.
	HTTP01 bool
}

// Manager holds the ACME certificates of every configured host and
// serves them to TLS handshakes.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	cache    autocert.Cache
	client   *http.Client

	// certs holds each host's certificate in use; its keys are fixed at
	// New, so it is read without a lock.
	certs map[string]*atomic.Pointer[tls.Certificate]
	// gen is the autocert manager in use; a forced renewal replaces it.
	gen atomic.Pointer[generation]
	now func() time.Time // test hook

	// stop ends the requests to the directory (Run's context ended);
	// autocert's calls take no context of their own.
	stopped context.Context
	stop    context.CancelFunc

	// leading is whether this node talks to the CA: always without a
	// Lease, while it holds the lease with one.
	leading atomic.Bool
	// leaseUntil is when the lease last acquired runs out (acquire's).
	leaseUntil time.Time
	// wake cuts Run's wait short when this node takes the lease.
	wake chan struct{}
	// followEvery is followEvery; a test hook.
	followEvery time.Duration
}

// generation is one autocert.Manager with its HTTP-01 handler. autocert
// offers no way to renew a certificate it holds before its own threshold,
// so a forced renewal starts a new one whose cache hides the old
// certificate.
type generation struct {
	am    *autocert.Manager
	http  http.Handler
	cache *hidingCache
}

// New prepares the manager: it creates cfg.CacheDir and reads cfg.CAFile.
// fallback answers handshakes for which no ACME certificate exists. Certificates
// already in the cache are served as soon as Run has looked at them.
func New(cfg Config, fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error), log *slog.Logger) (*Manager, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("acme: no hosts")
	}
	if !slices.Contains(cfg.Hosts, cfg.Default) {
		cfg.Default = cfg.Hosts[0]
	}
	cache := cfg.Cache
	if cache == nil {
		if err := safeio.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("acme: %w", err)
		}
		cache = autocert.DirCache(cfg.CacheDir)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("acme.ca_file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme.ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	stopped, stop := context.WithCancel(context.Background())
	m := &Manager{
		cfg:         cfg,
		log:         log,
		fallback:    fallback,
		cache:       cache,
		certs:       map[string]*atomic.Pointer[tls.Certificate]{},
		now:         time.Now,
		stopped:     stopped,
		stop:        stop,
		wake:        make(chan struct{}, 1),
		followEvery: followEvery,
	}
	m.leading.Store(cfg.Lease == nil)
	m.client = &http.Client{Transport: cancelTransport{base: tr, ctx: stopped, leading: &m.leading}, Timeout: requestTimeout}
	for _, h := range cfg.Hosts {
		m.certs[h] = new(atomic.Pointer[tls.Certificate])
	}
	m.gen.Store(m.newGeneration(nil))
	return m, nil
}

// newGeneration returns an autocert manager over the cache, with the
// certificates of hide hidden from it until it has stored new ones.
func (m *Manager) newGeneration(hide []string) *generation {
	hc := &hidingCache{base: m.cache, hidden: map[string]bool{}}
	for _, h := range hide {
		hc.hidden[h] = true
	}
	am := &autocert.Manager{
		Prompt:      autocert.AcceptTOS, // enabling [acme] accepts the CA's terms (README)
		Cache:       hc,
		HostPolicy:  autocert.HostWhitelist(m.cfg.Hosts...),
		RenewBefore: m.cfg.RenewBefore,
		Email:       m.cfg.Email,
		Client: &acme.Client{
			DirectoryURL: m.cfg.Directory,
			HTTPClient:   m.client,
			UserAgent:    "pail",
			RetryBackoff: retryBackoff,
		},
	}
	g := &generation{am: am, cache: hc}
	if m.cfg.HTTP01 {
		g.http = am.HTTPHandler(http.NotFoundHandler())
	}
	return g
}

// retryBackoff is the acme.Client's RetryBackoff: a few retries a second
// or two apart, as the CA's Retry-After asks when it is short; none when
// it asks for longer.
func retryBackoff(n int, _ *http.Request, res *http.Response) time.Duration {
	if n > requestRetries {
		return 0
	}
	d := time.Duration(1<<(n-1)) * time.Second
	if v := res.Header.Get("Retry-After"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || time.Duration(secs)*time.Second > requestRetryMax {
			return 0 // an HTTP date, or long: the loop's backoff waits
		}
		d = time.Duration(secs) * time.Second
	}
	return min(d, requestRetryMax) + rand.N(time.Second/4)
}

// GetCertificate is the tls.Config hook of every TLS listener. A CA's
// TLS-ALPN-01 validation gets autocert's challenge certificate; any other
// handshake gets the ACME certificate of the host it names, or of Default
// when it names none or an address, and the fallback certificate when
// there is no valid ACME certificate for that name.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	// RFC 8737 §3: the validation offers acme-tls/1 as its only protocol.
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto {
		c, err := m.gen.Load().am.GetCertificate(hello)
		m.log.Info("acme: TLS-ALPN-01 validation", "host", hello.ServerName, "from", addrOf(hello.Conn), "err", err)
		return c, err
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" || net.ParseIP(name) != nil {
		name = m.cfg.Default
	}
	if c := m.current(name); c != nil {
		return c, nil
	}
	return m.fallback(hello)
}

// addrOf is the remote address of c, for the log.
func addrOf(c net.Conn) string {
	if c == nil {
		return ""
	}
	return c.RemoteAddr().String()
}

// current returns host's ACME certificate when it is valid now.
func (m *Manager) current(host string) *tls.Certificate {
	p := m.certs[host]
	if p == nil {
		return nil
	}
	c := p.Load()
	if c == nil {
		return nil
	}
	if now := m.now(); now.Before(c.Leaf.NotBefore) || now.After(c.Leaf.NotAfter) {
		return nil
	}
	return c
}

// CachedCertFile is the file of cacheDir in which autocert keeps host's
// ECDSA certificate, the kind pail obtains (helloFor): named by the host
// alone (autocert.go, certKey.String), holding the key's PEM block and
// then the chain's. It does not exist before the first issuance.
func CachedCertFile(cacheDir, host string) string {
	return filepath.Join(cacheDir, certKey(host))
}

// certKey is autocert's cache key of host's ECDSA certificate.
func certKey(host string) string { return strings.ToLower(strings.TrimSuffix(host, ".")) }

// Real reports whether clients get a certificate from the CA: the host
// name's (Default's) ACME certificate exists and is valid now.
func (m *Manager) Real() bool { return m.current(m.cfg.Default) != nil }

// HTTPHandler answers HTTP-01 challenges (RFC 8555 §8.3, paths under
// /.well-known/acme-challenge/) for the http listener and passes every
// other request to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := m.gen.Load(); g.http != nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			m.log.Info("acme: HTTP-01 validation", "host", r.Host, "from", r.RemoteAddr)
			// autocert checks Host against its host policy as it
			// comes; a Host with a port (a CA validating another port
			// than 80, RFC 9110 §7.2) names the same host.
			if host, _, err := net.SplitHostPort(r.Host); err == nil {
				r = r.Clone(r.Context())
				r.Host = host
			}
			g.http.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Run obtains every host's certificate, then keeps them renewed until ctx
// ends: each round looks at every host, installs what autocert holds, and
// starts a renewal for those past renew_before; failures are logged and
// retried after a doubling wait from about a minute to an hour. With a
// Lease, only while this node holds it; otherwise it serves what the
// holder stored in the shared cache (cluster.go).
func (m *Manager) Run(ctx context.Context) {
	// autocert's calls take no context; ending ctx ends their requests
	// to the directory, so that shutdown does not wait on them.
	defer context.AfterFunc(ctx, m.stop)()
	if m.cfg.Lease != nil {
		m.acquire(ctx)
		done := make(chan struct{})
		go func() { m.holdLease(ctx); close(done) }()
		defer func() { <-done }()
	}
	backoff := time.Duration(0)
	for {
		var wait time.Duration
		if m.leading.Load() {
			var failed bool
			wait, failed = m.round(ctx)
			if failed {
				backoff = min(max(2*backoff, retryMin), retryMax)
				// Jitter, so that many servers do not come back at once.
				wait = backoff + rand.N(backoff/10)
				m.log.Info("acme: next attempt", "in", wait.Round(time.Second))
			} else {
				backoff = 0
			}
		} else {
			backoff = 0
			wait = m.follow(ctx)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-m.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// round looks at every host once. It returns the wait until the next
// round, and whether an attempt failed.
func (m *Manager) round(ctx context.Context) (time.Duration, bool) {
	g := m.gen.Load()
	results := m.fetch(g, m.cfg.Hosts)
	var due []string
	for _, h := range m.cfg.Hosts {
		if c := results[h]; c != nil && m.due(c) && !g.cache.hides(h) {
			due = append(due, h)
		}
	}
	if len(due) > 0 && ctx.Err() == nil {
		// The hosts of a renewal still pending in g stay hidden in the
		// next generation: their old certificates are due too.
		hide := append(due, g.cache.hiddenHosts()...)
		m.log.Info("acme: renewing", "hosts", hide, "renew_before", m.cfg.RenewBefore)
		g = m.newGeneration(hide)
		m.gen.Store(g)
		for h, c := range m.fetch(g, due) {
			results[h] = c
		}
	}
	wait, failed := checkEvery, false
	for _, h := range m.cfg.Hosts {
		c := results[h]
		if c == nil {
			failed = true
			continue
		}
		if m.due(c) || g.cache.hides(h) {
			// Renewal failed or still due; the old certificate stays in
			// use while it is valid.
			failed = true
			continue
		}
		wait = min(wait, m.dueAt(c).Sub(m.now()))
	}
	return max(wait, retryMin), failed
}

// fetch asks g for each host's certificate at once, as a handshake naming
// it would, installs each one obtained, and returns them by host; a
// failure is logged and leaves the host out.
func (m *Manager) fetch(g *generation, hosts []string) map[string]*tls.Certificate {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]*tls.Certificate{}
	for _, h := range hosts {
		wg.Go(func() {
			c, err := g.am.GetCertificate(helloFor(h))
			if err == nil && c.Leaf == nil {
				err = errors.New("acme/autocert: certificate without leaf")
			}
			if err != nil {
				using := "the self-signed or [tls] certificate"
				if old := m.current(h); old != nil {
					using = "the previous ACME certificate, valid until " + old.Leaf.NotAfter.UTC().Format(time.RFC3339)
				}
				m.log.Warn("acme: no certificate from the CA; serving "+using, "host", h, "directory", m.cfg.Directory, "err", err)
				return
			}
			m.install(h, c)
			mu.Lock()
			out[h] = c
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// install puts c in use for host, and logs when it is a new certificate.
func (m *Manager) install(host string, c *tls.Certificate) {
	old := m.certs[host].Swap(c)
	if old != nil && old.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) == 0 {
		return
	}
	m.log.Info("acme: certificate in use", "host", host, "serial", c.Leaf.SerialNumber.Text(16),
		"issuer", c.Leaf.Issuer.CommonName, "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

// dueAt is when pail renews c itself: renew_before ahead of its expiry;
// when autocert renews it on its own timer (renew_before within
// autocert's cap), a little later, to leave that timer its turn.
func (m *Manager) dueAt(c *tls.Certificate) time.Time {
	at := c.Leaf.NotAfter.Add(-m.cfg.RenewBefore)
	if m.cfg.RenewBefore <= autocertMaxRenewBefore {
		// autocert's jitter is at most a tenth of renew_before.
		at = at.Add(min(autocertGrace, m.cfg.RenewBefore/5))
	}
	return at
}

func (m *Manager) due(c *tls.Certificate) bool { return !m.now().Before(m.dueAt(c)) }

// helloFor is the ClientHello of a handshake naming host from a client
// that takes ECDSA certificates, as every current client does (autocert
// would make an RSA one for a client that does not).
func helloFor(host string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:        host,
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
}

// hidingCache is the autocert cache of one generation: the certificates of
// the hosts it hides read as missing until the generation stores new ones,
// which makes autocert obtain them again. Everything else (the account
// key, challenge tokens, other hosts) passes through.
type hidingCache struct {
	base   autocert.Cache
	mu     sync.Mutex
	hidden map[string]bool // host name: autocert's cache key of its ECDSA certificate
}

var _ autocert.Cache = (*hidingCache)(nil)

func (c *hidingCache) hides(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hidden[host]
}

func (c *hidingCache) hiddenHosts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for h := range c.hidden {
		out = append(out, h)
	}
	return out
}

// Get implements autocert.Cache.
func (c *hidingCache) Get(ctx context.Context, key string) ([]byte, error) {
	if c.hides(key) {
		return nil, autocert.ErrCacheMiss
	}
	return c.base.Get(ctx, key)
}

// Put implements autocert.Cache; storing a hidden host's certificate
// shows it again.
func (c *hidingCache) Put(ctx context.Context, key string, data []byte) error {
	if err := c.base.Put(ctx, key, data); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.hidden, key)
	c.mu.Unlock()
	return nil
}

// Delete implements autocert.Cache.
func (c *hidingCache) Delete(ctx context.Context, key string) error {
	return c.base.Delete(ctx, key)
}

// cancelTransport ends every request when ctx ends, as well as when the
// request's own context does, and refuses every request while leading is
// false (another node of the cluster talks to the CA).
type cancelTransport struct {
	base    http.RoundTripper
	ctx     context.Context
	leading *atomic.Bool
}

// RoundTrip implements http.RoundTripper.
func (t cancelTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.leading.Load() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNotLeading
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	// The body is read after RoundTrip returns, so the request's context
	// is left to its owner to end; then the hook on t.ctx goes too.
	context.AfterFunc(ctx, func() { stop() })
	return t.base.RoundTrip(req.WithContext(ctx))
}
