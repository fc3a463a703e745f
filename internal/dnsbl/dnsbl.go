// Package dnsbl looks client addresses up in DNS blocklists (RFC 5782):
// the MX asks each configured list, in parallel and within one short
// deadline, whether the connecting address is listed, and remembers the
// answer for a few minutes in a bounded cache. A list that does not
// answer, answers with an error code, or answers nonsense lists nobody:
// a dead list never refuses mail. What to do with a listing (refuse it,
// or only score it) is the caller's policy.
package dnsbl

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"pail/internal/ratelimit"
	"pail/internal/resolve"
)

// Bounds.
const (
	// DefaultTimeout bounds the lookups of one address in every list
	// together: each list is asked in parallel, so a dead one costs this
	// much once per address (then its failure is cached, failedTTL).
	DefaultTimeout = 2 * time.Second
	// cacheTTL is how long an answer is reused for the same address: a
	// client usually makes several connections in a row, and lists change
	// an entry in minutes, not seconds (Spamhaus zones' answers carry a
	// TTL of a minute or more).
	cacheTTL = 5 * time.Minute
	// failedTTL is how long an answer with a failed list is reused, so
	// that a dead list delays each address once a minute at most and a
	// recovered one is asked again soon.
	failedTTL = time.Minute
	// maxCache bounds the addresses remembered; when full, pruneTo are
	// kept (the expired go first, then those that expire soonest).
	maxCache = 20000
	pruneTo  = maxCache * 9 / 10
	// maxReason bounds the TXT text kept, which ends up in an SMTP reply.
	maxReason = 200
	// warnEvery is how often a failing list is logged at warning level;
	// the failures in between are counted (Stats) and logged at debug.
	warnEvery = time.Minute
)

// Resolver is the DNS client the lists are asked through:
// *resolve.Resolver, pail's one resolver.
type Resolver interface {
	Query(ctx context.Context, name string, qtype uint16) (resolve.Answer, error)
}

// Config configures a Checker.
type Config struct {
	// Lists are the DNS zones of the blocklists ("zen.spamhaus.org").
	Lists []string
	// Timeout bounds one address's lookups in all lists together; zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Log receives the lists' failures; nil discards them.
	Log *slog.Logger
}

// Listing is one list's entry for an address.
type Listing struct {
	// List is the list's zone.
	List string
	// Codes are the A records of the entry, each in 127.0.0.0/8; lists
	// code the reason in them (127.0.0.2 is the conventional "listed").
	Codes []netip.Addr
	// Reason is the entry's TXT record in printable ASCII, cut to a
	// bounded length; "" when it has none or it could not be fetched in
	// time.
	Reason string
}

// Result is what the lists said about one address.
type Result struct {
	// Listed holds the lists that list the address, in configuration
	// order.
	Listed []Listing
	// Failed names the lists that gave no usable answer (no answer in
	// time, SERVFAIL, an error code, an answer outside 127.0.0.0/8): the
	// address counts as not listed by them.
	Failed []string
}

// Lists returns the zones of the lists that list the address, nil for
// none.
func (r Result) Lists() []string {
	if len(r.Listed) == 0 {
		return nil
	}
	out := make([]string, len(r.Listed))
	for i, l := range r.Listed {
		out[i] = l.List
	}
	return out
}

// ListStats counts one list's answers since the Checker was made.
type ListStats struct {
	List   string
	Listed uint64 // lookups that found the address listed
	Failed uint64 // lookups that gave no usable answer
}

// Checker looks addresses up in the configured lists. It is safe for
// concurrent use.
type Checker struct {
	lists   []string
	timeout time.Duration
	res     Resolver
	log     *slog.Logger
	stats   []listCounters // by index of lists

	mu    sync.Mutex
	cache map[netip.Addr]*entry
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

type listCounters struct {
	listed, failed atomic.Uint64
	lastWarn       atomic.Int64 // Unix nanoseconds of the last warning
}

// entry is one address's answer, or the lookup in progress that will
// give it (done still open): concurrent connections from one address
// share one lookup.
type entry struct {
	done    chan struct{}
	res     Result    // set before done is closed
	expires time.Time // set, under Checker.mu, when done is closed
}

// New returns a Checker that asks the lists of cfg through r.
func New(cfg Config, r Resolver) *Checker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Checker{
		lists:   append([]string(nil), cfg.Lists...),
		timeout: cfg.Timeout,
		res:     r,
		log:     cfg.Log,
		stats:   make([]listCounters, len(cfg.Lists)),
		cache:   map[netip.Addr]*entry{},
	}
}

// Stats returns the counts of each list, in configuration order.
func (c *Checker) Stats() []ListStats {
	out := make([]ListStats, len(c.lists))
	for i, l := range c.lists {
		out[i] = ListStats{List: l, Listed: c.stats[i].listed.Load(), Failed: c.stats[i].failed.Load()}
	}
	return out
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Check returns what the lists say about ip, from the cache when it was
// asked recently. It returns within the Checker's timeout whatever the
// lists do; when ctx ends first it returns an empty Result (not listed).
func (c *Checker) Check(ctx context.Context, ip netip.Addr) Result {
	ip = ip.Unmap()
	if !ip.IsValid() || len(c.lists) == 0 {
		return Result{}
	}
	now := c.now()
	c.mu.Lock()
	e := c.cache[ip]
	if e == nil || (e.expires.Before(now) && !e.pending()) {
		e = &entry{done: make(chan struct{})}
		if len(c.cache) >= maxCache {
			ratelimit.Trim(c.cache, pruneTo,
				func(e *entry) bool { return !e.pending() && e.expires.Before(now) },
				(*entry).pending,
				func(a, b *entry) int { return a.expires.Compare(b.expires) }, nil)
		}
		c.cache[ip] = e
		c.mu.Unlock()
		// The lookup is the entry's, not this caller's: other callers may
		// wait for it, so it is bounded by the timeout alone.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		e.res = c.lookup(lctx, ip)
		cancel()
		ttl := cacheTTL
		if len(e.res.Failed) > 0 {
			ttl = failedTTL
		}
		c.mu.Lock()
		e.expires = c.now().Add(ttl)
		close(e.done)
		c.mu.Unlock()
		return e.res
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.res
	case <-ctx.Done():
		return Result{}
	}
}

// pending reports whether the entry's lookup is still running; call it
// with Checker.mu held.
func (e *entry) pending() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// lookup asks every list about ip, in parallel.
func (c *Checker) lookup(ctx context.Context, ip netip.Addr) Result {
	rev := reverse(ip)
	type answer struct {
		listing *Listing
		err     error
	}
	answers := make([]answer, len(c.lists))
	var wg sync.WaitGroup
	for i, list := range c.lists {
		wg.Go(func() {
			l, err := c.ask(ctx, rev+"."+list, list)
			answers[i] = answer{l, err}
		})
	}
	wg.Wait()
	var res Result
	for i, a := range answers {
		list := c.lists[i]
		switch {
		case a.err != nil:
			res.Failed = append(res.Failed, list)
			c.stats[i].failed.Add(1)
			c.logFailure(i, ip, a.err)
		case a.listing != nil:
			res.Listed = append(res.Listed, *a.listing)
			c.stats[i].listed.Add(1)
		}
	}
	return res
}

// logFailure logs a list's failure: at warning level once per warnEvery
// for each list (a dead list fails for every address), at debug level
// otherwise.
func (c *Checker) logFailure(i int, ip netip.Addr, err error) {
	now := c.now().UnixNano()
	last := c.stats[i].lastWarn.Load()
	level := slog.LevelDebug
	if now-last >= int64(warnEvery) && c.stats[i].lastWarn.CompareAndSwap(last, now) {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, "dnsbl: no usable answer; the address counts as not listed",
		"list", c.lists[i], "client", ip, "failures", c.stats[i].failed.Load(), "err", err)
}

// Addresses of the answers (RFC 5782 §2.1: an entry is an A record in
// 127.0.0.0/8, conventionally 127.0.0.2, so that no answer can be taken
// for a real host; lists that answer otherwise have broken or been
// retired, some by listing the whole Internet).
var (
	loopbackNet = netip.MustParsePrefix("127.0.0.0/8")
	// errorNet holds the codes lists answer when they refuse a query
	// rather than say whether the address is listed: Spamhaus answers
	// 127.255.255.252 for a query name it cannot parse, .254 for a query
	// through a public resolver, .255 for a client over its query
	// volume. They mean "unknown", never "listed".
	errorNet = netip.MustParsePrefix("127.255.255.0/24")
)

// errorCodes explain the error codes Spamhaus documents.
var errorCodes = map[netip.Addr]string{
	netip.MustParseAddr("127.255.255.252"): "typing error in the list's name",
	netip.MustParseAddr("127.255.255.254"): "query through a public or open resolver, refused",
	netip.MustParseAddr("127.255.255.255"): "too many queries",
}

// ask asks one list about the address whose reversed form is name's
// first labels. It returns the listing, nil for "not listed", or an error
// when the list's answer says neither.
func (c *Checker) ask(ctx context.Context, name, list string) (*Listing, error) {
	ans, err := c.res.Query(ctx, name, dns.TypeA)
	if resolve.IsNotFound(err) {
		// NXDOMAIN: not listed (RFC 5782 §2.1). A name with records of
		// other types but no A record is not an entry either.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dnsbl: %s: %w", list, err)
	}
	l := &Listing{List: list}
	var refused, other []string
	for _, rr := range ans.RRs {
		a, ok := netip.AddrFromSlice(rr.(*dns.A).A)
		if !ok {
			continue
		}
		a = a.Unmap()
		switch {
		case errorNet.Contains(a):
			why := errorCodes[a]
			if why == "" {
				why = "list error code"
			}
			refused = append(refused, a.String()+" ("+why+")")
		case loopbackNet.Contains(a):
			l.Codes = append(l.Codes, a)
		default:
			other = append(other, a.String())
		}
	}
	switch {
	case len(l.Codes) == 0 && len(refused) > 0:
		return nil, fmt.Errorf("dnsbl: %s refused the query: %s", list, strings.Join(refused, ", "))
	case len(l.Codes) == 0:
		return nil, fmt.Errorf("dnsbl: %s answered outside 127.0.0.0/8: %s", list, strings.Join(other, ", "))
	}
	// RFC 5782 §2.1: the entry's TXT record, if any, says why. It costs
	// a query only for listed addresses, within the same deadline.
	if txt, err := c.res.Query(ctx, name, dns.TypeTXT); err == nil {
		var parts []string
		for _, rr := range txt.RRs {
			for _, p := range rr.(*dns.TXT).Txt {
				parts = append(parts, unescape(p))
			}
		}
		l.Reason = clean(strings.Join(parts, ""))
	}
	return l, nil
}

// reverse returns the query labels of ip: for IPv4 its octets in reverse
// order (RFC 5782 §2.1, "2.0.0.127"), for IPv6 its 32 nibbles in reverse
// order, as in ip6.arpa (RFC 5782 §2.4, RFC 3596 §2.5).
func reverse(ip netip.Addr) string {
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d", a[3], a[2], a[1], a[0])
		return b.String()
	}
	const hex = "0123456789abcdef"
	a := ip.As16()
	for i := len(a) - 1; i >= 0; i-- {
		if i != len(a)-1 {
			b.WriteByte('.')
		}
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
	}
	return b.String()
}

// unescape undoes the escapes of a TXT string as miekg/dns gives it, in
// master-file form (RFC 1035 §5.1: \DDD is the byte of that decimal
// value, \X is X).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v < 256 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// clean keeps the printable ASCII of a TXT record (it goes into an SMTP
// reply line, RFC 5321 §4.2: text is printable US-ASCII), with runs of
// other bytes and spaces made one space, cut to maxReason bytes.
func clean(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s) && b.Len() < maxReason; i++ {
		c := s[i]
		if c <= ' ' || c > '~' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()[:min(b.Len(), maxReason)]
}
