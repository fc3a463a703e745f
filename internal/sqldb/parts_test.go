package sqldb

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestMigratePartConcurrent: nodes starting together each migrate one
// part; every one succeeds, each migration runs once, and a part of a
// newer pail is refused.
func TestMigratePartConcurrent(t *testing.T) {
	ctx := context.Background()
	for dialect, target := range backends(t) {
		t.Run(dialect.String(), func(t *testing.T) {
			migrations := []string{
				"CREATE TABLE runs (n INTEGER NOT NULL)",
				"INSERT INTO runs (n) VALUES (2)",
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				db, err := Open(ctx, target, Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				wg.Go(func() { errs <- db.MigratePart(ctx, "test", migrations) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("MigratePart: %v", err)
				}
			}
			db, err := Open(ctx, target, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var rows, version int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM runs").Scan(&rows); err != nil || rows != 1 {
				t.Fatalf("the second migration ran %d times (%v)", rows, err)
			}
			if err := db.QueryRowContext(ctx, "SELECT version FROM schema_parts WHERE part = 'test'").Scan(&version); err != nil || version != 2 {
				t.Fatalf("version %d (%v)", version, err)
			}
			// Another part has its own version.
			if err := db.MigratePart(ctx, "other", []string{"CREATE TABLE other (x INTEGER)"}); err != nil {
				t.Fatal(err)
			}
			if err := db.MigratePart(ctx, "test", migrations[:1]); !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("an older pail on a newer part: %v", err)
			}
		})
	}
}
