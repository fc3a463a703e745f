package pop3d

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/pgtest"
	"pail/internal/sqldb"
)

// pg is the private PostgreSQL server of this package's tests, started by
// the first test that needs it.
var pg struct {
	once sync.Once
	c    *pgtest.Cluster
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.c != nil {
		pg.c.Close()
	}
	os.Exit(code)
}

// pgDatabase returns the URL of a fresh PostgreSQL database.
func pgDatabase(t *testing.T) string {
	t.Helper()
	pg.once.Do(func() { pg.c, pg.err = pgtest.Start(context.Background()) })
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	url, err := pg.c.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// eachBackend runs fn as a subtest on a fresh SQLite file and on a fresh
// PostgreSQL database (target: what sqldb.Open takes).
func eachBackend(t *testing.T, fn func(t *testing.T, target string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "cluster.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, pgDatabase(t)) })
}

// openDB opens one node's handle on target.
func openDB(t *testing.T, target string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), target, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newNode is one node's lock table on its own handle on target.
func newNode(t *testing.T, target, name string, lease time.Duration) (*SharedLocks, *sqldb.DB) {
	t.Helper()
	db := openDB(t, target)
	l, err := NewSharedLocks(context.Background(), db, SharedLocksConfig{NodeID: name, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, db
}

func mustLock(t *testing.T, l Locker, account int64) maildropLock {
	t.Helper()
	lk, err := l.tryLock(context.Background(), account)
	if err != nil {
		t.Fatalf("tryLock(%d): %v", account, err)
	}
	return lk
}

func mustBeLocked(t *testing.T, l Locker, account int64) {
	t.Helper()
	lk, err := l.tryLock(context.Background(), account)
	if !errors.Is(err, errLocked) {
		if err == nil {
			lk.release(context.Background())
		}
		t.Fatalf("tryLock(%d) = %v, want errLocked", account, err)
	}
}

func TestSharedLocksBetweenNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		a, _ := newNode(t, target, "a", time.Minute)
		b, _ := newNode(t, target, "b", time.Minute)
		la := mustLock(t, a, 1)
		mustBeLocked(t, b, 1)
		mustBeLocked(t, a, 1) // a second session on the same node too
		lb := mustLock(t, b, 2)
		la.release(context.Background())
		la.release(context.Background()) // again: nothing
		lb1 := mustLock(t, b, 1)
		mustBeLocked(t, a, 1)
		mustBeLocked(t, a, 2)
		lb.release(context.Background())
		lb1.release(context.Background())
		mustLock(t, a, 1).release(context.Background())
		mustLock(t, a, 2).release(context.Background())
	})
}

func TestSharedLockRenewedWhileHeld(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		// Long enough that a renewal on a loaded machine answers in
		// its eighth of the lease.
		const lease = 1200 * time.Millisecond
		a, _ := newNode(t, target, "a", lease)
		b, _ := newNode(t, target, "b", lease)
		la := mustLock(t, a, 1)
		for end := time.Now().Add(2 * lease); time.Now().Before(end); time.Sleep(lease / 4) {
			mustBeLocked(t, b, 1)
		}
		if la.lost.Err() != nil {
			t.Fatal("a renewed lease was lost")
		}
		la.release(context.Background())
		if la.lost.Err() == nil {
			t.Error("a released lock's context is still live")
		}
		mustLock(t, b, 1)
	})
}

// TestSharedLockTakenOverAfterHolderDies: a node whose database handle
// goes away (as when it is killed: no renewal, no release) keeps the
// maildrop until its lease expires; its session is cut off before another
// node takes the maildrop over.
func TestSharedLockTakenOverAfterHolderDies(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		const lease = 800 * time.Millisecond
		a, adb := newNode(t, target, "a", lease)
		b, _ := newNode(t, target, "b", lease)
		la := mustLock(t, a, 1)
		var lostAt atomic.Int64
		context.AfterFunc(la.lost, func() { lostAt.Store(time.Now().UnixNano()) })
		killed := time.Now()
		adb.Close()
		mustBeLocked(t, b, 1)
		var got maildropLock
		for {
			lk, err := b.tryLock(context.Background(), 1)
			if err == nil {
				got = lk
				break
			}
			if !errors.Is(err, errLocked) {
				t.Fatal(err)
			}
			if time.Since(killed) > 10*lease {
				t.Fatal("the dead node's lease was never taken over")
			}
			time.Sleep(20 * time.Millisecond)
		}
		gotAt := time.Now()
		defer got.release(context.Background())
		if d := gotAt.Sub(killed); d < lease/2 {
			t.Errorf("taken over %v after the holder died, before its lease could have expired", d)
		}
		if lostAt.Load() == 0 || lostAt.Load() >= gotAt.UnixNano() {
			t.Errorf("the dead node's session was not cut off before the takeover (lost at %d, taken at %d)", lostAt.Load(), gotAt.UnixNano())
		}
	})
}

func TestSharedLockLostWhenTakenAway(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		const lease = 400 * time.Millisecond
		a, db := newNode(t, target, "a", lease)
		la := mustLock(t, a, 7)
		if _, err := db.ExecContext(context.Background(), "UPDATE pop3_locks SET holder = 'someone else' WHERE account_id = 7"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-la.lost.Done():
		case <-time.After(5 * lease):
			t.Fatal("a lease taken away was not noticed")
		}
		la.release(context.Background())
		var holder string
		if err := db.QueryRowContext(context.Background(), "SELECT holder FROM pop3_locks WHERE account_id = 7").Scan(&holder); err != nil || holder != "someone else" {
			t.Errorf("release of a lost lease touched the new holder's row: %q, %v", holder, err)
		}
	})
}

// TestSharedLocksContention has sessions on two nodes take one maildrop
// over and over at once: never two at a time (run it with -race).
func TestSharedLocksContention(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		a, _ := newNode(t, target, "a", time.Minute)
		b, _ := newNode(t, target, "b", time.Minute)
		var holding, most, took atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Go(func() {
				for range 40 {
					lk, err := node.tryLock(context.Background(), 42)
					if errors.Is(err, errLocked) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					n := holding.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					took.Add(1)
					time.Sleep(time.Millisecond)
					holding.Add(-1)
					lk.release(context.Background())
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if most.Load() != 1 || took.Load() == 0 {
			t.Fatalf("at most %d sessions held the maildrop at once (want 1), %d took it", most.Load(), took.Load())
		}
	})
}

func TestSharedLocksRefuseNewerSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		_, db := newNode(t, target, "a", time.Minute)
		if _, err := db.ExecContext(context.Background(), "UPDATE schema_parts SET version = 99 WHERE part = 'pop3_locks'"); err != nil {
			t.Fatal(err)
		}
		_, err := NewSharedLocks(context.Background(), db, SharedLocksConfig{})
		if !errors.Is(err, sqldb.ErrNewerSchema) {
			t.Fatalf("NewSharedLocks on a newer schema: %v", err)
		}
	})
}

// TestPOP3MaildropLockAcrossNodes runs two POP3 servers, each with its own
// shared lock table on its own handle on one database, as two nodes
// would: a login on the second while the first holds the maildrop gets
// [IN-USE], as on one node.
func TestPOP3MaildropLockAcrossNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		la, _ := newNode(t, target, "a", time.Minute)
		lb, _ := newNode(t, target, "b", time.Minute)
		env := newTestEnv(t, testOpts{locks: la})
		nodeA := env.addr
		env.start(t, testOpts{locks: lb})
		nodeB := env.addr

		a := dial(t, nodeA)
		a.login(testUser)
		b := dial(t, nodeB)
		b.expect(`\+OK.*`)
		b.cmd("USER "+testUser, `\+OK.*`)
		b.cmd("PASS "+testPassword, `-ERR \[IN-USE\] .*`)
		b.cmd("USER "+otherUser, `\+OK.*`)
		b.cmd("PASS "+testPassword, `\+OK Logged in.*`)
		b.cmd("QUIT", `\+OK.*`)
		a.cmd("DELE 1", `\+OK.*`)
		a.cmd("QUIT", `\+OK .*\(1 messages removed\)`)
		c := dial(t, nodeB)
		c.login(testUser) // QUIT released it before its +OK
		c.cmd("STAT", `\+OK 2 .*`)
		c.conn.Close()
		loginEventually(t, nodeA) // a dropped connection releases it too
	})
}

// TestPOP3SharedLockDatabaseDown: with the lock table's PostgreSQL down,
// a login is answered [SYS/TEMP] (nobody can tell whether another node
// holds the maildrop), a session holding a maildrop is cut off before its
// lease runs out, and logins work again once the database is back.
func TestPOP3SharedLockDatabaseDown(t *testing.T) {
	ctx := context.Background()
	c, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const lease = 2 * time.Second
	locks, _ := newNode(t, target, "a", lease)
	env := newTestEnv(t, testOpts{locks: locks})
	held := dial(t, env.addr)
	held.login(testUser)

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	other := dial(t, env.addr)
	other.expect(`\+OK.*`)
	other.cmd("USER "+otherUser, `\+OK.*`)
	other.cmd("PASS "+testPassword, `-ERR \[SYS/TEMP\] .*`)
	held.expectEOF()
	if d := time.Since(stopped); d >= lease {
		t.Errorf("the session was cut off %v after the database went down, not before its %v lease ran out", d, lease)
	}

	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cl := dial(t, env.addr)
		cl.expect(`\+OK.*`)
		cl.cmd("USER "+testUser, `\+OK.*`)
		l := cl.cmd("PASS "+testPassword, `(\+OK|-ERR \[(SYS/TEMP|IN-USE)\]) .*`)
		if l[0] == '+' {
			cl.cmd("QUIT", `\+OK.*`)
			break
		}
		cl.conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no login after the database came back: %s", l)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
