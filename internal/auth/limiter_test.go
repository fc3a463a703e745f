package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/ratelimit"
)

// clockedAuth is an Authenticator over bob@hill.com (password "pw") with a
// clock the test moves and a record of the delays it served.
type clockedAuth struct {
	*Authenticator
	mu    sync.Mutex
	now   time.Time
	slept map[netip.Addr]time.Duration
	// attackers numbers the addresses attack has used.
	attackers int
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

// attack puts account under attack: DefaultFailuresPerAccount failures,
// each from an address of its own (in 203.0.113.128/25, a fresh one on
// every call).
func (c *clockedAuth) attack(t *testing.T, account string) {
	t.Helper()
	for range DefaultFailuresPerAccount {
		c.mu.Lock()
		c.attackers++
		ip := netip.AddrFrom4([4]byte{203, 0, byte(113 + c.attackers/128), byte(128 + c.attackers%128)})
		c.mu.Unlock()
		if _, err := c.login(ip, account, "bad"); !errors.Is(err, ErrFailed) {
			t.Fatalf("setting up the attack: %v", err)
		}
	}
}

// TestSpreadGuessingSlowedPerAccount: guessing spread over many addresses
// puts the account under attack; then each network gets networkAllowance
// attempts for it, answered after the longest delay, and past that only
// the account's small shared rate, while a new address still gets in.
func TestSpreadGuessingSlowedPerAccount(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	c.attack(t, "bob@hill.com")
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }
	const spread = 30
	for round := range networkAllowance {
		for i := range spread {
			slept, err := c.login(addr(i), "bob@hill.com", "bad")
			if !errors.Is(err, ErrFailed) || slept != maxDelay {
				t.Fatalf("guess %d from address %d: %v after %s, want a failure after %s", round+1, i, err, slept, maxDelay)
			}
		}
	}
	// Past the allowance at the same instant: one attempt (the
	// account's bucket) is checked, the others are refused unchecked.
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
		t.Errorf("%d of %d guesses past the allowance checked, want 1", checked, spread)
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
	// A new address gets in at once with the right password.
	if slept, err := c.login(netip.MustParseAddr("203.0.113.9"), "bob@hill.com", "pw"); err != nil || slept != 0 {
		t.Errorf("owner from a new address: %v after %s", err, slept)
	}
	// Parallel logins from a new address (a mail client's connections)
	// count against its allowance while in flight; past it they take
	// from the spent bucket. Once one has succeeded the address is a
	// known place, and nothing limits it for bob's sake.
	fresh := netip.MustParseAddr("203.0.113.20")
	var ats []attempt
	for i := range networkAllowance {
		at, ok := c.limits.reserve(fresh, "bob@hill.com", c.Authenticator.now())
		if !ok {
			t.Fatalf("parallel login %d from a new address refused", i)
		}
		ats = append(ats, at)
	}
	if _, ok := c.limits.reserve(fresh, "bob@hill.com", c.Authenticator.now()); ok {
		t.Error("a burst from one new address bypassed the account's rate")
	}
	for _, at := range ats {
		c.limits.finish(at, false, c.Authenticator.now())
	}
	for i := range 3 * networkAllowance {
		at, ok := c.limits.reserve(fresh, "bob@hill.com", c.Authenticator.now())
		if !ok {
			t.Fatalf("parallel login %d from a known place refused", i)
		}
		defer c.limits.finish(at, false, c.Authenticator.now())
	}
	// After the window everything but the known places is forgotten.
	c.advance(failureWindow + time.Second)
	if _, err := c.login(addr(3), "bob@hill.com", "pw"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// TestOwnerNotLockedOutByOwnTypo is review item 9a: while bob's account
// is under attack and the attacker keeps its shared rate spent, bob's
// phone with an old password, and his typos at home or from a new
// place, never get him refused: his known places are not limited for
// the account's sake, and a new place has its network's allowance.
func TestOwnerNotLockedOutByOwnTypo(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	home := netip.MustParseAddr("2001:db8:aa:1::5")
	phone := netip.MustParseAddr("192.0.2.44")
	for _, ip := range []netip.Addr{home, phone} {
		if _, err := c.login(ip, "bob@hill.com", "pw"); err != nil {
			t.Fatal(err)
		}
	}
	c.attack(t, "bob@hill.com")
	spend := func() {
		// The attacker empties the account's bucket (and uses up the
		// allowance of his networks).
		for i := range 3 * networkAllowance {
			c.login(netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 2)}), "bob@hill.com", "bad")
		}
		if _, err := c.login(netip.MustParseAddr("198.51.100.1"), "bob@hill.com", "bad"); !errors.Is(err, ErrLimited) {
			t.Fatalf("the attacker's bucket is not spent: %v", err)
		}
	}
	spend()
	// The phone tries an old password again and again, then the new one.
	for i := range 5 {
		slept, err := c.login(phone, "bob@hill.com", "old")
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("old password %d from the phone: %v, want a failure", i+1, err)
		}
		if slept >= maxDelay {
			t.Errorf("the owner's own failure %d waited %s, as for the attack", i+1, slept)
		}
	}
	spend()
	if slept, err := c.login(phone, "bob@hill.com", "pw"); err != nil || slept != 0 {
		t.Errorf("phone after its own failures: %v after %s", err, slept)
	}
	// A typo at home, then the right password.
	if _, err := c.login(home, "bob@hill.com", "typo"); !errors.Is(err, ErrFailed) {
		t.Errorf("typo at home: %v", err)
	}
	spend()
	if slept, err := c.login(netip.MustParseAddr("2001:db8:aa:1::99"), "bob@hill.com", "pw"); err != nil || slept != 0 {
		t.Errorf("home (its /64) after a typo: %v after %s", err, slept)
	}
	// A new place: a typo, then the right password.
	hotel := netip.MustParseAddr("192.0.2.77")
	if _, err := c.login(hotel, "bob@hill.com", "typo"); !errors.Is(err, ErrFailed) {
		t.Errorf("typo from a new place: %v", err)
	}
	spend()
	if _, err := c.login(hotel, "bob@hill.com", "pw"); err != nil {
		t.Errorf("new place after a typo: %v", err)
	}
	// Another new place that used up its allowance with typos waits for
	// its failures to expire, not for the attack to end.
	cafe := netip.MustParseAddr("192.0.2.78")
	for range networkAllowance {
		c.login(cafe, "bob@hill.com", "typo")
	}
	spend()
	if _, err := c.login(cafe, "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
		t.Errorf("new place past its allowance, bucket spent: %v", err)
	}
	c.advance(failureWindow + time.Second)
	c.attack(t, "bob@hill.com") // still going on
	spend()
	if _, err := c.login(cafe, "bob@hill.com", "pw"); err != nil {
		t.Errorf("new place a window after its typos, under attack still: %v", err)
	}
}

// TestIPv6SpreadSlowedPerNetwork is review item 9b: guesses at an account
// under attack from a fresh /64 each, all in one /48, get no more over a
// failure window than the network's allowance and the account's shared
// rate.
func TestIPv6SpreadSlowedPerNetwork(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	c.attack(t, "bob@hill.com")
	const guesses = 400
	checked := 0
	for i := range guesses {
		c.advance(failureWindow / guesses)
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:77:%x::1", i))
		_, err := c.login(ip, "bob@hill.com", fmt.Sprint("guess", i))
		switch {
		case errors.Is(err, ErrFailed):
			checked++
		case !errors.Is(err, ErrLimited):
			t.Fatal(err)
		}
	}
	bound := networkAllowance + 1 + DefaultSuspectAttemptsPerMinute*int(failureWindow/time.Minute)
	t.Logf("%d of %d guesses from fresh /64s checked", checked, guesses)
	if checked > bound {
		t.Errorf("%d of %d guesses from fresh /64s of one /48 checked in %s, bound %d", checked, guesses, failureWindow, bound)
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
	if a := l.accounts[l.accountKey("bob@hill.com")]; a == nil || a.failures < DefaultFailuresPerAccount {
		t.Errorf("the flood reset the attacked account: %+v", a)
	}
}

// TestUnnamedUsernamesCountAgainstTheAddress is review item 3: usernames
// that cannot name an account (not an address, or longer than a path
// allows) as the services let them through (webmail 64 KiB, IMAP 8 KiB,
// SMTP AUTH 1.5 KiB) count against the client address only and make no
// entry in the account table, whatever address they come from.
func TestUnnamedUsernamesCountAgainstTheAddress(t *testing.T) {
	c := newClockedAuth(t, Limits{FailuresPerAddress: 3})
	names := []string{
		strings.Repeat("a", 64<<10),
		strings.Repeat("b", 8<<10) + "@hill.com",
		strings.Repeat("c", 1500),
		strings.Repeat("d", 246) + "@hill.com", // 255 octets: an address, too long for a path
	}
	for i := range 40 {
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:5:%x::1", i))
		if _, err := c.login(ip, names[i%len(names)], "x"); !errors.Is(err, ErrFailed) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if n := len(c.limits.accounts); n != 0 {
		t.Errorf("%d account entries for usernames that name no account", n)
	}
	// They count against the address.
	ip := netip.MustParseAddr("192.0.2.9")
	for range 3 {
		c.login(ip, names[0], "x")
	}
	if _, err := c.login(ip, "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
		t.Errorf("address after 3 failures with unnamed usernames: %v", err)
	}
}

// TestAccountTableEntriesFixedSize: an entry of the account table costs
// the same for a name of 240 octets as for a short one (keys are hashes),
// so the table's bound in entries is a bound in bytes.
func TestAccountTableEntriesFixedSize(t *testing.T) {
	l := newLimiter(Limits{FailuresPerAddress: 1 << 30})
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("192.0.2.1")
	const entries = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range entries {
		name := fmt.Sprintf("%0231d@hill.com", i)
		at, ok := l.reserve(ip, name, now)
		if !ok {
			t.Fatal("refused")
		}
		l.finish(at, true, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(l.accounts) != entries {
		t.Fatalf("%d entries", len(l.accounts))
	}
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / entries
	t.Logf("%d bytes an entry", per)
	if per > 200 {
		t.Errorf("%d bytes an account entry for 240-octet names; keys must not keep the name", per)
	}
	runtime.KeepAlive(l)
}

// TestKnownPlacesBounded: one account logging in from many addresses
// keeps only its newest maxKnownPerAccount places, and the table of all
// places stays within maxTracked.
func TestKnownPlacesBounded(t *testing.T) {
	l := newLimiter(Limits{})
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	succeed := func(ip netip.Addr, acct string) {
		at, ok := l.reserve(ip, acct, now)
		if !ok {
			t.Fatal("refused")
		}
		l.finish(at, false, now)
	}
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range 1000 {
		now = now.Add(time.Second)
		succeed(ip(i), "eve@hill.com")
	}
	eve := l.accountKey("eve@hill.com")
	if n := len(l.known[eve]); n != maxKnownPerAccount {
		t.Errorf("%d places kept for one account, want %d", n, maxKnownPerAccount)
	}
	if !l.isKnownLocked(eve, ratelimit.ClientPrefix(ip(999), 32, 64), now) || l.isKnownLocked(eve, ratelimit.ClientPrefix(ip(0), 32, 64), now) {
		t.Error("not the newest places kept")
	}
	for i := range maxTracked + maxTracked/2 {
		now = now.Add(time.Millisecond)
		succeed(ip(i), fmt.Sprintf("u%d@hill.com", i))
	}
	total := 0
	for _, ps := range l.known {
		total += len(ps)
	}
	if total != l.nKnown || total > maxTracked {
		t.Errorf("%d places (counted %d), bound %d", total, l.nKnown, maxTracked)
	}
	// Past knownTTL a place is new again.
	last := fmt.Sprintf("u%d@hill.com", maxTracked+maxTracked/2-1)
	if !l.isKnownLocked(l.accountKey(last), ratelimit.ClientPrefix(ip(maxTracked+maxTracked/2-1), 32, 64), now) {
		t.Error("the newest place was dropped")
	}
	if l.isKnownLocked(l.accountKey(last), ratelimit.ClientPrefix(ip(maxTracked+maxTracked/2-1), 32, 64), now.Add(knownTTL+time.Second)) {
		t.Error("a place stays known past knownTTL")
	}
}

// TestAbandonedCheckMakesNoKnownPlace: an attempt whose check could not
// run (the client hung up while it waited for a hashing slot) gives its
// slot back but does not make the address a known place, which would
// exempt it from the account's limits.
func TestAbandonedCheckMakesNoKnownPlace(t *testing.T) {
	c := newClockedAuth(t, Limits{})
	c.attack(t, "bob@hill.com")
	for range cap(c.hashing) {
		c.hashing <- struct{}{} // every hashing slot busy
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ip := netip.MustParseAddr("192.0.2.77")
	if _, err := c.Authenticate(ctx, ip, "bob@hill.com", "guess"); err == nil || errors.Is(err, ErrFailed) || errors.Is(err, ErrLimited) {
		t.Fatalf("check with a cancelled wait: %v", err)
	}
	for range cap(c.hashing) {
		<-c.hashing
	}
	if c.limits.isKnownLocked(c.limits.accountKey("bob@hill.com"), ratelimit.Client(ip), c.Authenticator.now()) {
		t.Fatal("an abandoned attempt made its address a known place")
	}
	if n := c.limits.clients[ratelimit.Client(ip)]; n != nil {
		t.Errorf("an abandoned attempt left its client entry: %+v", *n)
	}
}
