package auth

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"pail/internal/store"
)

// TestVerifiedLoginsSkipTheHash proves a repeated right login does not
// check the argon2id hash again, while wrong passwords, changed
// passwords and old entries do. With every hashing slot taken, a login
// that needs the hash waits until its context ends.
func TestVerifiedLoginsSkipTheHash(t *testing.T) {
	h, _ := HashPassword("pw")
	accts := fakeAccounts{"bob@hill.com": {ID: 1, Address: "bob@hill.com", PasswordHash: h}}
	a := New(accts)
	a.Sleep = func(context.Context, time.Duration) {}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	ip := netip.MustParseAddr("192.0.2.1")
	login := func(user, pw string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := a.Authenticate(ctx, ip, user, pw)
		return err
	}
	block := func() {
		for range cap(a.hashing) {
			a.hashing <- struct{}{}
		}
	}
	unblock := func() {
		for range cap(a.hashing) {
			<-a.hashing
		}
	}

	if err := login("bob@hill.com", "pw"); err != nil {
		t.Fatalf("first login: %v", err)
	}
	block()
	if err := login("Bob@HILL.com", "pw"); err != nil {
		t.Fatalf("repeated login needed the hash: %v", err)
	}
	if err := login("bob@hill.com", "wrong"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wrong password answered without the hash: %v", err)
	}
	unblock()
	if err := login("bob@hill.com", "wrong"); !errors.Is(err, ErrFailed) {
		t.Fatalf("wrong password: %v", err)
	}

	// A failure (someone else's guess) leaves the entry: the owner's next
	// login still skips the hash, so guessing cannot make it cost more.
	block()
	if err := login("bob@hill.com", "pw"); err != nil {
		t.Fatalf("a failure made the next right login pay the hash: %v", err)
	}
	unblock()

	// A new password invalidates the entry at once.
	h2, _ := HashPassword("pw2")
	accts["bob@hill.com"] = store.Account{ID: 1, Address: "bob@hill.com", PasswordHash: h2}
	block()
	if err := login("bob@hill.com", "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("old password answered from the cache: %v", err)
	}
	unblock()
	if err := login("bob@hill.com", "pw"); !errors.Is(err, ErrFailed) {
		t.Fatalf("old password after the change: %v", err)
	}
	if err := login("bob@hill.com", "pw2"); err != nil {
		t.Fatal(err)
	}

	// Entries expire.
	now = now.Add(verifiedTTL + time.Second)
	block()
	if err := login("bob@hill.com", "pw2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired entry used: %v", err)
	}
	unblock()
}
