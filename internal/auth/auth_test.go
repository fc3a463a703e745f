package auth

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"pail/internal/store"
)

type fakeAccounts map[string]store.Account

func (f fakeAccounts) AccountByAddress(_ context.Context, addr string) (store.Account, error) {
	a, ok := f[addr]
	if !ok {
		return store.Account{}, store.ErrNotFound
	}
	return a, nil
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Errorf("right password rejected: %v", err)
	}
	if ok, _ := CheckPassword(h, "wrong"); ok {
		t.Error("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Error("same salt twice")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA"} {
		if ok, err := CheckPassword(bad, "x"); ok || err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
}

func TestAuthenticateLimits(t *testing.T) {
	h, _ := HashPassword("pw")
	a := New(fakeAccounts{"bob@hill.com": {ID: 1, Address: "bob@hill.com", PasswordHash: h}})
	var slept time.Duration
	a.Sleep = func(_ context.Context, d time.Duration) { slept += d }
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")

	if acct, err := a.Authenticate(ctx, ip, "Bob@Hill.com", "pw"); err != nil || acct.ID != 1 {
		t.Fatalf("good login: %v", err)
	}
	// Unknown account and wrong password give the same error.
	_, e1 := a.Authenticate(ctx, ip, "nobody@hill.com", "pw")
	_, e2 := a.Authenticate(ctx, ip, "bob@hill.com", "bad")
	if !errors.Is(e1, ErrFailed) || !errors.Is(e2, ErrFailed) {
		t.Fatalf("errors %v, %v", e1, e2)
	}
	if slept == 0 {
		t.Error("failures were not delayed")
	}
	// Failures lock out the guessing address, not the account.
	guesser := netip.MustParseAddr("198.51.100.7")
	for range DefaultFailuresPerAddress {
		a.Authenticate(ctx, guesser, "bob@hill.com", "bad")
	}
	// bob's password is in the cache of verified logins (the first login
	// above); the limit comes first all the same.
	if _, err := a.Authenticate(ctx, guesser, "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
		t.Errorf("guessing address after %d failures: %v", DefaultFailuresPerAddress, err)
	}
	if _, err := a.Authenticate(ctx, netip.MustParseAddr("203.0.113.9"), "bob@hill.com", "pw"); err != nil {
		t.Errorf("owner from another address: %v", err)
	}
}

func TestConcurrentChecksBounded(t *testing.T) {
	a := New(fakeAccounts{})
	a.Sleep = func(context.Context, time.Duration) {}
	// Every slot taken: a login waits, and gives up with its context.
	for range cap(a.hashing) {
		a.hashing <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Authenticate(ctx, netip.MustParseAddr("192.0.2.1"), "x@y.z", "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
}
