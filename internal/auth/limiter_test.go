package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// clockedAuth is an Authenticator over bob@hill.com (password "pw") with a
// clock the test moves and a record of the delays it served.
type clockedAuth struct {
	*Authenticator
	mu    sync.Mutex
	now   time.Time
	slept map[netip.Addr]time.Duration
}

func newClockedAuth(t *testing.T, lim Limits) *clockedAuth {
	t.Helper()
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	c := &clockedAuth{
		Authenticator: NewWithLimits(fakeAccounts{"bob@hill.com": {ID: 1, Address: "bob@hill.com", PasswordHash: h}}, lim),
		now:           time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		slept:         map[netip.Addr]time.Duration{},
	}
	c.Authenticator.now = func() time.Time {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.now
	}
	return c
}

func (c *clockedAuth) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// login tries a password from ip and returns the delay served before
// the answer and the error.
func (c *clockedAuth) login(ip netip.Addr, user, pw string) (time.Duration, error) {
	var slept time.Duration
	a := *c.Authenticator // same tables, own Sleep
	a.Sleep = func(_ context.Context, d time.Duration) { slept += d }
	_, err := a.Authenticate(context.Background(), ip, user, pw)
	return slept, err
}

// TestParallelGuessesCountFromTheStart fires 50 wrong guesses at once from
// one address: only as many as the limit get a password check, however
// they interleave.
func TestParallelGuessesCountFromTheStart(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	ip := netip.MustParseAddr("192.0.2.1")
	const guesses = 50
	var wg sync.WaitGroup
	errs := make(chan error, guesses)
	start := make(chan struct{})
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.login(ip, "bob@hill.com", fmt.Sprint("guess", i))
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	var failed, limited int
	for err := range errs {
		switch {
		case errors.Is(err, ErrFailed):
			failed++
		case errors.Is(err, ErrLimited):
			limited++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if failed != DefaultFailuresPerAddress || limited != guesses-DefaultFailuresPerAddress {
		t.Errorf("%d checked, %d refused; want %d checked", failed, limited, DefaultFailuresPerAddress)
	}
}

// TestOwnerGetsInWhileOthersGuess: failures from other addresses never
// refuse or slow the right password from an address without failures.
func TestOwnerGetsInWhileOthersGuess(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	for i := range 30 {
		guesser := netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 3)})
		c.login(guesser, "bob@hill.com", "bad")
	}
	owner := netip.MustParseAddr("203.0.113.9")
	if slept, err := c.login(owner, "Bob@Hill.com", "pw"); err != nil || slept != 0 {
		t.Fatalf("owner from a clean address: %v after %s", err, slept)
	}
	// The owner's typo from a clean address is a failure, not a refusal.
	other := netip.MustParseAddr("203.0.113.10")
	if _, err := c.login(other, "bob@hill.com", "typo"); !errors.Is(err, ErrFailed) {
		t.Errorf("typo from a clean address: %v", err)
	}
	// A success does not wipe the account's failures, so an attacker's
	// own account cannot reset them, nor can the owner's phone logging in
	// every few minutes end the slow-down.
	if slept, err := c.login(netip.MustParseAddr("203.0.113.11"), "bob@hill.com", "bad"); !errors.Is(err, ErrFailed) || slept != maxDelay {
		t.Errorf("failure on an account under attack: %v after %s, want %s", err, slept, maxDelay)
	}
}

// TestSpreadGuessingSlowedPerAccount: guessing spread over many addresses
// puts the account under attack; then each address that has failed gets
// attempts for it only at the account's small shared rate, and failures
// wait the longest delay, while a clean address still gets in at once.
func TestSpreadGuessingSlowedPerAccount(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }
	const spread = 30
	for i := range spread {
		slept, err := c.login(addr(i), "bob@hill.com", "bad")
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("first guess from address %d: %v", i, err)
		}
		if i+1 >= DefaultFailuresPerAccount && slept != maxDelay {
			t.Errorf("failure %d of an account under attack answered after %s", i+1, slept)
		}
	}
	// Second round at the same instant: one attempt (the account's
	// bucket) is checked, the others are refused unchecked.
	var checked int
	for i := range spread {
		_, err := c.login(addr(i), "bob@hill.com", "bad")
		if errors.Is(err, ErrFailed) {
			checked++
		} else if !errors.Is(err, ErrLimited) {
			t.Fatal(err)
		}
	}
	if checked != 1 {
		t.Errorf("%d of %d second guesses checked, want 1", checked, spread)
	}
	// The rate is per account: another account from the same addresses
	// is not slowed by bob's attack (the address limits still apply).
	if _, err := c.login(addr(5), "jill@hill.com", "x"); !errors.Is(err, ErrFailed) {
		t.Errorf("other account: %v", err)
	}
	// The bucket refills at DefaultSuspectAttemptsPerMinute.
	c.advance(time.Minute / DefaultSuspectAttemptsPerMinute)
	if _, err := c.login(addr(7), "bob@hill.com", "bad"); !errors.Is(err, ErrFailed) {
		t.Errorf("after the refill: %v", err)
	}
	if _, err := c.login(addr(8), "bob@hill.com", "bad"); !errors.Is(err, ErrLimited) {
		t.Errorf("second after the refill: %v", err)
	}
	// Clean addresses are never refused for the account's sake.
	if slept, err := c.login(netip.MustParseAddr("203.0.113.9"), "bob@hill.com", "pw"); err != nil || slept != 0 {
		t.Errorf("owner from a clean address: %v after %s", err, slept)
	}
	// A few parallel logins from one clean address (a mail client's
	// connections) are not suspect either; past cleanConcurrency they are.
	clean := netip.MustParseAddr("203.0.113.20")
	var ats []attempt
	for i := range cleanConcurrency {
		at, ok := c.limits.reserve(clean, "bob@hill.com", c.Authenticator.now())
		if !ok {
			t.Fatalf("parallel login %d from a clean address refused", i)
		}
		ats = append(ats, at)
	}
	if _, ok := c.limits.reserve(clean, "bob@hill.com", c.Authenticator.now()); ok {
		t.Error("a burst from one clean address bypassed the account's rate")
	}
	for _, at := range ats {
		c.limits.finish(at, false, c.Authenticator.now())
	}
	// After the window everything is forgotten.
	c.advance(failureWindow + time.Second)
	if _, err := c.login(addr(3), "bob@hill.com", "pw"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// TestIPv6CountedPerPrefix: addresses in one /64 are one client; the
// prefix length is configurable.
func TestIPv6CountedPerPrefix(t *testing.T) {
	c := newClockedAuth(t, Limits{FailuresPerAddress: 3})
	for i := range 3 {
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if _, err := c.login(ip, "x@hill.com", "bad"); !errors.Is(err, ErrFailed) {
			t.Fatal(err)
		}
	}
	if _, err := c.login(netip.MustParseAddr("2001:db8:1:2:ffff::1"), "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
		t.Errorf("same /64: %v", err)
	}
	if _, err := c.login(netip.MustParseAddr("2001:db8:1:3::1"), "bob@hill.com", "pw"); err != nil {
		t.Errorf("next /64: %v", err)
	}
	// IPv4-mapped addresses are IPv4 addresses.
	for range 3 {
		c.login(netip.MustParseAddr("::ffff:192.0.2.1"), "x@hill.com", "bad")
	}
	if _, err := c.login(netip.MustParseAddr("192.0.2.1"), "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
		t.Errorf("mapped and plain IPv4 counted apart: %v", err)
	}

	c = newClockedAuth(t, Limits{FailuresPerAddress: 3, IPv6Prefix: 48})
	for i := range 3 {
		c.login(netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::1", i)), "x@hill.com", "bad")
	}
	if _, err := c.login(netip.MustParseAddr("2001:db8:1:ff::1"), "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
		t.Errorf("same /48 with ipv6_prefix 48: %v", err)
	}
}

// TestLimiterTableBounded floods the limiter from more addresses (and
// account names) than it keeps: the tables stay bounded, and the flood
// does not reset the counters of an address that ran into its limit or of
// an account under attack.
func TestLimiterTableBounded(t *testing.T) {
	l := newLimiter(Limits{})
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	attacker := netip.MustParseAddr("198.51.100.1")
	fail := func(ip netip.Addr, acct string) bool {
		at, ok := l.reserve(ip, acct, now)
		if ok {
			l.finish(at, true, now)
		}
		return ok
	}
	for i := range DefaultFailuresPerAddress {
		fail(attacker, fmt.Sprintf("guess%d@hill.com", i))
	}
	for i := range DefaultFailuresPerAccount {
		fail(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), "bob@hill.com")
	}
	for i := range maxTracked + maxTracked/2 {
		now = now.Add(time.Millisecond)
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		fail(ip, fmt.Sprintf("u%d@hill.com", i))
	}
	if n := len(l.clients); n > maxTracked {
		t.Errorf("%d clients tracked, bound %d", n, maxTracked)
	}
	if n := len(l.accounts); n > maxTracked {
		t.Errorf("%d accounts tracked, bound %d", n, maxTracked)
	}
	if fail(attacker, "jill@hill.com") {
		t.Error("the flood reset the attacker's own counter")
	}
	if a := l.accounts["bob@hill.com"]; a == nil || a.failures < DefaultFailuresPerAccount {
		t.Errorf("the flood reset the attacked account: %+v", a)
	}
}
