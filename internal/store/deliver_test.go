package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// storeFiles lists the regular files under the data directory's mail and
// spool directories.
func storeFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"mail", "spool"} {
		err := filepath.WalkDir(filepath.Join(s.dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// assertNoFiles fails if any message or spool file is left.
func assertNoFiles(t *testing.T, s *Store) {
	t.Helper()
	if s.db.pg() {
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM bodies").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d bodies left, %v", n, err)
		}
		return
	}
	if files := storeFiles(t, s); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// failInserts makes every message insert into the mailbox fail, with a
// trigger in the real database (SQLite's or PostgreSQL's); dropFailInserts
// removes it.
func failInserts(t *testing.T, s *Store, mailboxID int64) {
	t.Helper()
	q := fmt.Sprintf(`CREATE TRIGGER fail_%d BEFORE INSERT ON messages WHEN NEW.mailbox_id = %d
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`, mailboxID, mailboxID)
	if s.db.pg() {
		q = fmt.Sprintf(`CREATE FUNCTION fail_%d() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'injected failure'; END $$;
			CREATE TRIGGER fail_%d BEFORE INSERT ON messages FOR EACH ROW
			WHEN (NEW.mailbox_id = %d) EXECUTE FUNCTION fail_%d()`, mailboxID, mailboxID, mailboxID, mailboxID)
	}
	if _, err := s.db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func dropFailInserts(t *testing.T, s *Store, mailboxID int64) {
	t.Helper()
	q := fmt.Sprintf("DROP TRIGGER fail_%d", mailboxID)
	if s.db.pg() {
		q += " ON messages"
	}
	if _, err := s.db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

// TestDeliverAllOrNothing: an SQL error for one recipient stores the
// message for none, and forgets the dedupe records of the others too.
func TestDeliverAllOrNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		b, _ := s.AddAccount(ctx, "jill@hill.com", "h", false)
		jill, _ := s.MailboxByName(ctx, b.ID, "INBOX")
		failInserts(t, s, jill.ID)
		since := time.Now().Add(-time.Hour)
		ds := []Delivery{
			{AccountID: a.ID, DedupeKey: []byte("k-bob"), DedupeSince: since},
			{AccountID: b.ID, DedupeKey: []byte("k-jill"), DedupeSince: since},
		}
		if _, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), ds); err == nil {
			t.Fatal("DeliverBody succeeded though jill's insert failed")
		}
		bob, _ := s.MailboxByName(ctx, a.ID, "INBOX")
		if msgs, _ := s.Messages(ctx, bob.ID); len(msgs) != 0 {
			t.Errorf("bob got %d messages from a failed delivery", len(msgs))
		}
		assertNoFiles(t, s)
		// The client's retry, once the fault is gone, is stored for both: the
		// failed attempt left no dedupe record behind.
		dropFailInserts(t, s, jill.ID)
		res, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), ds)
		if err != nil || res[0].Duplicate || res[1].Duplicate {
			t.Fatalf("retry: %+v %v", res, err)
		}
	})
}

// TestMigrateDedupeRecords: a database from before digest keys opens, with
// its Message-ID records replaced by the digest table.
func TestMigrateDedupeRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "pail.db"))
	if err != nil {
		t.Fatal(err)
	}
	const before = 3 // schema version with seen_ids keyed on Message-ID
	for _, m := range migrations[:before] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		"PRAGMA user_version = " + strconv.Itoa(before),
		"INSERT INTO accounts (address, password, created) VALUES ('bob@hill.com', 'h', 0)",
		"INSERT INTO seen_ids (account_id, message_id, at) VALUES (1, '<x@evil.test>', 0)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := openTest(t, dir)
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'seen_ids'").Scan(&n); err != nil || n != 0 {
		t.Errorf("seen_ids still there (%d, %v)", n, err)
	}
	b, err := s.AddAccount(ctx, "jill@hill.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: b.ID, DedupeKey: []byte("k"), DedupeSince: time.Now().Add(-time.Hour)}})
	if err != nil || res[0].Duplicate {
		t.Fatalf("delivery after migration: %+v %v", res, err)
	}
}
