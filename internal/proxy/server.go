// Package proxy is pail's web cache on the network: an HTTP server that is a
// reverse proxy for configured host names and, when configured, a forward
// proxy for absolute-form requests (CONNECT tunnelled, not cached) to the
// destinations its rules allow (destination.go), caching with the RFC 9111
// semantics of package httpcache. It coalesces concurrent misses, streams
// bodies while caching them, labels responses with Cache-Status (RFC 9211)
// and Via, answers origin failures with 502/504 or a stale copy where
// stale-if-error allows, and offers purge and metrics on an admin path.
//
// GET /_pail/metrics answers "name value" lines: the counters of Metrics
// (proxy_requests, proxy_hits, proxy_hit_ratio, ...), the store's
// occupancy, proxy_open_connections, and proxy_load: the edge's load, a
// number in [0,1] with four decimals, here open client connections over
// the connection cap (Config.MaxConnections). pail's CDN name server reads
// proxy_load from an edge's health URL and sends fewer clients to busier
// edges.
//
// A hit is the hot path. Everything derived from a stored response is
// computed once per entry: its parsed directives and freshness (package
// httpcache) and the response header a plain hit sends (hit.go), so a hit
// takes no lock, parses nothing, clones no header, and writes an in-memory
// body with one Write; only Age and Cache-Status are made per request, and
// reused while they do not change.
//
// Below net/http sits a fast path for the hottest case (fast*.go). Serve
// gives every accepted connection to serveFast first: its own read loop,
// with a 4 KB head buffer (grown for a longer head up to net/http's
// limit) and the http.Server's head and idle deadlines.
// A request head that is a plain hit — GET or HEAD, HTTP/1.1 or 1.0, no
// body, no Range, no preconditions, no Cache-Control, Pragma,
// Authorization, Upgrade or Expect, a well-formed Host and an
// origin-form or absolute-form target that net/http would read the same
// way (parseFastRequest; FuzzFastParse compares it with net/http) — is
// routed by route, looked up by httpcache.Select and Decide as
// serveCacheable does, and if the entry is fresh and in memory, answered
// with prepared bytes: the status line, the header serveHit sets
// serialised by net/http's own http.Header.WriteSubset, and the body,
// made once per entry and Age/Cache-Status stamp (fastWire) and written
// with one Write. The bytes equal net/http's answer
// (TestFastPathMatchesNetHTTP); the hit is counted in Metrics as any
// other, and pipelined plain hits are answered in order. At the first
// request it does not answer (a miss, a stale entry, anything unusual,
// a head over net/http's limit), the fast path hands the connection with
// every byte read from it to the http.Server through an in-process
// listener (handoffListener); net/http keeps it from then on. The head is
// scanned once, line by line as it arrives, and handed over at its first
// line the fast path would refuse, so net/http answers a malformed head at
// once and a trickled one costs linear work; the deadline of that head
// goes with it. Connection: close and HTTP/1.0 without keep-alive close
// after the answer, as net/http does; once Shutdown has begun, answers
// carry Connection: close, idle fast-path connections are closed, and
// answers in progress are waited for. Config.DisableFastPath (pail proxy
// --no-fast-path) turns it off for comparisons.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/httpcache"
)

// Connection limits and deadlines. Every read and write has one.
const (
	// readHeaderTimeout bounds how long a client may take to send a
	// request head (slowloris protection).
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes keep-alive connections idle this long.
	idleTimeout = 2 * time.Minute
	// writeIdleTimeout is how long one write to a client may block; it is
	// renewed on progress, so a large body may take as long as it needs.
	writeIdleTimeout = time.Minute
	// readBodyIdleTimeout is the same for reading a request body.
	readBodyIdleTimeout = time.Minute
	// maxHeaderBytes bounds a request head.
	maxHeaderBytes = 64 << 10
	// dialTimeout bounds connecting to an origin (or CONNECT target).
	dialTimeout = 10 * time.Second
	// originKeepAlive is the TCP keep-alive period of origin connections.
	originKeepAlive = 30 * time.Second
	// originHeaderTimeout bounds the wait for an origin's response head;
	// past it the client gets 504 (RFC 9110 §15.6.5).
	originHeaderTimeout = time.Minute
	// originIdleTimeout bounds a stall while reading an origin's body.
	originIdleTimeout = time.Minute
	// backgroundTimeout bounds a stale-while-revalidate refresh.
	backgroundTimeout = 2 * time.Minute
	// tunnelIdleTimeout closes a CONNECT tunnel silent in both directions.
	tunnelIdleTimeout = 5 * time.Minute
	// defaultMaxConnections caps concurrent client connections.
	defaultMaxConnections = 4096
	// copyBufferSize is the chunk in which bodies stream.
	copyBufferSize = 32 << 10
	// originReadBufferSize is each origin connection's read buffer.
	originReadBufferSize = 32 << 10
)

// AdminPrefix is the path under which the admin endpoints live, for
// origin-form requests only: /_pail/metrics and /_pail/purge.
const AdminPrefix = "/_pail/"

// Config configures a Server.
type Config struct {
	// Name is the pseudonym in Via (RFC 9110 §7.6.3) and Cache-Status
	// (RFC 9211); default "pail".
	Name string
	// Origin, when set, serves every Host that Sites does not name (the
	// quick start's --origin).
	Origin *url.URL
	// Sites maps a host name (lower case, optionally with ":port") to its
	// origin.
	Sites map[string]*url.URL
	// Forward enables the forward proxy: absolute-form requests and
	// CONNECT. Off by default; when on, destinations that are not
	// globally reachable, ports that are not HTTP's and the proxy's own
	// addresses are refused (destination.go).
	Forward bool
	// ForwardAllow lists the destinations the forward proxy may reach
	// although the rules refuse them: CIDRs and addresses (any allowed
	// port), address:port and host:port (that destination, any port).
	ForwardAllow []string
	// TrustedProxies lists the CIDRs or addresses of proxies in front of
	// this one whose Forwarded and X-Forwarded-* fields are passed on;
	// from anyone else they are removed (outbound.go).
	TrustedProxies []string
	// LookupIP resolves forward-proxy destinations; nil means the
	// system's resolver. A test hook.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// DialChecked connects to a forward-proxy destination address
	// ("ip:port") once the destination rules have allowed it; nil means
	// a net.Dialer with pail's timeouts. A test hook.
	DialChecked func(ctx context.Context, addr string) (net.Conn, error)
	// ConnectPorts are the ports CONNECT may reach; empty means 443.
	ConnectPorts []int
	// Store holds the cached responses.
	Store httpcache.Store
	// AdminToken authorises /_pail/purge ("Authorization: Bearer TOKEN");
	// empty disables purging.
	AdminToken string
	// MaxConnections caps concurrent client connections; 0 means a default.
	MaxConnections int
	// Log is the debug log; nil discards.
	Log *slog.Logger
	// Transport reaches configured origins (reverse proxying); nil means
	// a transport with pail's timeouts. A test hook. Forwarded requests
	// always use pail's own, whose dialer applies the destination rules.
	Transport http.RoundTripper
	// Now is the clock; nil means time.Now. A test hook.
	Now func() time.Time
	// DisableFastPath serves every request through net/http (the fast
	// path is described in the package doc); for comparisons and tests.
	DisableFastPath bool
}

// Server is the web cache.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     httpcache.Store
	transport http.RoundTripper
	// forward reaches forward-proxy destinations through dialDestination.
	forward *http.Transport
	dest    *destPolicy
	trusted []netip.Prefix
	// viaID tells this process's Via member apart from another proxy's
	// with the same pseudonym (loop.go).
	viaID     string
	now       func() time.Time
	realClock bool // now is time.Now: a request's arrival time serves as now
	http      *http.Server
	bufs      sync.Pool // *[]byte of copyBufferSize, for streaming bodies
	// hitBuilder is s.prepareHit, made once (a method value allocates).
	hitBuilder func(*httpcache.Entry) any
	flights    flights
	metrics    Metrics
	tunnels    tunnels
	// fast holds the connections the fast path owns; fastHits counts its
	// answers (they are in metrics.Hits too).
	fast     fastConns
	fastHits atomic.Int64
	// headTimeout and idleTimeout are the fast path's copies of the
	// http.Server's ReadHeaderTimeout and IdleTimeout; test hooks.
	headTimeout, idleTimeout time.Duration

	bgMu     sync.Mutex
	bgClosed bool
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// New returns a Server; Serve runs it.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("proxy: no store")
	}
	if cfg.Name == "" {
		cfg.Name = "pail"
	}
	if len(cfg.ConnectPorts) == 0 {
		cfg.ConnectPorts = []int{443}
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = defaultMaxConnections
	}
	s := &Server{cfg: cfg, log: cfg.Log, store: cfg.Store, transport: cfg.Transport, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now, s.realClock = time.Now, true
	}
	s.metrics.maxConnections = int64(cfg.MaxConnections)
	if s.transport == nil {
		s.transport = newTransport()
	}
	var err error
	if s.dest, err = parseDestPolicy(cfg.ForwardAllow); err != nil {
		return nil, err
	}
	if s.trusted, err = parsePrefixes(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("proxy: trusted proxies: %w", err)
	}
	s.forward = newTransport()
	s.forward.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
		return s.dialDestination(ctx, addr)
	}
	s.viaID = newViaID()
	s.flights.m = map[string]*flight{}
	s.tunnels.conns = map[net.Conn]struct{}{}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.hitBuilder = s.prepareHit
	s.headTimeout, s.idleTimeout = readHeaderTimeout, idleTimeout
	return s, nil
}

// newTransport returns the origin client: pooled keep-alive connections,
// bounded dials and waits, and no transparent decompression (the cache
// must store exactly what the origin sent).
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: originKeepAlive}).DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: originHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		DisableCompression:    true,
		// A response head and a body of a typical object arrive in one
		// read (net/http's default buffer is 4 KB, so a 10 KB miss took
		// two reads and reached the client in two pieces).
		ReadBufferSize: originReadBufferSize,
	}
}

// Serve accepts connections on ln until Shutdown or Close. Each goes to
// the fast path first, which hands it to the http.Server at the first
// request it does not answer itself.
func (s *Server) Serve(ln net.Listener) error {
	s.dest.addListener(ln.Addr())
	lim := newLimitListener(ln, s.cfg.MaxConnections, &s.metrics.OpenConnections)
	var err error
	if s.cfg.DisableFastPath {
		err = s.http.Serve(lim)
	} else {
		hl := newHandoffListener(lim)
		go s.acceptFast(lim, hl)
		err = s.http.Serve(hl)
		hl.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes idle connections, waits for requests
// in progress and background refreshes to finish (or ctx to end), then
// closes tunnels.
func (s *Server) Shutdown(ctx context.Context) error {
	s.fast.stop()
	err := s.http.Shutdown(ctx)
	if !s.fast.wait(ctx.Done()) {
		s.fast.closeAll()
		err = errors.Join(err, fmt.Errorf("proxy: fast-path connections: %w", ctx.Err()))
	}
	s.stopBackground()
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.bgCancel()
		err = errors.Join(err, fmt.Errorf("proxy: background refreshes: %w", ctx.Err()))
	}
	s.tunnels.closeAll()
	s.forward.CloseIdleConnections()
	return err
}

// Close stops at once, dropping connections and tunnels.
func (s *Server) Close() error {
	err := s.http.Close()
	s.forward.CloseIdleConnections()
	s.fast.closeAll()
	s.stopBackground()
	s.bgCancel()
	s.tunnels.closeAll()
	return err
}

func (s *Server) stopBackground() {
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
}

// goBackground runs f unless the server is stopping.
func (s *Server) goBackground(f func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, backgroundTimeout)
		defer cancel()
		f(ctx)
	}()
}

// getBuffer returns a streaming buffer; put it back in s.bufs when done.
func (s *Server) getBuffer() *[]byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBufferSize)
	return &b
}

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }
