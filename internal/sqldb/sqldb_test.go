package sqldb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"pail/internal/pgtest"
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

// backends returns a fresh database of each dialect.
func backends(t *testing.T) map[Dialect]string {
	t.Helper()
	url, err := cluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return map[Dialect]string{SQLite: filepath.Join(t.TempDir(), "t.db"), Postgres: url}
}

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c IN (?,?)", "SELECT a FROM t WHERE b = $1 AND c IN ($2,$3)"},
		{"SELECT '?', \"odd?\" FROM t WHERE x = ?", "SELECT '?', \"odd?\" FROM t WHERE x = $1"},
		{"SELECT 'it''s ?' WHERE y = ?", "SELECT 'it''s ?' WHERE y = $1"},
		{"SELECT x -- why?\nFROM t WHERE z = ?", "SELECT x -- why?\nFROM t WHERE z = $1"},
	} {
		if got := Postgres.Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := SQLite.Rebind(tc.in); got != tc.in {
			t.Errorf("SQLite changed %q to %q", tc.in, got)
		}
	}
}

func TestIsURL(t *testing.T) {
	for in, want := range map[string]bool{
		"postgres://u@h/db": true, "POSTGRESQL://h/db": true, "/var/lib/pail/queue.db": false, "queue.db": false, "": false,
	} {
		if IsURL(in) != want {
			t.Errorf("IsURL(%q) = %v", in, !want)
		}
	}
}

// TestSameSQLOnBoth runs one set of statements, ? placeholders and all,
// through DB and Tx on each dialect, with a schema on PostgreSQL.
func TestSameSQLOnBoth(t *testing.T) {
	ctx := context.Background()
	for dialect, target := range backends(t) {
		t.Run(dialect.String(), func(t *testing.T) {
			db, err := Open(ctx, target, Options{Schema: "part"})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Dialect() != dialect {
				t.Fatalf("dialect %v, want %v", db.Dialect(), dialect)
			}
			if _, err := db.ExecContext(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL, b BYTEA)"); err != nil {
				t.Fatal(err)
			}
			err = db.Tx(ctx, func(tx *Tx) error {
				for i, k := range []string{"a", "b", "c"} {
					if _, err := tx.ExecContext(ctx, "INSERT INTO kv (k, v, b) VALUES (?, ?, ?)", k, i, []byte{0, byte(i), 0xff}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var k string
			var b []byte
			if err := db.QueryRowContext(ctx, "UPDATE kv SET v = v + ? WHERE k = ? RETURNING k, b", 10, "b").Scan(&k, &b); err != nil || k != "b" || string(b) != "\x00\x01\xff" {
				t.Fatalf("UPDATE RETURNING: %q %q %v", k, b, err)
			}
			var sum int64
			if err := db.QueryRowContext(ctx, "SELECT sum(v) FROM kv WHERE k IN (?, ?, ?)", "a", "b", "c").Scan(&sum); err != nil || sum != 13 {
				t.Fatalf("sum %d, %v", sum, err)
			}
			// A failing fn rolls back.
			boom := errors.New("boom")
			err = db.Tx(ctx, func(tx *Tx) error {
				tx.ExecContext(ctx, "DELETE FROM kv")
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Tx: %v", err)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM kv").Scan(&n); err != nil || n != 3 {
				t.Fatalf("after a rolled back delete: %d rows, %v", n, err)
			}
			if IsRetryable(err) || IsUnavailable(err) {
				t.Errorf("a plain error classified retryable or unavailable")
			}
			_, err = db.ExecContext(ctx, "SELECT nonsense FROM")
			if err == nil || IsRetryable(err) || IsUnavailable(err) {
				t.Errorf("a syntax error: %v, retryable %v, unavailable %v", err, IsRetryable(err), IsUnavailable(err))
			}
		})
	}
}

// TestSchemaKeepsPartsApart: two handles on one PostgreSQL database with
// different schemas each see their own table of the same name.
func TestSchemaKeepsPartsApart(t *testing.T) {
	ctx := context.Background()
	url := backends(t)[Postgres]
	for _, schema := range []string{"one", "two"} {
		db, err := Open(ctx, url, Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE TABLE t (v TEXT)"); err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (?)", schema); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRowContext(ctx, "SELECT string_agg(v, ',') FROM t").Scan(&v); err != nil || v != schema {
			t.Errorf("%s sees %q, %v", schema, v, err)
		}
	}
}

// TestTxRetriesADeadlock: two transactions that lock two rows in
// opposite orders deadlock; PostgreSQL aborts one with 40P01, which is
// retryable, and DB.Tx runs it again so that both succeed.
func TestTxRetriesADeadlock(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, backends(t)[Postgres], Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE r (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO r VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []error
	var both sync.WaitGroup
	both.Add(2)
	run := func(first, second int) error {
		tries := 0
		return db.Tx(ctx, func(tx *Tx) error {
			tries++
			if _, err := tx.ExecContext(ctx, "UPDATE r SET n = n + 1 WHERE id = ?", first); err != nil {
				return err
			}
			if tries == 1 {
				both.Done()
				both.Wait() // each holds its first row
			}
			_, err := tx.ExecContext(ctx, "UPDATE r SET n = n + 1 WHERE id = ?", second)
			if err != nil {
				mu.Lock()
				seen = append(seen, err)
				mu.Unlock()
			}
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- run(1, 2) }()
	go func() { errs <- run(2, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Tx: %v", err)
		}
	}
	if len(seen) != 1 || !IsRetryable(seen[0]) || IsUnavailable(seen[0]) {
		t.Fatalf("errors seen inside the transactions: %v, want one deadlock", seen)
	}
	var sum int
	if err := db.QueryRowContext(ctx, "SELECT sum(n) FROM r").Scan(&sum); err != nil || sum != 4 {
		t.Errorf("sum %d, %v: each transaction should have counted once", sum, err)
	}
}

// TestClassifyCodes: the SQLSTATEs the server sends are classified as
// the package doc says, wrapped or not (the server-side cases are
// TestTxRetriesADeadlock and TestUnavailableWhileDown).
func TestClassifyCodes(t *testing.T) {
	err := &pgconn.PgError{Code: "40001"}
	if !IsRetryable(fmt.Errorf("wrapped: %w", err)) || IsUnavailable(err) {
		t.Errorf("40001 classified wrong")
	}
	for _, code := range []string{"57P01", "57P02", "57P03", "08006", "08001"} {
		if err := fmt.Errorf("x: %w", &pgconn.PgError{Code: code}); !IsUnavailable(err) || IsRetryable(err) {
			t.Errorf("%s classified wrong", code)
		}
	}
}

// TestUnavailableWhileDown: with the server killed, a query on an open
// handle and a new Open both fail as unavailable; after the restart the
// same handle works again without reopening.
func TestUnavailableWhileDown(t *testing.T) {
	ctx := context.Background()
	c, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, url, Options{Schema: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO t VALUES (?)", 1)
	if err == nil || !IsUnavailable(err) {
		t.Fatalf("insert while down: %v, unavailable %v", err, IsUnavailable(err))
	}
	err = db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (?)", 1)
		return err
	})
	if err == nil || !IsUnavailable(err) {
		t.Fatalf("transaction while down: %v, unavailable %v", err, IsUnavailable(err))
	}
	if _, err := Open(ctx, url, Options{}); err == nil || !IsUnavailable(err) {
		t.Fatalf("Open while down: %v, unavailable %v", err, IsUnavailable(err))
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = db.ExecContext(ctx, "INSERT INTO t VALUES (?)", 2)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// TestRefusedIsUnavailable: nothing listening at the URL's port.
func TestRefusedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Open(ctx, "postgres://pail@"+addr+"/x?sslmode=disable", Options{})
	if err == nil || !IsUnavailable(err) || IsRetryable(err) {
		t.Fatalf("Open of a closed port: %v", err)
	}
}
