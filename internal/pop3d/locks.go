package pop3d

import "sync"

// Locks is a table of maildrop locks: RFC 1939 §8 has a POP3 server lock
// the maildrop for the whole session, so that one client's view of message
// numbers cannot change under it. The zero value is an empty table, safe
// for concurrent use.
type Locks struct {
	mu   sync.Mutex
	held map[int64]bool // by account id
}

// tryLock takes the lock of an account's maildrop. It returns false if
// another session holds it; otherwise the caller must call unlock exactly
// once.
func (l *Locks) tryLock(accountID int64) (unlock func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[accountID] {
		return nil, false
	}
	if l.held == nil {
		l.held = map[int64]bool{}
	}
	l.held[accountID] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, accountID)
			l.mu.Unlock()
		})
	}, true
}
