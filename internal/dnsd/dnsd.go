// Package dnsd is pail's authoritative name server: zones from RFC 1035
// master files and from the config, answered over UDP and TCP with
// github.com/miekg/dns, plus CDN pools — names answered with one of many
// edge addresses chosen by client location (the EDNS Client Subnet or
// source address, placed by the config's prefix table or a MaxMind-format
// database), edge health (active HTTP checks) and load. It never recurses,
// refuses zones it does not serve, and limits response rates per client
// prefix so that it cannot be used as an amplifier.
package dnsd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// Transport limits.
const (
	// readBufSize is the UDP read buffer: queries with EDNS options fit.
	readBufSize = 4096
	// tcpIdleTimeout: RFC 7766 §6.2.3 recommends servers close idle
	// connections after seconds, not minutes.
	tcpIdleTimeout = 10 * time.Second
	// ioTimeout bounds each read and write of a TCP message.
	ioTimeout = 2 * time.Second
	// maxTCPQueries per connection before it is closed, bounding what one
	// client holds (RFC 7766 §6.2.3 lets a server close connections).
	maxTCPQueries = 1000
)

// Server is the name server. Create it with New, run it with ServeUDP and
// ServeTCP (each on its own socket, usually the same port), change its
// data with Reload, stop it with Shutdown or Close.
type Server struct {
	log *slog.Logger
	cat atomic.Pointer[catalog]
	rrl *limiter
	ck  *checker
	now func() time.Time // test hook for RRL
	// idle is how long a TCP or TLS connection may wait for its next
	// query: tcpIdleTimeout, shorter in tests.
	idle time.Duration
	// streamHook, when set (tests), sees each query read from a stream
	// before it is answered.
	streamHook func(wire []byte)
	// batchHook, when set (tests), sees the destination of each query
	// the batched UDP reader reads (udp_batch_linux.go) before it is
	// answered: the address its answer is sent from on a socket bound to
	// a wildcard address, the zero Addr on one bound to an address.
	batchHook func(to netip.Addr)
	// own makes the records added to the zones at each build (New,
	// Reload); nil: none.
	own func() []dns.RR
	// scratch holds *scratch for ServeDNS.
	scratch sync.Pool

	mu      sync.Mutex
	servers []*dns.Server
	udp     []*udpServer
	streams []*streamServer
	closed  bool
}

// New loads the zones, pools and MaxMind-format database of cfg and starts
// the edges' health checks. log may be nil.
func New(cfg config.DNS, log *slog.Logger) (*Server, error) {
	return NewWithRecords(cfg, log, nil)
}

// NewWithRecords is New with records of pail's own (a local domain's MX,
// SPF, DKIM, DMARC, MTA-STS, TLS-RPT and SRV records): own is called
// each time the zones are built (here and at every Reload), and each
// record it returns is answered by the zone it falls in, unless the zone
// already has records of that name and type (what the operator wrote
// wins), the name has a CNAME or lies below a delegation, or the record
// is a CNAME at a name with other records. Records in no served zone
// are dropped. own may be nil.
func NewWithRecords(cfg config.DNS, log *slog.Logger, own func() []dns.RR) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log:  log,
		ck:   newChecker(cfg.HealthInterval.Duration, cfg.HealthTimeout.Duration, log),
		now:  time.Now,
		idle: tcpIdleTimeout,
		own:  own,
		rrl: newLimiter(cfg.RateLimit.ResponsesPerSecond, cfg.RateLimit.Slip,
			cfg.RateLimit.IPv4PrefixLen, cfg.RateLimit.IPv6PrefixLen),
	}
	s.scratch.New = func() any { return newScratch() }
	var geo *geoDB
	if cfg.GeoIPDB != "" {
		var err error
		if geo, err = openGeoDB(cfg.GeoIPDB); err != nil {
			s.ck.close()
			return nil, fmt.Errorf("dns.geoip_db: %w", err)
		}
	}
	cat, err := buildCatalog(cfg, geo, s.ck, s.ownRecords())
	if err == nil {
		err = s.signCatalog(cat, cfg)
	}
	if err != nil {
		s.ck.close()
		return nil, err
	}
	s.cat.Store(cat)
	return s, nil
}

// Reload builds new data from cfg (re-reading the zone files and the
// MaxMind-format database) and swaps it in atomically: queries in flight
// finish on the old data, none fail. On error the old data stays. A
// database that cannot be read is logged and the one loaded before is
// kept, while the zones and pools are still reloaded. Listen and
// rate-limit settings are not reloaded.
func (s *Server) Reload(cfg config.DNS) error {
	geo := s.reloadGeoDB(cfg.GeoIPDB)
	cat, err := buildCatalog(cfg, geo, s.ck, s.ownRecords())
	if err == nil {
		err = s.signCatalog(cat, cfg)
	}
	if err != nil {
		return fmt.Errorf("dns reload: %w", err)
	}
	s.cat.Store(cat)
	n := 0
	for _, z := range cat.zones {
		n += z.Len()
	}
	s.log.Info("dns: reloaded", "zones", len(cat.zones), "records", n, "pools", len(cat.pools))
	return nil
}

// signCatalog readies cat's zones for signing when cfg.DNSSEC is set,
// logging each zone that cannot be signed (it answers SERVFAIL).
func (s *Server) signCatalog(cat *catalog, cfg config.DNS) error {
	if !cfg.DNSSEC {
		return nil
	}
	if cfg.KeyDir == "" {
		return errors.New("dns.dnssec: no key directory (dns.dnssec_key_dir)")
	}
	// Through s.now as it is when signing, so that a test's clock moves
	// the signatures and the answers prepared with them alike.
	for _, err := range cat.signZones(cfg.KeyDir, func() time.Time { return s.now() }) {
		s.log.Error("dns: zone not signed", "err", err)
	}
	return nil
}

// ownRecords returns the records of s.own, none when it is nil.
func (s *Server) ownRecords() []dns.RR {
	if s.own == nil {
		return nil
	}
	return s.own()
}

// reloadGeoDB reads the database at path for a reload: nil when path is
// empty; the database in use when it cannot be read (the error is logged:
// a bad download must not leave the server without locations).
func (s *Server) reloadGeoDB(path string) *geoDB {
	if path == "" {
		return nil
	}
	geo, err := openGeoDB(path)
	if err == nil {
		return geo
	}
	old := s.cat.Load().loc.geo
	if old == nil {
		s.log.Error("dns reload: dns.geoip_db: not loaded; clients are located by dns.locations only", "err", err)
	} else {
		s.log.Error("dns reload: dns.geoip_db: not reloaded; keeping the database loaded before", "err", err, "kept", old.path)
	}
	return old
}

// Zones returns the origins of the zones served.
func (s *Server) Zones() []string {
	var out []string
	for o := range s.cat.Load().zones {
		out = append(out, o)
	}
	return out
}

// adBit is the AD bit in the fourth octet of the DNS header (RFC 4035
// §3.2.3).
const adBit = 0x20

// noADWriter clears the AD bit of every message it writes: pail does not
// validate DNSSEC (it signs, but an authoritative server's answers are
// not "authenticated data"), so no answer of its may claim it (RFC 6840
// §5.8).
type noADWriter struct{ dns.Writer }

// Write writes m with AD clear. m belongs to the caller (io.Writer's
// contract) and is never changed: pail's own answers have AD clear and go
// out as they are; only miekg/dns's rejections of unread queries, which
// echo the query's header, are copied and cleared.
func (w noADWriter) Write(m []byte) (int, error) {
	if len(m) < 4 || m[3]&adBit == 0 {
		return w.Writer.Write(m)
	}
	c := bytes.Clone(m)
	c[3] &^= adBit
	return w.Writer.Write(c)
}

func (s *Server) serve(srv *dns.Server) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("dns: server closed")
	}
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	err := srv.ActivateAndServe()
	if s.isClosed() {
		return nil
	}
	return err
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting queries, waits (until ctx ends) for those in
// progress, and stops the health checks.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	servers := s.servers
	s.servers = nil
	udp := s.udp
	s.udp = nil
	streams := s.streams
	s.streams = nil
	s.mu.Unlock()
	var errs []error
	for _, st := range streams {
		if err := st.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	for _, u := range udp {
		if err := u.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	for _, srv := range servers {
		err := srv.ShutdownContext(ctx)
		if isNotStarted(err) {
			// Serve has not got going: closing its socket ends it.
			if srv.PacketConn != nil {
				srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				srv.Listener.Close()
			}
			continue
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	s.ck.close()
	return errors.Join(errs...)
}

// Close stops everything at once.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	return nil
}

// isNotStarted reports miekg/dns's error for shutting down a server whose
// Serve has not got far enough to start.
func isNotStarted(err error) bool { return err != nil && err.Error() == "dns: server not started" }
