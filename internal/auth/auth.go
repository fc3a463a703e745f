package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"pail/internal/address"
	"pail/internal/store"
)

// ErrFailed is the one answer to a failed login: it never says whether the
// account exists.
var ErrFailed = errors.New("auth: authentication failed")

// ErrLimited means too many recent failures from this client or for this
// account; the client should try again later.
var ErrLimited = errors.New("auth: too many failed attempts, try again later")

// Limits on failed logins.
const (
	// failureWindow is how long a failure is remembered.
	failureWindow = 15 * time.Minute
	// maxFailuresPerIP and maxFailuresPerAccount lock out further attempts
	// within failureWindow.
	maxFailuresPerIP      = 20
	maxFailuresPerAccount = 10
	// baseDelay doubles with each recent failure up to maxDelay, and is
	// served before answering a failed attempt.
	baseDelay = 250 * time.Millisecond
	maxDelay  = 5 * time.Second
	// maxTracked bounds the memory the limiter uses.
	maxTracked = 100000
)

// Accounts is the part of the store the authenticator needs.
type Accounts interface {
	AccountByAddress(ctx context.Context, address string) (store.Account, error)
}

// Authenticator verifies logins and limits failures.
type Authenticator struct {
	accounts Accounts
	// Sleep waits for a failure delay; tests replace it.
	Sleep func(ctx context.Context, d time.Duration)
	// dummyHash makes a login for an unknown account cost as much as one
	// for a known account, so timing does not reveal which exist.
	dummyHash string

	mu       sync.Mutex
	failures map[string]*failure

	// hashing bounds concurrent password checks: each argon2id check holds
	// argonMemory, so a burst of logins must not multiply that without
	// limit.
	hashing chan struct{}

	// verified skips the argon2id check for a password that was right
	// within the last minutes.
	verified *verifiedLogins
	// now is the clock; tests replace it.
	now func() time.Time
}

type failure struct {
	count int
	last  time.Time
}

// New returns an Authenticator over accounts.
func New(accounts Accounts) *Authenticator {
	dummy, _ := HashPassword("pail dummy password")
	return &Authenticator{
		accounts:  accounts,
		Sleep:     sleepCtx,
		dummyHash: dummy,
		failures:  map[string]*failure{},
		hashing:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		verified:  newVerifiedLogins(),
		now:       time.Now,
	}
}

// Authenticate checks username (an address) and password for a client at
// remote. It returns the account, ErrFailed, ErrLimited, or another error for
// a store failure.
func (a *Authenticator) Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error) {
	ipKey := "ip:" + ipPrefix(remote)
	norm, err := address.Normalize(username)
	if err != nil {
		norm = username
	}
	acctKey := "acct:" + norm
	if a.limited(ipKey, maxFailuresPerIP) || a.limited(acctKey, maxFailuresPerAccount) {
		a.Sleep(ctx, maxDelay)
		return store.Account{}, ErrLimited
	}
	acct, err := a.accounts.AccountByAddress(ctx, norm)
	hash := acct.PasswordHash
	if errors.Is(err, store.ErrNotFound) {
		hash = a.dummyHash
	} else if err != nil {
		return store.Account{}, fmt.Errorf("auth: %w", err)
	}
	if err == nil && a.verified.check(norm, hash, password, a.now()) {
		a.clear(acctKey)
		return acct, nil
	}
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return store.Account{}, ctx.Err()
	}
	ok, herr := CheckPassword(hash, password)
	<-a.hashing
	if ok && err == nil && herr == nil {
		a.clear(acctKey)
		a.verified.remember(norm, hash, password, a.now())
		return acct, nil
	}
	a.verified.forget(norm)
	n := max(a.fail(ipKey), a.fail(acctKey))
	a.Sleep(ctx, min(baseDelay<<min(n-1, 8), maxDelay))
	return store.Account{}, ErrFailed
}

// ipPrefix groups IPv6 clients by /64, since one host usually has a whole
// /64 to rotate through.
func ipPrefix(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.Unmap().String()
}

func (a *Authenticator) limited(key string, limit int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[key]
	if f == nil {
		return false
	}
	if time.Since(f.last) > failureWindow {
		delete(a.failures, key)
		return false
	}
	return f.count >= limit
}

func (a *Authenticator) fail(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	f := a.failures[key]
	if f == nil || now.Sub(f.last) > failureWindow {
		if len(a.failures) >= maxTracked {
			a.expireLocked(now)
		}
		f = &failure{}
		a.failures[key] = f
	}
	f.count++
	f.last = now
	return f.count
}

func (a *Authenticator) clear(key string) {
	a.mu.Lock()
	delete(a.failures, key)
	a.mu.Unlock()
}

// expireLocked drops old entries; if none are old, it drops everything
// rather than grow without bound.
func (a *Authenticator) expireLocked(now time.Time) {
	for k, f := range a.failures {
		if now.Sub(f.last) > failureWindow {
			delete(a.failures, k)
		}
	}
	if len(a.failures) >= maxTracked {
		clear(a.failures)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
