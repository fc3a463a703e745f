package webmail

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// session is one logged-in browser. Sessions live in memory only: a
// restart of the server logs everyone out.
type session struct {
	id        string // 256 random bits, base64url
	csrf      string // 256 random bits, base64url; sent back in every form
	accountID int64
	address   string
	created   time.Time
	seen      time.Time
}

// errTooManySessions means the session table is full of live sessions.
var errTooManySessions = errors.New("webmail: too many sessions")

// sessions is the server-side session table.
type sessions struct {
	mu    sync.Mutex
	m     map[string]*session
	idle  time.Duration // a session unused this long ends
	max   time.Duration // a session ends this long after login regardless
	limit int           // most live sessions
	now   func() time.Time
}

func newSessions(idle, max time.Duration, limit int, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, idle: idle, max: max, limit: limit, now: now}
}

// randomToken returns 256 random bits in base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for an account.
func (ss *sessions) create(accountID int64, address string) (*session, error) {
	now := ss.now()
	s := &session{id: randomToken(), csrf: randomToken(), accountID: accountID, address: address, created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.limit {
		ss.expireLocked(now)
		if len(ss.m) >= ss.limit {
			return nil, errTooManySessions
		}
	}
	ss.m[s.id] = s
	return s, nil
}

// get returns the live session with id, or nil, and marks it used.
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil
	}
	s.seen = now
	c := *s
	return &c
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) > ss.idle || now.Sub(s.created) > ss.max
}

func (ss *sessions) expireLocked(now time.Time) {
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
		}
	}
}

// delete ends a session.
func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// validCSRF compares a form's token with the session's in constant time.
func (s *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}
