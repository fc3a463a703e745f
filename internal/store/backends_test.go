package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"pail/internal/pgtest"
)

// cluster is this package's private PostgreSQL server, started by the
// first test that needs it (pgCluster) and stopped by TestMain.
var (
	clusterOnce sync.Once
	cluster     *pgtest.Cluster
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Close()
	}
	os.Exit(code)
}

// pgCluster returns the package's cluster, starting it on first use.
func pgCluster(t testing.TB) *pgtest.Cluster {
	t.Helper()
	clusterOnce.Do(func() { cluster, clusterErr = pgtest.Start(context.Background()) })
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return cluster
}

// newPGDatabase returns the URL of a fresh database of the cluster.
func newPGDatabase(t testing.TB) string {
	t.Helper()
	url, err := pgCluster(t).NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// backend opens stores of one kind for a test: SQLite in a directory,
// or PostgreSQL in a database (url).
type backend struct {
	name string
	dir  string // SQLite
	url  string // PostgreSQL
}

// pg reports whether the backend is PostgreSQL.
func (b backend) pg() bool { return b.url != "" }

// open opens a store (another handle on the same data when called
// again), closed when the test ends.
func (b backend) open(t *testing.T) *Store {
	t.Helper()
	if !b.pg() {
		return openTest(t, b.dir)
	}
	s, err := OpenPostgres(context.Background(), b.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachBackend runs fn as a subtest on a new SQLite store directory and on
// a new PostgreSQL database.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, backend{name: "sqlite", dir: t.TempDir()}) })
	t.Run("postgres", func(t *testing.T) { fn(t, backend{name: "postgres", url: newPGDatabase(t)}) })
}

// String names the backend.
func (b backend) String() string { return fmt.Sprint(b.name) }

// storedBytes reads m's bytes through OpenBody.
func storedBytes(t *testing.T, s *Store, m Message) ([]byte, error) {
	t.Helper()
	b, err := s.OpenBody(context.Background(), m)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
}

// bodyGone reports whether m's bytes are gone from the store: its file
// (SQLite) or its bodies row (PostgreSQL).
func bodyGone(t *testing.T, s *Store, m Message) bool {
	t.Helper()
	if !s.db.pg() {
		_, err := os.Stat(m.path)
		return errors.Is(err, os.ErrNotExist)
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM bodies WHERE id = ?", m.bodyID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 0
}

// storedCount counts the stored message bodies: files (SQLite) or bodies
// rows (PostgreSQL).
func storedCount(t *testing.T, s *Store) int {
	t.Helper()
	if !s.db.pg() {
		return len(storeFiles(t, s))
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM bodies").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
