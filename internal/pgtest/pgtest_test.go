package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestClusterKeepsCommittedDataAcrossACrash: a private cluster starts,
// two databases from NewDatabase are separate, and a committed row
// survives an immediate (crash) stop and a restart.
func TestClusterKeepsCommittedDataAcrossACrash(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two NewDatabase calls gave the same URL %s", a)
	}
	exec := func(url, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(a, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')")
	if err := c.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after crash and restart: %q, %v", v, err)
	}
	connB, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer connB.Close(ctx)
	if err := connB.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err == nil {
		t.Error("the second database sees the first one's table")
	}
}
