package auth

import (
	"cmp"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"time"

	"pail/internal/ratelimit"
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
	// account under attack takes, in all, from the addresses that are
	// neither its known places nor within their network's allowance.
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
	// accounts, networks at accounts under attack, known places): about
	// 100 bytes an entry (keys are fixed-size: an account is a hash of
	// its name), so some 10 MB each at most.
	maxTracked = 100000
	// evictTo is where a full table is cut back to, so that the cost of
	// choosing what to drop is paid once per maxTracked/10 new entries.
	evictTo = maxTracked * 9 / 10
	// networkIPv6Prefix groups IPv6 clients into networks for an account
	// under attack: an end site may be given as much as a /48 (RFC 6177
	// §2), so one subscriber can rotate through 65 536 /64s, and they
	// share one allowance. An IPv4 network is one client address.
	networkIPv6Prefix = 48
	// networkAllowance is how many attempts (failures, and attempts in
	// flight) one network may make within failureWindow at an account
	// under attack before its attempts take from the account's shared
	// rate: the owner's first login from a new place, and one typo.
	networkAllowance = 2
	// knownTTL is how long a client address where an account logged in
	// stays one of its known places: home, office and phone log in every
	// day; a place not seen for a month is new again.
	knownTTL = 30 * 24 * time.Hour
	// maxKnownPerAccount bounds one account's known places, its oldest
	// going first, so that one account logging in from many addresses
	// (an attacker's own) cannot crowd the others' out of the table.
	maxKnownPerAccount = 8
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
	// under attack takes, in all, from addresses that are not its known
	// places once their network's allowance is spent. Its known places
	// are never refused for the account's sake.
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
// addresses) is under attack. Its known places (client addresses where
// it logged in within knownTTL) are not limited for its sake at all, so
// the owner at home or on the phone is never refused or slowed by others'
// guesses, typos of his own included. Any other address goes first to its
// network's small allowance (IPv6: per /48, so fresh /64s do not each
// bring new guesses), which lets the owner in from a new place; past it,
// every such address shares one small per-account rate and is refused
// when it is spent. The guesses at one account are so bounded, however
// many addresses they come from, by that rate, the allowance of each
// network, and the per-address limit of the account's known places.
type limiter struct {
	lim Limits
	// seed keys the hash of account names (fixed-size keys, whatever
	// the length of a name).
	seed maphash.Seed

	mu       sync.Mutex
	clients  map[netip.Prefix]*clientState
	accounts map[uint64]*accountState
	// networks counts attempts at accounts under attack per network.
	networks map[networkKey]*clientState
	// known holds each account's known places, newest last; nKnown is
	// their number in all.
	known  map[uint64][]knownPlace
	nKnown int
}

// clientState is what the limiter knows of one client address (prefix),
// or of one network's attempts at one account under attack.
type clientState struct {
	failures int       // within failureWindow of last
	inflight int       // attempts reserved and not finished
	last     time.Time // of the last failure
}

// expired reports whether c carries nothing at now.
func (c *clientState) expired(now time.Time) bool {
	return c.inflight == 0 && now.Sub(c.last) > failureWindow
}

// fewestFailuresFirst orders entries for eviction: the fewest failures,
// then the oldest, go first.
func fewestFailuresFirst(x, y *clientState) int {
	return cmp.Or(cmp.Compare(x.failures, y.failures), x.last.Compare(y.last))
}

// accountState is what the limiter knows of one account name (whether
// the account exists or not, so that the answers do not tell).
type accountState struct {
	failures int       // within failureWindow of last
	last     time.Time // of the last failure
	// A token bucket of SuspectAttemptsPerMinute for attempts from
	// addresses past their allowance while the account is under attack.
	tokens   float64
	refilled time.Time
}

// networkKey names one network's attempts at one account.
type networkKey struct {
	account uint64
	network netip.Prefix
}

// knownPlace is a client address where an account logged in.
type knownPlace struct {
	client netip.Prefix
	last   time.Time // of the last success there
}

func newLimiter(lim Limits) *limiter {
	return &limiter{
		lim:      lim.withDefaults(),
		seed:     maphash.MakeSeed(),
		clients:  map[netip.Prefix]*clientState{},
		accounts: map[uint64]*accountState{},
		networks: map[networkKey]*clientState{},
		known:    map[uint64][]knownPlace{},
	}
}

// attempt is one reserved login attempt.
type attempt struct {
	client  netip.Prefix
	account uint64
	// named is false for a username that cannot be an account: its
	// attempts count against the client address only.
	named bool
	// known: client is one of the account's known places.
	known bool
	// network, when inNetwork, is the allowance the attempt took.
	network   networkKey
	inNetwork bool
}

// accountKey is the table key of an account name.
func (l *limiter) accountKey(account string) uint64 {
	return maphash.String(l.seed, account)
}

// reserve takes a slot for an attempt by remote for account ("" for a
// username that cannot be an account), or reports false when the attempt
// is refused without a check.
func (l *limiter) reserve(remote netip.Addr, account string, now time.Time) (attempt, bool) {
	at := attempt{client: ratelimit.ClientPrefix(remote, l.lim.IPv4Prefix, l.lim.IPv6Prefix)}
	if account != "" {
		at.account, at.named = l.accountKey(account), true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[at.client]
	if c != nil && c.expired(now) {
		c.failures = 0
	}
	if c != nil && c.failures+c.inflight >= l.lim.FailuresPerAddress {
		return at, false
	}
	if at.named {
		at.known = l.isKnownLocked(at.account, at.client, now)
		if a := l.accountLocked(at.account, now); a != nil && a.failures >= l.lim.FailuresPerAccount && !at.known {
			if !l.takeAllowanceLocked(&at, remote, now) && !l.takeTokenLocked(a, now) {
				return at, false
			}
		}
	}
	if c == nil {
		if len(l.clients) >= maxTracked {
			ratelimit.Trim(l.clients, evictTo, func(c *clientState) bool { return c.expired(now) },
				func(c *clientState) bool { return c.inflight > 0 }, fewestFailuresFirst, nil)
		}
		c = &clientState{}
		l.clients[at.client] = c
	}
	c.inflight++
	return at, true
}

// takeAllowanceLocked takes a slot of the allowance of remote's network
// at at.account, under attack, if one is left.
func (l *limiter) takeAllowanceLocked(at *attempt, remote netip.Addr, now time.Time) bool {
	k := networkKey{at.account, ratelimit.ClientPrefix(remote, l.lim.IPv4Prefix, min(l.lim.IPv6Prefix, networkIPv6Prefix))}
	n := l.networks[k]
	if n != nil && n.expired(now) {
		n.failures = 0
	}
	if n != nil && n.failures+n.inflight >= networkAllowance {
		return false
	}
	if n == nil {
		if len(l.networks) >= maxTracked {
			// An attacker pushing his own entries out must first fill
			// the table with others that have as many failures, each
			// a password check at an account under attack.
			ratelimit.Trim(l.networks, evictTo, func(n *clientState) bool { return n.expired(now) },
				func(n *clientState) bool { return n.inflight > 0 }, fewestFailuresFirst, nil)
		}
		n = &clientState{}
		l.networks[k] = n
	}
	n.inflight++
	at.network, at.inNetwork = k, true
	return true
}

// takeTokenLocked takes one of a's shared attempts if one is left.
func (l *limiter) takeTokenLocked(a *accountState, now time.Time) bool {
	rate := float64(l.lim.SuspectAttemptsPerMinute) / time.Minute.Seconds()
	a.tokens = min(1, a.tokens+now.Sub(a.refilled).Seconds()*rate)
	a.refilled = now
	if a.tokens < 1 {
		return false
	}
	a.tokens--
	return true
}

// accountLocked returns account's state if it has failures in the
// window; l.mu is held.
func (l *limiter) accountLocked(account uint64, now time.Time) *accountState {
	a := l.accounts[account]
	if a != nil && now.Sub(a.last) > failureWindow {
		delete(l.accounts, account)
		return nil
	}
	return a
}

// isKnownLocked reports whether client is one of account's known places.
func (l *limiter) isKnownLocked(account uint64, client netip.Prefix, now time.Time) bool {
	for _, p := range l.known[account] {
		if p.client == client {
			return now.Sub(p.last) <= knownTTL
		}
	}
	return false
}

// rememberLocked makes client a known place of account, as of now.
func (l *limiter) rememberLocked(account uint64, client netip.Prefix, now time.Time) {
	ps := l.known[account]
	for i, p := range ps {
		if p.client == client {
			// Newest last, so that the oldest is the first to go.
			copy(ps[i:], ps[i+1:])
			ps[len(ps)-1] = knownPlace{client, now}
			return
		}
	}
	if len(ps) >= maxKnownPerAccount {
		copy(ps, ps[1:])
		ps[len(ps)-1] = knownPlace{client, now}
		return
	}
	if l.nKnown >= maxTracked {
		l.trimKnownLocked(now)
		ps = l.known[account]
	}
	l.known[account] = append(ps, knownPlace{client, now})
	l.nKnown++
}

// trimKnownLocked makes room among the known places: expired ones go
// first, then the oldest. Only a success makes a place, so a flood of
// them needs the passwords of many accounts.
func (l *limiter) trimKnownLocked(now time.Time) {
	type place struct {
		account uint64
		client  netip.Prefix
	}
	flat := make(map[place]time.Time, l.nKnown)
	for a, ps := range l.known {
		for _, p := range ps {
			flat[place{a, p.client}] = p.last
		}
	}
	ratelimit.Trim(flat, evictTo, func(t time.Time) bool { return now.Sub(t) > knownTTL }, nil, time.Time.Compare, nil)
	clear(l.known)
	for p, t := range flat {
		l.known[p.account] = append(l.known[p.account], knownPlace{p.client, t})
	}
	for _, ps := range l.known {
		slices.SortFunc(ps, func(x, y knownPlace) int { return x.last.Compare(y.last) })
	}
	l.nKnown = len(flat)
}

// finish ends a reserved attempt. A success makes the client address a
// known place of the account. A failure counts against the client
// address, its network's allowance if it took one, and the account, and
// finish returns how long to wait before answering.
func (l *limiter) finish(at attempt, failed bool, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[at.client] // never evicted while an attempt is in flight
	c.inflight--
	var n *clientState
	if at.inNetwork {
		n = l.networks[at.network] // never evicted while in flight either
		n.inflight--
	}
	if !failed {
		if c.inflight == 0 && c.failures == 0 {
			delete(l.clients, at.client) // nothing worth keeping
		}
		if n != nil && n.inflight == 0 && n.failures == 0 {
			delete(l.networks, at.network)
		}
		if at.named {
			l.rememberLocked(at.account, at.client, now)
		}
		return 0
	}
	c.failures++
	c.last = now
	if n != nil {
		n.failures++
		n.last = now
	}
	if !at.named {
		return failureDelay(c.failures)
	}
	a := l.accountLocked(at.account, now)
	if a == nil {
		if len(l.accounts) >= maxTracked {
			// An account under attack has many failures and stays.
			ratelimit.Trim(l.accounts, evictTo, func(a *accountState) bool { return now.Sub(a.last) > failureWindow }, nil,
				func(x, y *accountState) int {
					return cmp.Or(cmp.Compare(x.failures, y.failures), x.last.Compare(y.last))
				}, nil)
		}
		a = &accountState{}
		l.accounts[at.account] = a
	}
	a.failures++
	a.last = now
	switch {
	case at.known:
		// The owner's typo at home waits for his own failures only.
		return failureDelay(c.failures)
	case a.failures >= l.lim.FailuresPerAccount:
		return maxDelay
	}
	return failureDelay(max(c.failures, a.failures))
}

// learn makes remote a known place of account (not ""), as a success from
// there would: in a cluster, when the shared table knows it as one.
func (l *limiter) learn(remote netip.Addr, account string, now time.Time) {
	client := ratelimit.ClientPrefix(remote, l.lim.IPv4Prefix, l.lim.IPv6Prefix)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rememberLocked(l.accountKey(account), client, now)
}

// abandon ends a reserved attempt that says nothing about the password
// (a store failure, a cancelled wait): its slots go back, and the client
// address does not become a known place, as it would by a success.
func (l *limiter) abandon(at attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[at.client]
	c.inflight--
	if c.inflight == 0 && c.failures == 0 {
		delete(l.clients, at.client)
	}
	if at.inNetwork {
		n := l.networks[at.network]
		n.inflight--
		if n.inflight == 0 && n.failures == 0 {
			delete(l.networks, at.network)
		}
	}
}

// failureDelay is the wait before answering the nth recent failure.
func failureDelay(n int) time.Duration {
	return min(baseDelay<<min(n-1, 8), maxDelay)
}
