package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"pail/internal/address"
	"pail/internal/store"
)

// ErrFailed is the one answer to a failed login: it never says whether the
// account exists.
var ErrFailed = errors.New("auth: authentication failed")

// ErrLimited means too many recent failures from this client address, or
// an account under attack whose shared rate this address has used up; the
// client should try again later.
var ErrLimited = errors.New("auth: too many failed attempts, try again later")

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

	// limits counts attempts and failures per client address and per
	// account.
	limits *limiter

	// hashing bounds concurrent password checks: each argon2id check holds
	// argonMemory, so a burst of logins must not multiply that without
	// limit.
	hashing chan struct{}

	// shared, in a cluster, counts the attempts in a database the nodes
	// share as well (shared.go); nil on a single node.
	shared *SharedLimits

	// verified skips the argon2id check for a password that was right
	// within the last minutes.
	verified *verifiedLogins
	// now is the clock; tests replace it.
	now func() time.Time
}

// New returns an Authenticator over accounts with the default Limits.
func New(accounts Accounts) *Authenticator {
	return NewWithLimits(accounts, Limits{})
}

// NewWithLimits returns an Authenticator over accounts that limits failed
// logins by lim.
func NewWithLimits(accounts Accounts, lim Limits) *Authenticator {
	dummy, _ := HashPassword("pail dummy password")
	return &Authenticator{
		accounts:  accounts,
		Sleep:     sleepCtx,
		dummyHash: dummy,
		limits:    newLimiter(lim),
		hashing:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		verified:  newVerifiedLogins(),
		now:       time.Now,
	}
}

// Authenticate checks username (an address) and password for a client at
// remote. It returns the account, ErrFailed, ErrLimited, or another error for
// a store failure.
//
// The attempt counts against remote from the moment it starts, so that
// parallel guesses cannot all pass the limit before the first of them has
// failed. Failures are penalised at the guessing address: the owner coming
// from one of the account's known places is never refused because others
// guessed its password, and from a new place gets in within its network's
// allowance (see limiter).
func (a *Authenticator) Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error) {
	norm := accountName(username)
	if a.shared != nil {
		return a.authenticateShared(ctx, remote, norm, password)
	}
	at, ok := a.limits.reserve(remote, norm, a.now())
	if !ok {
		a.Sleep(ctx, maxDelay)
		return store.Account{}, ErrLimited
	}
	acct, err := a.check(ctx, norm, password)
	if err != nil && !errors.Is(err, ErrFailed) {
		// A store failure or a cancelled wait says nothing about the
		// password: the slot goes back, and the address is no known
		// place of the account for it (a client that hangs up while
		// its check waits must not become one).
		a.limits.abandon(at)
		return store.Account{}, err
	}
	if d := a.limits.finish(at, err != nil, a.now()); d > 0 {
		a.Sleep(ctx, d)
	}
	return acct, err
}

// maxAccountName is the longest name an account can have: a path is at
// most 256 octets with its angle brackets (RFC 5321 §4.5.3.1.3).
const maxAccountName = 254

// accountName is the normalised account name username logs in to, or ""
// when it cannot name an account (not an address, or too long): such
// attempts count against the client address only, so that a long or
// malformed username never becomes an entry of the account table.
func accountName(username string) string {
	norm, err := address.Normalize(username)
	if err != nil || len(norm) > maxAccountName {
		return ""
	}
	return norm
}

// check verifies norm's password: from the cache of verified logins, or
// with the full hash. An unknown account costs a hash of the dummy password,
// so that timing does not tell which accounts exist; so does a username
// that cannot name one (norm "").
func (a *Authenticator) check(ctx context.Context, norm, password string) (store.Account, error) {
	acct, err := store.Account{}, store.ErrNotFound
	if norm != "" {
		acct, err = a.accounts.AccountByAddress(ctx, norm)
	}
	hash := acct.PasswordHash
	if errors.Is(err, store.ErrNotFound) {
		hash = a.dummyHash
	} else if err != nil {
		return store.Account{}, fmt.Errorf("auth: %w", err)
	}
	if err == nil && a.verified.check(norm, hash, password, a.now()) {
		return acct, nil
	}
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return store.Account{}, fmt.Errorf("auth: waiting to check a password: %w", ctx.Err())
	}
	ok, herr := CheckPassword(hash, password)
	<-a.hashing
	if !ok || err != nil || herr != nil {
		// The verified entry stays: a wrong password never matches it,
		// and dropping it would let anyone make the owner's next login
		// pay the full hash.
		return store.Account{}, ErrFailed
	}
	a.verified.remember(norm, hash, password, a.now())
	return acct, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
