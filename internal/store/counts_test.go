package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// scanCounts counts every mailbox's figures from its rows, as MailboxStatus
// did before migration 12, and returns the kept figures beside them.
func scanCounts(t *testing.T, s *Store) (scanned, kept map[int64]MailboxCounts) {
	t.Helper()
	scanned, kept = map[int64]MailboxCounts{}, map[int64]MailboxCounts{}
	rows, err := s.db.Query(`SELECT b.id, b.n_messages, b.n_unseen, b.n_deleted, b.n_recent, b.total_size,
		(SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id),
		(SELECT coalesce(sum(CASE WHEN instr(' ' || flags || ' ', ' \Seen ') = 0 THEN 1 ELSE 0 END), 0) FROM messages m WHERE m.mailbox_id = b.id),
		(SELECT coalesce(sum(CASE WHEN instr(' ' || flags || ' ', ' \Deleted ') > 0 THEN 1 ELSE 0 END), 0) FROM messages m WHERE m.mailbox_id = b.id),
		(SELECT coalesce(sum(recent), 0) FROM messages m WHERE m.mailbox_id = b.id),
		(SELECT coalesce(sum(size), 0) FROM messages m WHERE m.mailbox_id = b.id)
		FROM mailboxes b`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var k, c MailboxCounts
		if err := rows.Scan(&id, &k.Messages, &k.Unseen, &k.Deleted, &k.Recent, &k.Size, &c.Messages, &c.Unseen, &c.Deleted, &c.Recent, &c.Size); err != nil {
			t.Fatal(err)
		}
		scanned[id], kept[id] = c, k
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return scanned, kept
}

// checkCounts fails unless every mailbox's kept figures, and what
// MailboxStatus returns, equal a COUNT(*) scan of its rows.
func checkCounts(t *testing.T, s *Store, step string) {
	t.Helper()
	scanned, kept := scanCounts(t, s)
	for id, c := range scanned {
		if kept[id] != c {
			t.Fatalf("after %s: mailbox %d keeps %+v, its rows count %+v", step, id, kept[id], c)
		}
		got, err := s.MailboxStatus(context.Background(), id)
		if err != nil || got != c {
			t.Fatalf("after %s: MailboxStatus(%d) = %+v, %v; rows count %+v", step, id, got, err, c)
		}
	}
}

// TestMailboxCountsExact: a random mix of every operation that changes a
// mailbox's messages (DeliverBody, DeliverBodies into several mailboxes, COPY,
// MOVE, STORE of \Seen and \Deleted, the claim of the recent marks,
// EXPUNGE, RENAME, RENAME of INBOX, DELETE of a mailbox and of an account)
// leaves every mailbox's kept figures equal to a COUNT(*) scan of its rows
// at each step.
func TestMailboxCountsExact(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		rng := rand.New(rand.NewPCG(17, 12))
		var accounts []int64
		for _, addr := range []string{"jill@hill.test", "jack@hill.test"} {
			a, err := s.AddAccount(ctx, addr, "h", false)
			if err != nil {
				t.Fatal(err)
			}
			accounts = append(accounts, a.ID)
		}
		flagSets := [][]string{nil, {`\Seen`}, {`\Deleted`}, {`\Seen`, `\Deleted`}, {`\Flagged`}, {`\Seen`, `\Answered`}}
		made := 0
		// mailboxes returns the account's mailboxes (INBOX among them).
		mailboxes := func(acct int64) []Mailbox {
			mbs, err := s.Mailboxes(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			return mbs
		}
		uidsOf := func(mb Mailbox) []uint32 {
			msgs, err := s.Messages(ctx, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			var uids []uint32
			for _, m := range msgs {
				if rng.IntN(3) == 0 {
					uids = append(uids, m.UID)
				}
			}
			return uids
		}
		body := func() string {
			return fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", made, strings.Repeat("x", rng.IntN(300)))
		}
		for step := range 400 {
			acct := accounts[rng.IntN(len(accounts))]
			mbs := mailboxes(acct)
			mb := mbs[rng.IntN(len(mbs))]
			other := mbs[rng.IntN(len(mbs))]
			var op string
			var err error
			switch k := rng.IntN(12); k {
			case 0, 1:
				op = "deliver"
				made++
				_, err = s.DeliverBody(ctx, spool(t, s, body()), []Delivery{{AccountID: acct, Mailbox: mb.Name, Flags: flagSets[rng.IntN(len(flagSets))]}})
			case 2:
				op = "deliver batch"
				var bs []BodyBatch
				for range 1 + rng.IntN(4) {
					made++
					bs = append(bs, BodyBatch{Body: spool(t, s, body()), Deliveries: []Delivery{
						{AccountID: acct, Mailbox: mb.Name, Flags: flagSets[rng.IntN(len(flagSets))]},
						{AccountID: acct, Mailbox: other.Name},
						{AccountID: accounts[0]}}})
				}
				_, err = s.DeliverBodies(ctx, bs)
			case 3:
				op = "copy"
				if uids := uidsOf(mb); len(uids) > 0 {
					_, err = s.Copy(ctx, mb.ID, uids, other.ID)
				}
			case 4:
				op = "move"
				if uids := uidsOf(mb); len(uids) > 0 && mb.ID != other.ID {
					_, err = s.Move(ctx, mb.ID, uids, other.ID)
				}
			case 5, 6:
				op = "store"
				if uids := uidsOf(mb); len(uids) > 0 {
					_, _, err = s.SetFlags(ctx, mb.ID, uids, []FlagOp{FlagsAdd, FlagsRemove, FlagsReplace}[rng.IntN(3)], flagSets[rng.IntN(len(flagSets))], 0)
				}
			case 7:
				op = "claim recent"
				_, err = s.ClaimRecent(ctx, mb.ID)
			case 8:
				op = "expunge"
				msgs, _ := s.Messages(ctx, mb.ID)
				var ids []int64
				for _, m := range msgs {
					if rng.IntN(2) == 0 {
						ids = append(ids, m.ID)
					}
				}
				err = s.Expunge(ctx, mb.ID, ids)
			case 9:
				op = "create"
				_, err = s.CreateMailboxPath(ctx, acct, fmt.Sprintf("F%d/G%d", rng.IntN(4), step), "")
			case 10:
				op = "rename " + mb.Name
				err = s.RenameMailbox(ctx, acct, mb.Name, fmt.Sprintf("R%d", step))
			case 11:
				op = "delete " + mb.Name
				if mb.Name != Inbox {
					err = s.DeleteMailbox(ctx, acct, mb.Name)
				}
			}
			if err != nil {
				t.Fatalf("step %d %s: %v", step, op, err)
			}
			checkCounts(t, s, fmt.Sprintf("step %d %s", step, op))
		}
		total := 0
		scanned, _ := scanCounts(t, s)
		for _, c := range scanned {
			total += int(c.Messages)
		}
		if total < 50 {
			t.Fatalf("the mix left only %d messages: it tests little", total)
		}
		if err := s.DeleteAccount(ctx, "jack@hill.test"); err != nil {
			t.Fatal(err)
		}
		checkCounts(t, s, "delete account")
	})
}

// preCountsSchema turns a closed store into one of a pail from before
// migration 12 (countsMigration): its triggers and columns go.
func preCountsSchema(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dir+"/pail.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP INDEX messages_state", "DROP INDEX messages_recent", "DROP INDEX messages_deleted", "DROP INDEX messages_changes", "DROP INDEX expunged_changes", "DROP TRIGGER messages_count_insert", "DROP TRIGGER messages_count_delete", "DROP TRIGGER messages_count_move",
		"DROP TRIGGER messages_count_change", "ALTER TABLE mailboxes DROP COLUMN n_messages", "ALTER TABLE mailboxes DROP COLUMN n_unseen",
		"ALTER TABLE mailboxes DROP COLUMN n_deleted", "ALTER TABLE mailboxes DROP COLUMN n_recent", "ALTER TABLE mailboxes DROP COLUMN total_size",
		"PRAGMA user_version = 11"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}

// TestCountsMigrationFills: a store from before migration 12 gets each
// mailbox's figures counted from its rows by the migration.
func TestCountsMigrationFills(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	if _, err := s.CreateMailboxPath(ctx, a.ID, "Work", ""); err != nil {
		t.Fatal(err)
	}
	for i, flags := range [][]string{nil, {`\Seen`}, {`\Deleted`}, {`\Seen`, `\Deleted`}, nil} {
		box := Inbox
		if i%2 == 1 {
			box = "Work"
		}
		if _, err := s.DeliverBody(ctx, spool(t, s, fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), []Delivery{{AccountID: a.ID, Mailbox: box, Flags: flags}}); err != nil {
			t.Fatal(err)
		}
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
	if _, err := s.ClaimRecent(ctx, inbox.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	preCountsSchema(t, dir)
	s = openTest(t, dir)
	scanned, _ := scanCounts(t, s)
	if c := scanned[inbox.ID]; c.Messages != 3 || c.Unseen != 3 || c.Deleted != 1 || c.Recent != 0 {
		t.Fatalf("INBOX rows: %+v", c)
	}
	checkCounts(t, s, "migration")
}

// TestMailboxStatusCostFlat: a mailbox's figures cost the same in a
// folder of 2 000 and of 20 000 messages (the webmail's folder list and
// IMAP STATUS; before migration 12 each one counted the folder's rows).
func TestMailboxStatusCostFlat(t *testing.T) {
	ctx := context.Background()
	cost := map[int]time.Duration{}
	for _, n := range []int{2000, 20000} {
		s := openTest(t, t.TempDir())
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		mb := fillMailbox(t, s, a.ID, n)
		const runs = 30
		best := time.Hour
		for range runs {
			start := time.Now()
			c, err := s.MailboxStatus(ctx, mb)
			if err != nil || c.Messages != uint32(n) {
				t.Fatal(err, c)
			}
			best = min(best, time.Since(start))
		}
		cost[n] = best
	}
	t.Logf("MailboxStatus: %v at 2 000 messages, %v at 20 000", cost[2000], cost[20000])
	if cost[20000] > 3*cost[2000] {
		t.Errorf("MailboxStatus grows with the folder: %v at 2 000, %v at 20 000", cost[2000], cost[20000])
	}
}

// BenchmarkWebmailFolderPage measures what the store does for the
// webmail's first page of a folder of 100 000 messages (issue 17: 0.335 s
// by bench/scale.sh): the figures of each of the account's folders (the
// folder list) and the page of 50 newest.
func BenchmarkWebmailFolderPage(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	mb := fillMailbox(b, s, a.ID, 100000)
	b.ResetTimer()
	for range b.N {
		boxes, err := s.Mailboxes(ctx, a.ID)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range boxes {
			if _, err := s.MailboxStatus(ctx, f.ID); err != nil {
				b.Fatal(err)
			}
		}
		if page, err := s.ListMessages(ctx, mb, ListQuery{Limit: 51}); err != nil || len(page) != 51 {
			b.Fatal(err, len(page))
		}
	}
}
