package auth

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

// testCluster is nodes over one database and one account, bob@hill.com
// (password "pw"), with one clock the test moves.
type testCluster struct {
	t        *testing.T
	target   string
	lim      Limits
	accounts fakeAccounts
	mu       sync.Mutex
	now      time.Time
}

func newTestCluster(t *testing.T, target string, lim Limits) *testCluster {
	t.Helper()
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	return &testCluster{
		t: t, target: target, lim: lim,
		accounts: fakeAccounts{"bob@hill.com": {ID: 1, Address: "bob@hill.com", PasswordHash: h}},
		now:      time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
	}
}

func (c *testCluster) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testCluster) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testNode is one node: an Authenticator with shared limits on its own
// handle on the cluster's database.
type testNode struct {
	*Authenticator
	db *sqldb.DB
}

func (c *testCluster) node() *testNode {
	c.t.Helper()
	db, err := sqldb.Open(context.Background(), c.target, sqldb.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	sh, err := NewSharedLimits(context.Background(), db, SharedLimitsConfig{Limits: c.lim})
	if err != nil {
		c.t.Fatal(err)
	}
	a := NewWithSharedLimits(c.accounts, sh)
	a.now = c.clock
	return &testNode{Authenticator: a, db: db}
}

// login tries a password from ip and returns the delay served before the
// answer and the error.
func (n *testNode) login(ip netip.Addr, user, pw string) (time.Duration, error) {
	var slept time.Duration
	a := *n.Authenticator // same tables, own Sleep
	a.Sleep = func(_ context.Context, d time.Duration) { slept += d }
	_, err := a.Authenticate(context.Background(), ip, user, pw)
	return slept, err
}

// TestSharedLimitsPerAddressOverNodes: an address guessing on two nodes
// in turn has one allowance in all, not one per node; it expires.
func TestSharedLimitsPerAddressOverNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		c := newTestCluster(t, target, Limits{FailuresPerAddress: 6})
		nodes := []*testNode{c.node(), c.node()}
		guesser := netip.MustParseAddr("198.51.100.1")
		for i := range 6 {
			if _, err := nodes[i%2].login(guesser, "bob@hill.com", "bad"); !errors.Is(err, ErrFailed) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		for i, n := range nodes {
			if _, err := n.login(guesser, "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
				t.Fatalf("node %d after 6 failures over both nodes: %v, want ErrLimited", i, err)
			}
		}
		// Another address, and a username that is no account, are
		// their own.
		if _, err := nodes[1].login(netip.MustParseAddr("198.51.100.2"), "not an address", "x"); !errors.Is(err, ErrFailed) {
			t.Fatalf("another address: %v", err)
		}
		c.advance(failureWindow + time.Minute)
		if _, err := nodes[1].login(guesser, "bob@hill.com", "pw"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

// TestSharedLimitsAccountUnderAttack: an account put under attack through
// one node is under attack on the other; its owner's known place, learnt
// on the first node, is never limited on the second; a stranger gets his
// network's allowance and the shared rate, over both nodes in all.
func TestSharedLimitsAccountUnderAttack(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		c := newTestCluster(t, target, Limits{})
		a, b := c.node(), c.node()
		home := netip.MustParseAddr("203.0.113.9")
		if _, err := a.login(home, "bob@hill.com", "pw"); err != nil {
			t.Fatal(err)
		}
		for i := range DefaultFailuresPerAccount {
			ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
			if _, err := b.login(ip, "bob@hill.com", "bad"); !errors.Is(err, ErrFailed) {
				t.Fatalf("setting up the attack: %v", err)
			}
		}
		// The owner's typo at home on b (which has never seen him) and
		// his login there: not slowed for the account's sake.
		if slept, err := b.login(home, "bob@hill.com", "typo"); !errors.Is(err, ErrFailed) || slept != baseDelay {
			t.Fatalf("owner's typo from a known place: %v after %s, want %s", err, slept, baseDelay)
		}
		if slept, err := b.login(home, "bob@hill.com", "pw"); err != nil || slept != 0 {
			t.Fatalf("owner from a known place on another node: %v after %s", err, slept)
		}
		// A stranger: networkAllowance attempts, then one of the
		// shared rate, then refused, on whichever node.
		stranger := netip.MustParseAddr("2001:db8:1:2::1")
		nodes := []*testNode{a, b}
		for i := range networkAllowance + 1 {
			if slept, err := nodes[i%2].login(stranger, "bob@hill.com", "bad"); !errors.Is(err, ErrFailed) || slept != maxDelay {
				t.Fatalf("stranger's attempt %d: %v after %s", i, err, slept)
			}
		}
		// Another /64 of the same /48 shares the network's allowance.
		for i, n := range nodes {
			if _, err := n.login(netip.MustParseAddr("2001:db8:1:3::1"), "bob@hill.com", "pw"); !errors.Is(err, ErrLimited) {
				t.Fatalf("node %d: the stranger's network past its allowance and the shared rate: %v", i, err)
			}
		}
		// The shared rate comes back a minute/SuspectAttemptsPerMinute on.
		c.advance(time.Minute / DefaultSuspectAttemptsPerMinute)
		if _, err := b.login(netip.MustParseAddr("2001:db8:1:4::1"), "bob@hill.com", "pw"); err != nil {
			t.Fatalf("owner from a new place once the rate has a slot: %v", err)
		}
	})
}

// TestSharedLimitsConcurrent: parallel guesses from one address on two
// nodes: exactly FailuresPerAddress of them are checked (run with -race).
func TestSharedLimitsConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		c := newTestCluster(t, target, Limits{FailuresPerAddress: 5})
		nodes := []*testNode{c.node(), c.node()}
		ip := netip.MustParseAddr("198.51.100.50")
		var failed, limited atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			n := nodes[i%2]
			wg.Go(func() {
				for range 3 {
					_, err := n.login(ip, "bob@hill.com", "bad")
					switch {
					case errors.Is(err, ErrFailed):
						failed.Add(1)
					case errors.Is(err, ErrLimited):
						limited.Add(1)
					default:
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if failed.Load() != 5 || limited.Load() != 48-5 {
			t.Fatalf("%d guesses checked and %d refused, want 5 and 43", failed.Load(), limited.Load())
		}
	})
}

// TestSharedLimitsDatabaseDown: while the shared tables cannot be
// reached, a known place of the account on this node logs in under the
// node's own limits, and any other login fails as a temporary error.
func TestSharedLimitsDatabaseDown(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		c := newTestCluster(t, target, Limits{})
		a := c.node()
		home := netip.MustParseAddr("203.0.113.9")
		if _, err := a.login(home, "bob@hill.com", "pw"); err != nil {
			t.Fatal(err)
		}
		a.db.Close()
		if _, err := a.login(home, "bob@hill.com", "pw"); err != nil {
			t.Fatalf("known place with the database away: %v", err)
		}
		if _, err := a.login(home, "bob@hill.com", "typo"); !errors.Is(err, ErrFailed) {
			t.Fatalf("known place's typo with the database away: %v", err)
		}
		_, err := a.login(netip.MustParseAddr("198.51.100.3"), "bob@hill.com", "pw")
		if err == nil || errors.Is(err, ErrFailed) || errors.Is(err, ErrLimited) {
			t.Fatalf("stranger with the database away: %v, want a temporary error", err)
		}
		// The node's own limiter kept nothing of the refused attempt.
		if n := a.limits.clients[netip.MustParsePrefix("198.51.100.3/32")]; n != nil {
			t.Errorf("a refused attempt left its slot: %+v", *n)
		}
	})
}

// TestSharedKnownPlacesBounded: an account keeps its newest
// maxKnownPerAccount places in the shared table.
func TestSharedKnownPlacesBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		c := newTestCluster(t, target, Limits{})
		a := c.node()
		for i := range maxKnownPerAccount + 3 {
			c.advance(time.Second)
			if _, err := a.login(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), "bob@hill.com", "pw"); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		var oldest string
		if err := a.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM auth_known WHERE account = 'bob@hill.com'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := a.db.QueryRowContext(context.Background(), "SELECT client FROM auth_known ORDER BY last LIMIT 1").Scan(&oldest); err != nil {
			t.Fatal(err)
		}
		if n != maxKnownPerAccount || oldest != "192.0.2.3/32" {
			t.Fatalf("%d known places kept, the oldest %s; want %d from 192.0.2.3/32", n, oldest, maxKnownPerAccount)
		}
	})
}

func TestSharedLimitsRefuseNewerSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		c := newTestCluster(t, target, Limits{})
		a := c.node()
		if _, err := a.db.ExecContext(context.Background(), "UPDATE schema_parts SET version = 99 WHERE part = 'auth_limits'"); err != nil {
			t.Fatal(err)
		}
		if _, err := NewSharedLimits(context.Background(), a.db, SharedLimitsConfig{}); !errors.Is(err, sqldb.ErrNewerSchema) {
			t.Fatalf("NewSharedLimits on a newer schema: %v", err)
		}
	})
}
