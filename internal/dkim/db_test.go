package dkim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/blobdb"
	"pail/internal/pgtest"
)

// cluster is the private PostgreSQL server of the database backend's
// tests.
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

// dbTargets returns a fresh database of each dialect, by name.
func dbTargets(t *testing.T) map[string]string {
	t.Helper()
	url, err := cluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"sqlite": filepath.Join(t.TempDir(), "state.db"), "postgres": url}
}

// dbNode opens target as one node does: its own handle and Store.
func dbNode(t *testing.T, target string) (*Store, *blobdb.DB) {
	t.Helper()
	db, err := blobdb.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	day := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	return OpenDB(db, func() time.Time { return day }), db
}

func txts(keys []Key) string {
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s %s\n", k.Selector, k.State, k.TXT())
	}
	return b.String()
}

// TestDBSharedKeys: two nodes on one database see the same keys; mail
// signed on one verifies with the records the other prints; a Rotate on
// one is used by the other's next signature, and a Retire on the other
// is seen by the first; the manifest and key blobs have the files'
// content.
func TestDBSharedKeys(t *testing.T) {
	ctx := context.Background()
	for name, target := range dbTargets(t) {
		t.Run(name, func(t *testing.T) {
			a, db := dbNode(t, target)
			b, _ := dbNode(t, target)
			if keys, err := b.Keys("hill.test"); err != nil || len(keys) != 0 {
				t.Fatalf("before Ensure: %v %v", keys, err)
			}
			keys, err := a.Ensure("Hill.Test.")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 2 || keys[0].Selector != "p20261206r" || keys[1].Selector != "p20261206e" {
				t.Fatalf("keys = %+v", keys)
			}
			other, err := b.Keys("hill.test")
			if err != nil || txts(other) != txts(keys) {
				t.Fatalf("other node: %v\n%s\nwant\n%s", err, txts(other), txts(keys))
			}
			again, err := b.Ensure("hill.test")
			if err != nil || txts(again) != txts(keys) {
				t.Fatalf("Ensure on the other node made new keys: %v\n%s", err, txts(again))
			}
			sig, err := NewSigner(a, Policy{Local: local}).Sign(strings.NewReader(testMsg))
			if err != nil {
				t.Fatal(err)
			}
			old := string(sig) + testMsg
			for _, r := range verify(t, b, old) {
				if r.Err != nil {
					t.Errorf("signed on a, verified with b's records: %v", r.Err)
				}
			}
			// Rotate on a; b's next signature uses the new keys.
			if _, err := a.Rotate("hill.test"); err != nil {
				t.Fatal(err)
			}
			sig, err = NewSigner(b, Policy{Local: local}).Sign(strings.NewReader(testMsg))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(sig, []byte("s=p20261206r2")) || !bytes.Contains(sig, []byte("s=p20261206e2")) {
				t.Errorf("b signed after a's rotate with %s", sig)
			}
			// Retire on b; a sees it, and the key blob is gone.
			if err := b.Retire("hill.test", "p20261206r2"); err == nil {
				t.Error("retired an active selector")
			}
			if err := b.Retire("hill.test", "p20261206r"); err != nil {
				t.Fatal(err)
			}
			keys, err = a.Keys("hill.test")
			if err != nil || len(keys) != 3 || keys[0].Selector != "p20261206e" || keys[0].State != Retiring {
				t.Fatalf("a after b's retire: %v\n%s", err, txts(keys))
			}
			if _, err := db.Get(ctx, "dkim/hill.test/p20261206r.pem"); !errors.Is(err, blobdb.ErrNotFound) {
				t.Errorf("retired key blob: %v", err)
			}
			// The blobs hold what the files would: the manifest's JSON
			// and PKCS#8 PEM.
			man, err := db.Get(ctx, "dkim/hill.test/manifest.json")
			if err != nil || !bytes.Contains(man, []byte(`"selector": "p20261206e2"`)) || !bytes.HasSuffix(man, []byte("}\n")) {
				t.Errorf("manifest blob %v:\n%s", err, man)
			}
			pemData, err := db.Get(ctx, "dkim/hill.test/p20261206e2.pem")
			if err != nil || !bytes.HasPrefix(pemData, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("key blob %v:\n%s", err, pemData)
			}
			// A damaged key blob is an error, not an unsigned message.
			if err := db.Put(ctx, "dkim/hill.test/p20261206e2.pem", []byte("junk")); err != nil {
				t.Fatal(err)
			}
			if err := db.Put(ctx, "dkim/hill.test/manifest.json", man); err != nil { // a new version: reread
				t.Fatal(err)
			}
			if _, err := NewSigner(a, Policy{Local: local}).Sign(strings.NewReader(testMsg)); err == nil || errors.Is(err, ErrNotSigned) {
				t.Errorf("damaged key blob: err %v", err)
			}
		})
	}
}

// TestDBConcurrentEnsure: nodes making a new domain's keys at once end
// up with one key set, which every one of them returns.
func TestDBConcurrentEnsure(t *testing.T) {
	ctx := context.Background()
	for name, target := range dbTargets(t) {
		t.Run(name, func(t *testing.T) {
			const nodes = 4
			stores := make([]*Store, nodes)
			var db *blobdb.DB
			for i := range stores {
				stores[i], db = dbNode(t, target)
			}
			got := make([]string, nodes)
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() {
					keys, err := s.Ensure("hill.test")
					if err != nil {
						t.Errorf("node %d: %v", i, err)
					}
					got[i] = txts(keys)
				})
			}
			wg.Wait()
			for i := range got {
				if got[i] != got[0] || len(got[0]) == 0 {
					t.Fatalf("node %d has\n%s\nnode 0 has\n%s", i, got[i], got[0])
				}
			}
			if v, err := db.Version(ctx, "dkim/hill.test/manifest.json"); v != 1 || err != nil {
				t.Errorf("manifest version %d (%v): written more than once", v, err)
			}
			// Each node's cache agrees with the database.
			for i, s := range stores {
				keys, err := s.Keys("hill.test")
				if err != nil || txts(keys) != got[0] {
					t.Errorf("node %d Keys: %v\n%s", i, err, txts(keys))
				}
			}
		})
	}
}
