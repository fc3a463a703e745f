package blobdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pail/internal/pgtest"
	"pail/internal/sqldb"
)

// cluster is the private PostgreSQL server of this package's tests.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	c, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Close()
	os.Exit(code)
}

// targets returns a fresh database of each dialect, by name.
func targets(t *testing.T) map[string]string {
	t.Helper()
	url, err := cluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"sqlite": filepath.Join(t.TempDir(), "state.db"), "postgres": url}
}

func open(t *testing.T, target string) *DB {
	t.Helper()
	db, err := Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBlobs: Get, Put, Load, Version, Swap and Delete on each dialect,
// binary bytes kept exactly, and a second handle (another node) sees
// what the first wrote.
func TestBlobs(t *testing.T) {
	ctx := context.Background()
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			a, b := open(t, target), open(t, target)
			if _, err := a.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing blob: %v", err)
			}
			if v, err := a.Version(ctx, "k"); v != 0 || err != nil {
				t.Fatalf("missing blob's version %d, %v", v, err)
			}
			data := []byte{0, 1, 0xff, '\'', '?', 0}
			if err := a.Put(ctx, "k", data); err != nil {
				t.Fatal(err)
			}
			got, err := b.Load(ctx, "k")
			if err != nil || string(got.Data) != string(data) || got.Version != 1 {
				t.Fatalf("other handle: %q v%d %v", got.Data, got.Version, err)
			}
			if err := b.Put(ctx, "k", nil); err != nil {
				t.Fatal(err)
			}
			got, err = a.Load(ctx, "k")
			if err != nil || got.Data == nil || len(got.Data) != 0 || got.Version != 2 {
				t.Fatalf("empty blob: %q v%d %v", got.Data, got.Version, err)
			}
			if _, err := a.Swap(ctx, "k", []byte("x"), 1); !errors.Is(err, ErrConflict) {
				t.Fatalf("Swap at an old version: %v", err)
			}
			if _, err := a.Swap(ctx, "k", []byte("x"), 0); !errors.Is(err, ErrConflict) {
				t.Fatalf("Swap of an existing blob as new: %v", err)
			}
			if v, err := a.Swap(ctx, "k", []byte("x"), 2); v != 3 || err != nil {
				t.Fatalf("Swap at the current version: %d %v", v, err)
			}
			if v, err := b.Swap(ctx, "new", []byte("n"), 0); v != 1 || err != nil {
				t.Fatalf("Swap of a new blob: %d %v", v, err)
			}
			if err := a.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if err := a.Delete(ctx, "k"); err != nil {
				t.Fatalf("deleting a missing blob: %v", err)
			}
			if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted blob: %v", err)
			}
		})
	}
}

// TestUpdateAllOrNothing: a failing Update leaves nothing; a Swap
// conflict inside Update rolls back the writes before it.
func TestUpdateAllOrNothing(t *testing.T) {
	ctx := context.Background()
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t, target)
			if err := db.Put(ctx, "m", []byte("v1")); err != nil {
				t.Fatal(err)
			}
			err := db.Update(ctx, func(tx *Tx) error {
				if err := tx.Put(ctx, "key", []byte("k")); err != nil {
					return err
				}
				_, err := tx.Swap(ctx, "m", []byte("v2"), 7)
				return err
			})
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("Update: %v", err)
			}
			if _, err := db.Get(ctx, "key"); !errors.Is(err, ErrNotFound) {
				t.Errorf("a write of a failed Update is there: %v", err)
			}
		})
	}
}

// TestConcurrentCreate: nodes racing to create one blob with Swap(0)
// inside Update: exactly one wins, every other gets ErrConflict.
func TestConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			const nodes = 6
			dbs := make([]*DB, nodes)
			for i := range dbs {
				dbs[i] = open(t, target)
			}
			var wg sync.WaitGroup
			errs := make([]error, nodes)
			for i, db := range dbs {
				wg.Go(func() {
					errs[i] = db.Update(ctx, func(tx *Tx) error {
						if _, err := tx.Swap(ctx, "one", []byte{byte(i)}, 0); err != nil {
							return err
						}
						return tx.Put(ctx, fmt.Sprintf("side/%d", i), []byte{byte(i)})
					})
				})
			}
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch {
				case err == nil && won >= 0:
					t.Fatalf("nodes %d and %d both created the blob", won, i)
				case err == nil:
					won = i
				case !errors.Is(err, ErrConflict):
					t.Fatalf("node %d: %v", i, err)
				}
			}
			if won < 0 {
				t.Fatal("nobody created the blob")
			}
			got, err := dbs[0].Get(ctx, "one")
			if err != nil || len(got) != 1 || int(got[0]) != won {
				t.Fatalf("blob %v %v, winner %d", got, err, won)
			}
			for i := range nodes {
				_, err := dbs[0].Get(ctx, fmt.Sprintf("side/%d", i))
				if (i == won) != (err == nil) {
					t.Errorf("side write of node %d (winner %d): %v", i, won, err)
				}
			}
		})
	}
}

// TestLease: one holder at a time; the holder renews; another takes
// over only once the holder's time has passed (its holder died) or it
// released the lease.
func TestLease(t *testing.T) {
	ctx := context.Background()
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			dbA, dbB := open(t, target), open(t, target)
			now := time.Now()
			clock := func() time.Time { return now }
			a, b := dbA.Lease("job", "a", time.Minute), dbB.Lease("job", "b", time.Minute)
			a.Now, b.Now = clock, clock
			if _, held, err := a.Acquire(ctx); !held || err != nil {
				t.Fatalf("a first: %v %v", held, err)
			}
			if _, held, err := b.Acquire(ctx); held || err != nil {
				t.Fatalf("b while a holds: %v %v", held, err)
			}
			now = now.Add(40 * time.Second)
			if until, held, err := a.Acquire(ctx); !held || err != nil || until.Sub(now) != time.Minute {
				t.Fatalf("a renews: %v %v %v", until, held, err)
			}
			now = now.Add(40 * time.Second) // within a's renewed time
			if _, held, _ := b.Acquire(ctx); held {
				t.Fatal("b took a renewed lease")
			}
			if h, _, err := b.HeldBy(ctx); h != "a" || err != nil {
				t.Fatalf("HeldBy %q %v", h, err)
			}
			now = now.Add(21 * time.Second) // a died: no renewal
			if _, held, err := b.Acquire(ctx); !held || err != nil {
				t.Fatalf("b after a's time: %v %v", held, err)
			}
			if _, held, _ := a.Acquire(ctx); held {
				t.Fatal("a came back and took b's lease")
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if h, _, _ := a.HeldBy(ctx); h != "b" {
				t.Fatalf("a's release freed b's lease: holder %q", h)
			}
			if err := b.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if h, _, _ := a.HeldBy(ctx); h != "" {
				t.Fatalf("after release: holder %q", h)
			}
			if _, held, err := a.Acquire(ctx); !held || err != nil {
				t.Fatalf("a after b released: %v %v", held, err)
			}
		})
	}
}

// TestConcurrentAcquire: many nodes acquiring a free lease at once: one
// gets it.
func TestConcurrentAcquire(t *testing.T) {
	ctx := context.Background()
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			const nodes = 6
			var wg sync.WaitGroup
			var mu sync.Mutex
			held := 0
			for i := range nodes {
				db := open(t, target)
				wg.Go(func() {
					_, ok, err := db.Lease("job", fmt.Sprint("n", i), time.Minute).Acquire(ctx)
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						held++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if held != 1 {
				t.Fatalf("%d holders", held)
			}
		})
	}
}

// TestNewerSchemaRefused: a database migrated by a newer pail is refused
// with ErrNewerSchema; concurrent first opens all succeed.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					db, err := Open(ctx, target)
					if err != nil {
						t.Error("concurrent open:", err)
						return
					}
					db.Close()
				})
			}
			wg.Wait()
			raw, err := sqldb.Open(ctx, target, sqldb.Options{Schema: pgSchema})
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.ExecContext(ctx, "UPDATE schema_version SET version = ?", len(migrations)+1); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(ctx, target); !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("newer schema: %v", err)
			}
		})
	}
}
