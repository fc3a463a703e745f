package ratelimit

import (
	"context"
	"errors"
	"net/netip"
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

// eachBackend runs fn as a subtest on a fresh SQLite file and on a fresh
// PostgreSQL database (target: what sqldb.Open takes).
func eachBackend(t *testing.T, fn func(t *testing.T, target string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "cluster.db")) })
	t.Run("postgres", func(t *testing.T) {
		pg.once.Do(func() { pg.c, pg.err = pgtest.Start(context.Background()) })
		if pg.err != nil {
			t.Fatal(pg.err)
		}
		url, err := pg.c.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fn(t, url)
	})
}

// node is one node's limiter, its counters on its own handle on target.
// Its timeout is long: a loaded test machine must not make the database
// look away (the node's own bucket would then decide).
func node(t *testing.T, target string, l *Limiter) (*Limiter, *sqldb.DB) {
	t.Helper()
	db, err := sqldb.Open(context.Background(), target, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewShared(context.Background(), db, SharedConfig{Name: "test", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l.Shared = s
	return l, db
}

// TestSharedAcrossNodes: a client alternating between two nodes gets the
// burst of one node, not of each; the limit slides back open.
func TestSharedAcrossNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		now := time.Unix(60*16667, 0) // the start of a window of a minute
		clock := func() time.Time { return now }
		a, _ := node(t, target, &Limiter{Rate: 5, Per: time.Minute, Now: clock})
		b, _ := node(t, target, &Limiter{Rate: 5, Per: time.Minute, Now: clock})
		ctx := context.Background()
		ip, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
		for i := range 5 {
			n := a
			if i%2 == 1 {
				n = b
			}
			if !n.AllowContext(ctx, ip) {
				t.Fatalf("event %d of the burst refused", i)
			}
		}
		if a.AllowContext(ctx, ip) || b.AllowContext(ctx, ip) {
			t.Fatal("past the burst, over two nodes, allowed")
		}
		if !b.AllowContext(ctx, other) || !b.AllowContext(ctx, netip.MustParseAddr("2001:db8::2")) {
			t.Fatal("another client limited")
		}
		for range 20 {
			if !a.AllowContext(ctx, netip.MustParseAddr("127.0.0.1")) {
				t.Fatal("loopback limited")
			}
		}
		// Halfway through the next window, half the previous one's
		// count has slid out: two events (5 - 5·0.5 = 2.5).
		now = now.Add(90 * time.Second)
		got := 0
		for range 5 {
			if b.AllowContext(ctx, ip) {
				got++
			}
		}
		if got != 2 {
			t.Errorf("half a window later %d events allowed, want 2", got)
		}
		// Two windows on, nothing is left of the old counts.
		now = now.Add(2 * time.Minute)
		got = 0
		for i := range 10 {
			n := a
			if i%2 == 1 {
				n = b
			}
			if n.AllowContext(ctx, ip) {
				got++
			}
		}
		if got != 5 {
			t.Errorf("two windows later %d events allowed, want the burst of 5", got)
		}
	})
}

// TestSharedConcurrent: many attempts at once from two nodes let exactly
// the burst through (run with -race).
func TestSharedConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		now := time.Unix(2_000_000, 0)
		clock := func() time.Time { return now }
		// Each node's own bucket would allow 30; together they must too.
		a, _ := node(t, target, &Limiter{Rate: 30, Per: time.Hour, Now: clock})
		b, _ := node(t, target, &Limiter{Rate: 30, Per: time.Hour, Now: clock})
		ip := netip.MustParseAddr("198.51.100.7")
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := range 16 {
			n := a
			if i%2 == 1 {
				n = b
			}
			wg.Go(func() {
				for range 20 {
					if n.AllowContext(context.Background(), ip) {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if allowed.Load() != 30 {
			t.Fatalf("%d events allowed, want 30", allowed.Load())
		}
	})
}

// TestSharedDatabaseDown: while the counters cannot be reached, the
// node's own bucket decides.
func TestSharedDatabaseDown(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		now := time.Unix(3_000_000, 0)
		a, db := node(t, target, &Limiter{Rate: 3, Per: time.Minute, Now: func() time.Time { return now }})
		ip := netip.MustParseAddr("192.0.2.9")
		if !a.AllowContext(context.Background(), ip) {
			t.Fatal("first event refused")
		}
		db.Close()
		for i := range 2 {
			if !a.AllowContext(context.Background(), ip) {
				t.Fatalf("event %d refused: the node's own bucket not used with the database away", i+2)
			}
		}
		if a.AllowContext(context.Background(), ip) {
			t.Fatal("past the node's own bucket allowed")
		}
	})
}

func TestSharedRefusesNewerSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		_, db := node(t, target, &Limiter{})
		if _, err := db.ExecContext(context.Background(), "UPDATE schema_parts SET version = 99 WHERE part = 'rate_windows'"); err != nil {
			t.Fatal(err)
		}
		if _, err := NewShared(context.Background(), db, SharedConfig{Name: "x"}); !errors.Is(err, sqldb.ErrNewerSchema) {
			t.Fatalf("NewShared on a newer schema: %v", err)
		}
	})
}
