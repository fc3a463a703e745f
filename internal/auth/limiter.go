package auth

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Defaults of Limits.
const (
	// DefaultFailuresPerAddress failed logins within failureWindow from one
	// client address (IPv6: one /64) stop further attempts from it.
	DefaultFailuresPerAddress = 20
	// DefaultFailuresPerAccount failed logins for one account within
	// failureWindow, from any addresses, put the account under attack.
	DefaultFailuresPerAccount = 10
	// DefaultSuspectAttemptsPerMinute is how many attempts per minute an
	// account under attack takes from addresses with recent failures.
	DefaultSuspectAttemptsPerMinute = 6
	// DefaultIPv6Prefix groups IPv6 clients by /64: one host usually has a
	// whole /64 to rotate through (RFC 4291 §2.5.1 interface identifiers).
	DefaultIPv6Prefix = 64
	// DefaultIPv4Prefix counts each IPv4 address on its own.
	DefaultIPv4Prefix = 32
)

// Limits on failed logins.
const (
	// failureWindow is how long a failure is remembered.
	failureWindow = 15 * time.Minute
	// baseDelay doubles with each recent failure up to maxDelay, and is
	// served before answering a failed attempt.
	baseDelay = 250 * time.Millisecond
	maxDelay  = 5 * time.Second
	// maxTracked bounds each table of the limiter (client addresses,
	// accounts): about 100 bytes an entry, so some 10 MB each at most.
	maxTracked = 100000
	// evictTo is where a full table is cut back to, so that the cost of
	// choosing what to drop is paid once per maxTracked/10 new entries.
	evictTo = maxTracked * 9 / 10
	// cleanConcurrency is how many logins at once an address without
	// recent failures may have in flight for an account under attack
	// before the next one counts as suspect: a mail client opens a few
	// connections at once (Thunderbird caches 5), a guesser opens many.
	cleanConcurrency = 5
)

// Limits configures the failed-login limiter. A zero field takes its
// default.
type Limits struct {
	// FailuresPerAddress is how many failed logins (attempts in progress
	// included) one client address may have within 15 minutes; past it,
	// its attempts are refused without a password check.
	FailuresPerAddress int
	// FailuresPerAccount is how many failed logins for one account within
	// 15 minutes, from any addresses, put it under attack.
	FailuresPerAccount int
	// SuspectAttemptsPerMinute is how many attempts per minute an account
	// under attack takes from addresses with recent failures. Addresses
	// without recent failures are never refused for the account's sake.
	SuspectAttemptsPerMinute int
	// IPv6Prefix and IPv4Prefix are the prefix lengths that count as one
	// client address.
	IPv6Prefix int
	IPv4Prefix int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.FailuresPerAddress, DefaultFailuresPerAddress)
	def(&l.FailuresPerAccount, DefaultFailuresPerAccount)
	def(&l.SuspectAttemptsPerMinute, DefaultSuspectAttemptsPerMinute)
	def(&l.IPv6Prefix, DefaultIPv6Prefix)
	def(&l.IPv4Prefix, DefaultIPv4Prefix)
	l.IPv6Prefix = min(l.IPv6Prefix, 128)
	l.IPv4Prefix = min(l.IPv4Prefix, 32)
	return l
}

// limiter counts login attempts per client address and failures per
// account. An attempt takes its slot before the password is checked
// (reserve) and gives it back or turns it into a failure when the result
// is known (finish), so that parallel attempts cannot all pass a check
// made before any of them failed.
//
// The penalty falls on the guessing address: its own failures refuse it,
// whatever account it tries. An account with many failures (from many
// addresses) is under attack: attempts for it from addresses that have
// failed recently are held to a small rate, and its failures are answered
// after the longest delay; an address with no recent failures is never
// refused for the account's sake, so the owner still gets in.
type limiter struct {
	lim Limits

	mu       sync.Mutex
	clients  map[netip.Prefix]*clientState
	accounts map[string]*accountState
}

// clientState is what the limiter knows of one client address (prefix).
type clientState struct {
	failures int       // within failureWindow of last
	inflight int       // attempts reserved and not finished
	last     time.Time // of the last failure
}

// accountState is what the limiter knows of one account name (whether
// the account exists or not, so that the answers do not tell).
type accountState struct {
	failures int       // within failureWindow of last
	last     time.Time // of the last failure
	// A token bucket of SuspectAttemptsPerMinute for attempts from
	// suspect addresses while the account is under attack.
	tokens   float64
	refilled time.Time
}

func newLimiter(lim Limits) *limiter {
	return &limiter{
		lim:      lim.withDefaults(),
		clients:  map[netip.Prefix]*clientState{},
		accounts: map[string]*accountState{},
	}
}

// attempt is one reserved login attempt.
type attempt struct {
	client  netip.Prefix
	account string
}

// clientKey is the prefix that counts as one client.
func (l *limiter) clientKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := l.lim.IPv4Prefix
	if ip.Is6() {
		bits = l.lim.IPv6Prefix
	}
	p, err := ip.Prefix(bits)
	if err != nil { // the zero Addr: one key for every client without an address
		return netip.Prefix{}
	}
	return p
}

// reserve takes a slot for an attempt by remote for account, or reports
// false when the attempt is refused without a check.
func (l *limiter) reserve(remote netip.Addr, account string, now time.Time) (attempt, bool) {
	at := attempt{client: l.clientKey(remote), account: account}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[at.client]
	if c != nil && c.inflight == 0 && now.Sub(c.last) > failureWindow {
		c.failures = 0
	}
	if c != nil && c.failures+c.inflight >= l.lim.FailuresPerAddress {
		return at, false
	}
	if acct := l.accountLocked(account, now); acct != nil && acct.failures >= l.lim.FailuresPerAccount {
		suspect := c != nil && (c.failures > 0 || c.inflight >= cleanConcurrency)
		if suspect {
			rate := float64(l.lim.SuspectAttemptsPerMinute) / time.Minute.Seconds()
			acct.tokens = min(1, acct.tokens+now.Sub(acct.refilled).Seconds()*rate)
			acct.refilled = now
			if acct.tokens < 1 {
				return at, false
			}
			acct.tokens--
		}
	}
	if c == nil {
		if len(l.clients) >= maxTracked {
			l.evictClientsLocked(now)
		}
		c = &clientState{}
		l.clients[at.client] = c
	}
	c.inflight++
	return at, true
}

// accountLocked returns account's state if it has failures in the
// window; l.mu is held.
func (l *limiter) accountLocked(account string, now time.Time) *accountState {
	a := l.accounts[account]
	if a != nil && now.Sub(a.last) > failureWindow {
		delete(l.accounts, account)
		return nil
	}
	return a
}

// finish ends a reserved attempt. On failure it counts against the client
// address and the account and returns how long to wait before answering.
func (l *limiter) finish(at attempt, failed bool, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[at.client] // never evicted while an attempt is in flight
	c.inflight--
	if !failed {
		if c.inflight == 0 && c.failures == 0 {
			delete(l.clients, at.client) // nothing worth keeping
		}
		return 0
	}
	c.failures++
	c.last = now
	a := l.accountLocked(at.account, now)
	if a == nil {
		if len(l.accounts) >= maxTracked {
			l.evictAccountsLocked(now)
		}
		a = &accountState{}
		l.accounts[at.account] = a
	}
	a.failures++
	a.last = now
	if a.failures >= l.lim.FailuresPerAccount {
		return maxDelay
	}
	n := max(c.failures, a.failures)
	return min(baseDelay<<min(n-1, 8), maxDelay)
}

// evictClientsLocked makes room in a full client table. Expired entries
// go first; then the entries with the fewest failures, oldest first. An
// attacker flooding from fresh addresses so pushes out his own one-failure
// entries: an address that has run into its limit is dropped only after
// evictTo others have as many failures, each of which has cost a password
// check and is itself refused. Entries with attempts in flight stay.
func (l *limiter) evictClientsLocked(now time.Time) {
	for k, c := range l.clients {
		if c.inflight == 0 && now.Sub(c.last) > failureWindow {
			delete(l.clients, k)
		}
	}
	if len(l.clients) < evictTo {
		return
	}
	type entry struct {
		key netip.Prefix
		c   *clientState
	}
	var es []entry
	for k, c := range l.clients {
		if c.inflight == 0 {
			es = append(es, entry{k, c})
		}
	}
	slices.SortFunc(es, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.c.failures, y.c.failures), x.c.last.Compare(y.c.last))
	})
	for _, e := range es[:min(len(es), len(l.clients)-evictTo)] {
		delete(l.clients, e.key)
	}
}

// evictAccountsLocked makes room in a full account table the same way:
// expired entries, then the fewest failures, oldest first; an account
// under attack has many and stays.
func (l *limiter) evictAccountsLocked(now time.Time) {
	for k, a := range l.accounts {
		if now.Sub(a.last) > failureWindow {
			delete(l.accounts, k)
		}
	}
	if len(l.accounts) < evictTo {
		return
	}
	type entry struct {
		key string
		a   *accountState
	}
	es := make([]entry, 0, len(l.accounts))
	for k, a := range l.accounts {
		es = append(es, entry{k, a})
	}
	slices.SortFunc(es, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.a.failures, y.a.failures), x.a.last.Compare(y.a.last))
	})
	for _, e := range es[:len(l.accounts)-evictTo] {
		delete(l.accounts, e.key)
	}
}
