package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"pail/internal/blobdb"
)

// A cluster of nodes behind the same host names shares one autocert
// cache (Config.Cache, DBCache) and one lease (Config.Lease). The node
// holding the lease is the only one that talks to the CA: it runs the
// rounds of Run, ordering and renewing; it renews the lease every third
// of its TTL while Run runs, and releases it when Run ends. Every other
// node's HTTP client refuses to reach the directory (so that neither
// pail nor autocert's own renewal timers order there), and its Run reads
// each host's certificate from the shared cache every followEvery,
// serving what the holder obtained; it tries to take the lease at each
// renewal tick, which succeeds once the holder has released it or
// stopped renewing it for a TTL (it died).
//
// HTTP-01 works from any node: autocert keeps its tokens in the cache,
// so a node that did not order answers the CA's request. TLS-ALPN-01
// does not: autocert keeps the challenge certificate in the ordering
// node's memory, so it validates only when the CA's connection reaches
// that node. A cluster behind a load balancer turns http01 on.

// followEvery is how often a node that does not hold the lease reads the
// certificates from the shared cache: a certificate the holder obtains
// is served by every node within it.
const followEvery = time.Minute

// leaseReleaseTimeout bounds the release of the lease as Run ends; a
// lease not released (database down) runs out instead.
const leaseReleaseTimeout = 5 * time.Second

// Lease is the right to talk to the CA, held by one node of a cluster at
// a time. *blobdb.Lease is one.
type Lease interface {
	// Acquire takes the lease when it is free or has run out, or
	// extends it when this node holds it; it reports whether this node
	// holds it now, and until when.
	Acquire(ctx context.Context) (until time.Time, held bool, err error)
	// Release gives the lease up, if this node holds it.
	Release(ctx context.Context) error
	// TTL is how long one Acquire holds the lease.
	TTL() time.Duration
}

var _ Lease = (*blobdb.Lease)(nil)

// errNotLeading is the HTTP client's error on a node that does not hold
// the lease.
var errNotLeading = errors.New("acme: another node of the cluster talks to the CA (this node does not hold the lease)")

// DBCache is an autocert.Cache in a cluster's database: the entry key is
// the blob "acme/"+key. autocert keeps there the account key, each
// host's certificate with its private key, and HTTP-01 tokens.
type DBCache struct {
	db *blobdb.DB
}

var _ autocert.Cache = (*DBCache)(nil)

// NewDBCache returns the cache in db.
func NewDBCache(db *blobdb.DB) *DBCache { return &DBCache{db: db} }

const dbCachePrefix = "acme/"

// Get implements autocert.Cache: autocert.ErrCacheMiss for a key not
// stored.
func (c *DBCache) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := c.db.Get(ctx, dbCachePrefix+key)
	if errors.Is(err, blobdb.ErrNotFound) {
		return nil, autocert.ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("acme: cache: %w", err)
	}
	return data, nil
}

// Put implements autocert.Cache.
func (c *DBCache) Put(ctx context.Context, key string, data []byte) error {
	if err := c.db.Put(ctx, dbCachePrefix+key, data); err != nil {
		return fmt.Errorf("acme: cache: %w", err)
	}
	return nil
}

// Delete implements autocert.Cache.
func (c *DBCache) Delete(ctx context.Context, key string) error {
	if err := c.db.Delete(ctx, dbCachePrefix+key); err != nil {
		return fmt.Errorf("acme: cache: %w", err)
	}
	return nil
}

// acquire takes or renews the lease and records the outcome in
// m.leading. Becoming the holder starts a fresh generation, which reads
// what the previous holder stored, and wakes Run; losing the lease, or
// failing to renew it before it runs out, stops this node's requests to
// the CA. Only Run's goroutines call it, one at a time.
func (m *Manager) acquire(ctx context.Context) {
	was := m.leading.Load()
	until, held, err := m.cfg.Lease.Acquire(ctx)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("acme: taking or renewing the lease", "err", err)
		if !was || m.now().Before(m.leaseUntil) {
			return // not holding it, or still holding it for now
		}
		held = false
	case held:
		m.leaseUntil = until
	}
	if held == was {
		return
	}
	if held {
		m.log.Info("acme: lease taken; this node orders and renews the certificates")
		m.gen.Store(m.newGeneration(nil))
		m.leading.Store(true)
		select {
		case m.wake <- struct{}{}:
		default:
		}
		return
	}
	m.leading.Store(false)
	m.log.Warn("acme: lease lost; another node orders the certificates", "err", err)
}

// holdLease renews the lease every third of its TTL until ctx ends, then
// releases it.
func (m *Manager) holdLease(ctx context.Context) {
	t := time.NewTicker(max(m.cfg.Lease.TTL()/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			was := m.leading.Swap(false)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseReleaseTimeout)
			defer cancel()
			if err := m.cfg.Lease.Release(rctx); err != nil && was {
				m.log.Warn("acme: releasing the lease (it runs out instead)", "err", err)
			}
			return
		case <-t.C:
			m.acquire(ctx)
		}
	}
}

// follow reads each host's certificate from the shared cache and
// installs those that are valid, and returns the wait until the next
// look.
func (m *Manager) follow(ctx context.Context) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	for _, h := range m.cfg.Hosts {
		data, err := m.cache.Get(ctx, certKey(h))
		if errors.Is(err, autocert.ErrCacheMiss) {
			continue // the holder has not obtained it yet
		}
		if err == nil {
			var c *tls.Certificate
			if c, err = parseCached(data, h, m.now()); err == nil {
				m.install(h, c)
				continue
			}
		}
		if ctx.Err() == nil {
			m.log.Warn("acme: reading the certificate from the shared cache", "host", h, "err", err)
		}
	}
	return m.followEvery
}

// parseCached parses autocert's cache entry of host's certificate (the
// private key's PEM block, then the chain's) and checks that it names
// host and is valid at now.
func parseCached(data []byte, host string, now time.Time) (*tls.Certificate, error) {
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, err
	}
	if c.Leaf == nil {
		return nil, errors.New("certificate without leaf")
	}
	if err := c.Leaf.VerifyHostname(host); err != nil {
		return nil, err
	}
	if now.Before(c.Leaf.NotBefore) || now.After(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("certificate valid from %v to %v", c.Leaf.NotBefore, c.Leaf.NotAfter)
	}
	return &c, nil
}
