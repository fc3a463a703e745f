package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Limits of the cache of verified logins.
const (
	// verifiedTTL is how long a checked password is remembered. Mail
	// clients log in again and again (a phone every few minutes, a desktop
	// client with several connections at once); each login after the first
	// within this time skips the argon2id check.
	verifiedTTL = 15 * time.Minute
	// maxVerified bounds the cache; past it, expired entries go, and if
	// none had expired, all of them.
	maxVerified = 10000
)

// verifiedLogins remembers recent successful password checks, as
// Dovecot's auth cache does. It keeps no password: an entry holds an
// HMAC-SHA256 of the password under a key made at start and never
// stored, and the account's password hash at the time, so that a
// password change (or a reset) invalidates the entry. A wrong password
// never matches an entry and takes the full argon2id check.
type verifiedLogins struct {
	key []byte

	mu      sync.Mutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	passwordHash string // the account's stored hash when checked
	mac          []byte
	expires      time.Time
}

func newVerifiedLogins() *verifiedLogins {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return &verifiedLogins{key: key, entries: map[string]verifiedEntry{}}
}

func (v *verifiedLogins) mac(account, password string) []byte {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return m.Sum(nil)
}

// check reports whether password was verified for account, whose stored
// hash is passwordHash, within verifiedTTL.
func (v *verifiedLogins) check(account, passwordHash, password string, now time.Time) bool {
	v.mu.Lock()
	e, ok := v.entries[account]
	v.mu.Unlock()
	if !ok || e.passwordHash != passwordHash || now.After(e.expires) {
		return false
	}
	return hmac.Equal(e.mac, v.mac(account, password))
}

// remember records that password is right for account with passwordHash.
func (v *verifiedLogins) remember(account, passwordHash, password string, now time.Time) {
	e := verifiedEntry{passwordHash: passwordHash, mac: v.mac(account, password), expires: now.Add(verifiedTTL)}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= maxVerified {
		for k, old := range v.entries {
			if now.After(old.expires) {
				delete(v.entries, k)
			}
		}
		if len(v.entries) >= maxVerified {
			clear(v.entries)
		}
	}
	v.entries[account] = e
}
