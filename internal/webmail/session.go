package webmail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"pail/internal/store"
)

// touchEvery is how far a session's last use may run ahead of the stored
// one before it is written again: often enough for the idle limit,
// rarely enough that reading mail does not write to disk on every page.
const touchEvery = time.Minute

// session is one logged-in browser. Sessions are kept in memory and
// written through to the store, so a restart of the server logs nobody
// out; the store holds only a hash of the token.
type session struct {
	token       string // the cookie's 256 random bits, base64url; known only at login
	key         string // hex SHA-256 of token: the session's name in memory and on disk
	csrf        string // 256 random bits, base64url; sent back in every form
	accountID   int64
	passwordTag string // passwordTag of the account's hash at login
	created     time.Time
	seen        time.Time
	saved       time.Time // seen as last stored
}

// errTooManySessions means the session table is full of live sessions.
var errTooManySessions = errors.New("webmail: too many sessions")

// sessionStore is where sessions outlive a restart (the mail store).
type sessionStore interface {
	SaveWebSession(ctx context.Context, ws store.WebSession) error
	WebSessions(ctx context.Context) ([]store.WebSession, error)
	TouchWebSession(ctx context.Context, tokenHash string, seen time.Time) error
	DeleteWebSessions(ctx context.Context, tokenHashes ...string) error
}

// sessions is the server-side session table.
type sessions struct {
	db    sessionStore
	idle  time.Duration // a session unused this long ends
	max   time.Duration // a session ends this long after login regardless
	limit int           // most live sessions
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*session // by key
}

func newSessions(db sessionStore, idle, max time.Duration, limit int, now func() time.Time) *sessions {
	return &sessions{db: db, m: map[string]*session{}, idle: idle, max: max, limit: limit, now: now}
}

// load reads the stored sessions, dropping those that have ended.
func (ss *sessions) load(ctx context.Context) error {
	stored, err := ss.db.WebSessions(ctx)
	if err != nil {
		return fmt.Errorf("webmail: loading sessions: %w", err)
	}
	now := ss.now()
	var ended []string
	ss.mu.Lock()
	for _, ws := range stored {
		s := &session{key: ws.TokenHash, csrf: ws.CSRF, accountID: ws.AccountID, passwordTag: ws.PasswordTag,
			created: ws.Created, seen: ws.Seen, saved: ws.Seen}
		if ss.expired(s, now) {
			ended = append(ended, s.key)
			continue
		}
		ss.m[s.key] = s
	}
	ss.mu.Unlock()
	return ss.db.DeleteWebSessions(ctx, ended...)
}

// randomToken returns 256 random bits in base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// keyOf names the session whose cookie carries token.
func keyOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// passwordTag identifies an account's password hash without copying it:
// a session ends when the password it logged in with is changed.
func passwordTag(passwordHash string) string {
	sum := sha256.Sum256([]byte(passwordHash))
	return hex.EncodeToString(sum[:16])
}

// create starts a session for an account whose password hash is
// passwordHash, stored before it is returned.
func (ss *sessions) create(ctx context.Context, accountID int64, passwordHash string) (*session, error) {
	now := ss.now()
	token := randomToken()
	s := &session{token: token, key: keyOf(token), csrf: randomToken(), accountID: accountID,
		passwordTag: passwordTag(passwordHash), created: now, seen: now, saved: now}
	var ended []string
	ss.mu.Lock()
	if len(ss.m) >= ss.limit {
		ended = ss.expireLocked(now)
		if len(ss.m) >= ss.limit {
			ss.mu.Unlock()
			return nil, errTooManySessions
		}
	}
	ss.m[s.key] = s
	ss.mu.Unlock()
	ws := store.WebSession{TokenHash: s.key, CSRF: s.csrf, AccountID: accountID, PasswordTag: s.passwordTag, Created: now, Seen: now}
	if err := ss.db.SaveWebSession(ctx, ws); err != nil {
		ss.mu.Lock()
		delete(ss.m, s.key)
		ss.mu.Unlock()
		return nil, err
	}
	if err := ss.db.DeleteWebSessions(ctx, ended...); err != nil {
		return nil, err
	}
	return s, nil
}

// get returns a copy of the live session whose cookie carries token, or
// nil, and marks it used. An error with a session means only that the
// store could not record the use.
func (ss *sessions) get(ctx context.Context, token string) (*session, error) {
	if token == "" {
		return nil, nil
	}
	key := keyOf(token)
	now := ss.now()
	ss.mu.Lock()
	s := ss.m[key]
	if s == nil {
		ss.mu.Unlock()
		return nil, nil
	}
	if ss.expired(s, now) {
		delete(ss.m, key)
		ss.mu.Unlock()
		return nil, ss.db.DeleteWebSessions(ctx, key)
	}
	s.seen = now
	touch := now.Sub(s.saved) >= touchEvery
	if touch {
		s.saved = now
	}
	c := *s
	ss.mu.Unlock()
	if touch {
		// A failed touch only loses the stored time of last use; the
		// session goes on.
		return &c, ss.db.TouchWebSession(ctx, key, now)
	}
	return &c, nil
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) > ss.idle || now.Sub(s.created) > ss.max
}

// expireLocked drops ended sessions from memory and returns their keys,
// for the caller to delete from the store.
func (ss *sessions) expireLocked(now time.Time) []string {
	var ended []string
	for key, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, key)
			ended = append(ended, key)
		}
	}
	return ended
}

// delete ends the session named key.
func (ss *sessions) delete(ctx context.Context, key string) error {
	ss.mu.Lock()
	delete(ss.m, key)
	ss.mu.Unlock()
	return ss.db.DeleteWebSessions(ctx, key)
}

// validCSRF compares a form's token with the session's in constant time.
func (s *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}
