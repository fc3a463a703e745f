package pop3d

import (
	"context"
	"errors"
	"sync"
)

// Locker is a table of maildrop locks: RFC 1939 §8 has a POP3 server lock
// the maildrop for the whole session, so that one client's view of message
// numbers cannot change under it. *Locks keeps them in the process (the
// pop3 and pop3s listeners of one node); *SharedLocks keeps them in a
// database the nodes of a cluster share.
type Locker interface {
	// tryLock takes the lock of an account's maildrop for one session.
	// It returns errLocked if another session holds it, another error
	// when it cannot tell (a shared table's database is down), which
	// the session answers as a temporary failure. On success the
	// caller calls release once the session no longer needs it.
	tryLock(ctx context.Context, accountID int64) (maildropLock, error)
}

// errLocked is tryLock's answer when another session holds the maildrop.
var errLocked = errors.New("pop3d: maildrop locked by another session")

// maildropLock is one session's hold on a maildrop.
type maildropLock struct {
	// release gives the lock back; calling it again does nothing. ctx
	// bounds the work a shared lock does to give its row back.
	release func(ctx context.Context)
	// lost, when not nil, ends (its Done channel closes) if the lock is
	// lost before release: a shared lock that could not be renewed in
	// time or was taken over. The session must then stop at once: it no
	// longer owns the maildrop. A lock of the process is never lost.
	lost context.Context
}

// Locks is the maildrop lock table of one process. The zero value is an
// empty table, safe for concurrent use.
type Locks struct {
	mu   sync.Mutex
	held map[int64]bool // by account id
}

var _ Locker = (*Locks)(nil)

func (l *Locks) tryLock(_ context.Context, accountID int64) (maildropLock, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[accountID] {
		return maildropLock{}, errLocked
	}
	if l.held == nil {
		l.held = map[int64]bool{}
	}
	l.held[accountID] = true
	var once sync.Once
	return maildropLock{release: func(context.Context) {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, accountID)
			l.mu.Unlock()
		})
	}}, nil
}
