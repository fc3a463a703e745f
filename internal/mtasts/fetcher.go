package mtasts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TXTResolver looks up TXT records. LookupTXT returns one string per
// record, that record's character-strings joined without spaces (RFC
// 8461 §3.1), following CNAMEs. The project's resolver implements it.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Defaults of Config, each with its reason.
const (
	// DefaultTXTTimeout bounds the TXT lookup: a resolver that has not
	// answered in 5 s is failing, and the per-message DNS budget is
	// seconds.
	DefaultTXTTimeout = 5 * time.Second
	// DefaultFetchTimeout bounds the HTTPS fetch, connection included: a
	// policy is a few hundred bytes (RFC 8461 §3.3 leaves the value to
	// the sender; a slow policy host must not hold the queue).
	DefaultFetchTimeout = 10 * time.Second
	// DefaultRetryAfter is how long a failed fetch is not tried again for
	// the same domain and id (RFC 8461 §3.3: "limit further attempts to a
	// period of five minutes or longer per version ID").
	DefaultRetryAfter = 5 * time.Minute
	// DefaultMaxEntries bounds the cache: more domains than a server
	// sends to in a week, a few MB at most.
	DefaultMaxEntries = 10000
)

// Config configures a Fetcher.
type Config struct {
	// Resolver looks up _mta-sts.DOMAIN (required).
	Resolver TXTResolver
	// IsNotFound reports whether an error of Resolver means the name
	// has no TXT records (NXDOMAIN or NODATA) rather than a failed lookup
	// (required: a failed lookup keeps a cached policy in force, while
	// "none" without a cache is no policy).
	IsNotFound func(error) bool
	// Client fetches the policies (required). The caller sets its
	// transport's DialContext (resolving through the project's resolver)
	// and TLS roots; certificates are always verified (a transport with
	// InsecureSkipVerify is refused) and redirects never followed.
	Client *http.Client
	// Dir holds the cache file (CacheFile); "" keeps the cache in memory.
	Dir string
	// MaxEntries bounds the cache; 0 means DefaultMaxEntries.
	MaxEntries int
	// TXTTimeout, FetchTimeout and RetryAfter: 0 means the defaults.
	TXTTimeout, FetchTimeout, RetryAfter time.Duration
	// Log receives the cache's problems; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Status is what a Lookup found.
type Status int

// The outcomes of a Lookup.
const (
	// NoPolicy: the domain has no available policy (no v=STSv1 TXT
	// record, several, or one that does not parse, §3.1) and none is
	// cached. Deliver as without MTA-STS.
	NoPolicy Status = iota
	// HasPolicy: Result.Policy applies, fetched now or cached.
	HasPolicy
	// TempFail: a policy could not be had and none is cached: the TXT
	// lookup failed (Failure is FailureNone), or the TXT record announces
	// a policy that could not be fetched (Failure says why). RFC 8461
	// §3.3/§5.1: deliver as though the domain had no MTA-STS, and report
	// the failure (TLS-RPT) when Failure is set.
	TempFail
)

// String names the status for logs.
func (s Status) String() string {
	switch s {
	case NoPolicy:
		return "none"
	case HasPolicy:
		return "policy"
	case TempFail:
		return "temporary failure"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of a Lookup.
type Result struct {
	Status Status
	// Policy is the policy in force when Status is HasPolicy (its Mode
	// may be none: a withdrawn policy), else nil. Never change it.
	Policy *Policy
	// ID is the TXT record id the policy was fetched under.
	ID string
	// Cached: Policy came from the cache, not from a fetch just now.
	Cached bool
	// Failure, when not FailureNone, is the TLS-RPT failure type of a
	// fetch that failed just now (or within RetryAfter for the same id).
	// It is set with TempFail, and with HasPolicy when a cached policy
	// was used because the new one could not be fetched.
	Failure Failure
	// Err says what went wrong, for the log: the failed lookup or fetch,
	// or why the TXT record does not count (ErrNoRecord,
	// ErrMultipleRecords, ErrRecordSyntax). nil when all went well.
	Err error
}

// Fetcher looks up, fetches and caches other domains' policies (RFC
// 8461 §3, §5.1). It is safe for concurrent use; lookups of one domain
// at once share one fetch.
type Fetcher struct {
	cfg   Config
	cache *cache

	mu       sync.Mutex
	inflight map[string]*call    // domain + " " + id -> fetch in progress
	failed   map[string]failedAt // domain + " " + id -> last failed fetch
}

// call is one fetch others may wait for.
type call struct {
	done chan struct{}
	p    *Policy
	err  error
}

// failedAt is a failed fetch remembered for RetryAfter.
type failedAt struct {
	at  time.Time
	err error
}

// New returns a Fetcher with the cache read from cfg.Dir. A cache file
// that cannot be parsed is logged and replaced; a directory that cannot
// be made or read is an error.
func New(cfg Config) (*Fetcher, error) {
	switch {
	case cfg.Resolver == nil:
		return nil, errors.New("mtasts: Config.Resolver is required")
	case cfg.IsNotFound == nil:
		return nil, errors.New("mtasts: Config.IsNotFound is required")
	case cfg.Client == nil:
		return nil, errors.New("mtasts: Config.Client is required")
	}
	if t, ok := cfg.Client.Transport.(*http.Transport); ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify {
		return nil, errors.New("mtasts: the client skips certificate checks; RFC 8461 §3.3 requires them")
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.TXTTimeout <= 0 {
		cfg.TXTTimeout = DefaultTXTTimeout
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Client = noRedirects(cfg.Client)
	c, err := openCache(cfg.Dir, cfg.MaxEntries, cfg.Now())
	if c == nil {
		return nil, err
	}
	if err != nil {
		cfg.Log.Warn("mtasts: policy cache not loaded", "err", err)
	}
	return &Fetcher{cfg: cfg, cache: c, inflight: map[string]*call{}, failed: map[string]failedAt{}}, nil
}

// Lookup returns the policy in force for the recipient domain (RFC 8461
// §5.1): it looks up the TXT record (always, so that a new id is seen at
// once, §5.1), returns the cached policy while it has not expired and
// its id is the record's, and fetches the policy otherwise. When no live
// policy can be had, an unexpired cached one still applies (§3.3). Both
// steps have deadlines (Config.TXTTimeout, FetchTimeout) within ctx's.
func (f *Fetcher) Lookup(ctx context.Context, domain string) Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !hostName(domain) {
		return Result{Status: NoPolicy, Err: fmt.Errorf("mtasts: %q is not a domain name", domain)}
	}
	now := f.cfg.Now()
	var cached *entry
	if e := f.cache.get(domain, now); e != nil && now.Before(e.expires()) {
		cached = e
	}
	useCache := func(r Result) Result {
		if cached == nil {
			return r
		}
		r.Status, r.Policy, r.ID, r.Cached = HasPolicy, cached.policy, cached.ID, true
		return r
	}

	tctx, cancel := context.WithTimeout(ctx, f.cfg.TXTTimeout)
	txts, err := f.cfg.Resolver.LookupTXT(tctx, "_mta-sts."+domain+".")
	cancel()
	var rec Record
	switch {
	case err != nil && f.cfg.IsNotFound(err):
		err = ErrNoRecord
	case err != nil:
		// §3.3: no live policy, but a cached one applies.
		return useCache(Result{Status: TempFail, Err: fmt.Errorf("mtasts: TXT _mta-sts.%s: %w", domain, err)})
	default:
		rec, err = RecordFrom(txts)
	}
	if err != nil {
		return useCache(Result{Status: NoPolicy, Err: fmt.Errorf("mtasts: _mta-sts.%s: %w", domain, err)})
	}
	if cached != nil && cached.ID == rec.ID {
		return useCache(Result{})
	}

	p, err := f.fetch(ctx, domain, rec.ID)
	if err != nil {
		failure := FailureFetch
		var fe *fetchError
		if errors.As(err, &fe) {
			failure = fe.failure
		}
		return useCache(Result{Status: TempFail, Failure: failure, Err: err})
	}
	e := &entry{Domain: domain, ID: rec.ID, Fetched: now, Text: p.String(), policy: p, used: now}
	f.cache.put(e)
	if err := f.cache.save(now); err != nil {
		f.cfg.Log.Warn("mtasts: policy cache not saved", "err", err)
	}
	return Result{Status: HasPolicy, Policy: p, ID: rec.ID}
}

// fetch fetches domain's policy announced with id, sharing one fetch
// among concurrent callers, and not trying again within RetryAfter of a
// failure (§3.3).
func (f *Fetcher) fetch(ctx context.Context, domain, id string) (*Policy, error) {
	key := domain + " " + id
	now := f.cfg.Now()
	f.mu.Lock()
	if fa, ok := f.failed[key]; ok && now.Sub(fa.at) < f.cfg.RetryAfter {
		f.mu.Unlock()
		return nil, fa.err
	}
	if c, ok := f.inflight[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.p, c.err
		case <-ctx.Done():
			return nil, &fetchError{failure: FailureFetch, err: fmt.Errorf("mtasts: policy of %s: %w", domain, ctx.Err())}
		}
	}
	c := &call{done: make(chan struct{})}
	f.inflight[key] = c
	f.mu.Unlock()

	fctx, cancel := context.WithTimeout(ctx, f.cfg.FetchTimeout)
	c.p, c.err = fetchPolicy(fctx, f.cfg.Client, domain)
	cancel()

	f.mu.Lock()
	delete(f.inflight, key)
	if c.err != nil {
		f.failed[key] = failedAt{at: now, err: c.err}
		f.pruneFailed(now)
	} else {
		delete(f.failed, key)
	}
	f.mu.Unlock()
	close(c.done)
	return c.p, c.err
}

// pruneFailed forgets failures older than RetryAfter, and the oldest
// past the cache's bound. f.mu is held.
func (f *Fetcher) pruneFailed(now time.Time) {
	for k, fa := range f.failed {
		if now.Sub(fa.at) >= f.cfg.RetryAfter {
			delete(f.failed, k)
		}
	}
	for len(f.failed) > f.cfg.MaxEntries {
		oldKey, old := "", time.Time{}
		for k, fa := range f.failed {
			if oldKey == "" || fa.at.Before(old) {
				oldKey, old = k, fa.at
			}
		}
		delete(f.failed, oldKey)
	}
}
