package store

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// preObjectIDSchema takes a store's database back to before migration 11
// (no MAILBOXID, EMAILID, THREADID or save date, nor the figures of
// migration 12), as a data directory of an older pail has it.
func preObjectIDSchema(t *testing.T, dir string) {
	t.Helper()
	preCountsSchema(t, dir)
	db, err := sql.Open("sqlite", "file:"+dir+"/pail.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP INDEX messages_unthreaded", "DROP INDEX messages_saved", "ALTER TABLE messages DROP COLUMN saved", "ALTER TABLE messages DROP COLUMN thread_id",
		"ALTER TABLE messages DROP COLUMN email_id", "ALTER TABLE mailboxes DROP COLUMN objectid", "PRAGMA user_version = 10"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}

// validObjectID is RFC 8474 §3's objectid.
var validObjectID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// TestObjectIDMigration: a store from before migration 11 keeps its mail
// and flags; every mailbox gets a MAILBOXID and every message an
// EMAILID, all distinct; old mail has no save date (NIL) and gets its
// THREADID from the background fill, found along its partial index;
// mail delivered after the upgrade has all of them.
func TestObjectIDMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	for _, m := range []string{"Message-ID: <r@x>\r\n\r\nroot\r\n", "Message-ID: <a@x>\r\nIn-Reply-To: <r@x>\r\n\r\nreply\r\n", "Message-ID: <o@x>\r\n\r\nother\r\n"} {
		if _, err := s.DeliverBody(ctx, spool(t, s, m), []Delivery{{AccountID: a.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateMailboxPath(ctx, a.ID, "Work/2026", ""); err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
	if _, _, err := s.SetFlags(ctx, inbox.ID, []uint32{2}, FlagsAdd, []string{`\Seen`}, 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	preObjectIDSchema(t, dir)

	s = openTest(t, dir)
	<-s.fillDone
	mbs, err := s.Mailboxes(ctx, a.ID)
	if err != nil || len(mbs) < 3 {
		t.Fatal(mbs, err)
	}
	seen := map[string]bool{}
	for _, mb := range mbs {
		if !validObjectID.MatchString(mb.ObjectID) || seen[mb.ObjectID] {
			t.Errorf("mailbox %s: MAILBOXID %q", mb.Name, mb.ObjectID)
		}
		seen[mb.ObjectID] = true
	}
	msgs, err := s.Messages(ctx, inbox.ID)
	if err != nil || len(msgs) != 3 {
		t.Fatal(len(msgs), err)
	}
	if !slices.Equal(msgs[1].Flags, []string{`\Seen`}) {
		t.Errorf("flags after upgrade: %q", msgs[1].Flags)
	}
	for _, m := range msgs {
		if !validObjectID.MatchString(m.EmailID) || seen[m.EmailID] {
			t.Errorf("uid %d: EMAILID %q", m.UID, m.EmailID)
		}
		seen[m.EmailID] = true
		if !m.SaveDate.IsZero() || !validObjectID.MatchString(m.ThreadID) {
			t.Errorf("uid %d from before: save date %v, THREADID %q", m.UID, m.SaveDate, m.ThreadID)
		}
	}
	if msgs[0].ThreadID != msgs[1].ThreadID || msgs[0].ThreadID == msgs[2].ThreadID {
		t.Errorf("filled THREADIDs: %q %q %q", msgs[0].ThreadID, msgs[1].ThreadID, msgs[2].ThreadID)
	}
	if plan := queryPlan(t, s.db.DB, threadFillQuery, []any{0, fillBatch}); !strings.Contains(plan, "messages_unthreaded") {
		t.Errorf("thread fill plan:\n%s", plan)
	}
	// A reply delivered after the upgrade joins the filled thread.
	before := time.Now().Add(-time.Second)
	if _, err := s.DeliverBody(ctx, spool(t, s, "Message-ID: <b@x>\r\nReferences: <r@x> <a@x>\r\n\r\nreply 2\r\n"), []Delivery{{AccountID: a.ID}}); err != nil {
		t.Fatal(err)
	}
	root := msgs[0].ThreadID
	msgs, _ = s.Messages(ctx, inbox.ID)
	m := msgs[len(msgs)-1]
	if m.SaveDate.Before(before) || !validObjectID.MatchString(m.EmailID) || m.ThreadID != root {
		t.Errorf("new mail: %+v, thread %q", m, root)
	}
}

// TestMailboxIDStable: RENAME keeps a MAILBOXID, also of the children;
// DELETE and CREATE of the same name gives a new one; renaming INBOX
// leaves INBOX its own and gives the new mailbox another (RFC 8474 §4).
func TestMailboxIDStable(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		mb, err := s.CreateMailboxPath(ctx, a.ID, "A/B", "")
		if err != nil || !validObjectID.MatchString(mb.ObjectID) {
			t.Fatal(mb, err)
		}
		parent, _ := s.MailboxByName(ctx, a.ID, "A")
		if err := s.RenameMailbox(ctx, a.ID, "A", "C"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.MailboxByName(ctx, a.ID, "C/B")
		gotParent, _ := s.MailboxByName(ctx, a.ID, "C")
		if got.ObjectID != mb.ObjectID || gotParent.ObjectID != parent.ObjectID {
			t.Errorf("after RENAME: %q %q, want %q %q", got.ObjectID, gotParent.ObjectID, mb.ObjectID, parent.ObjectID)
		}
		if err := s.DeleteMailbox(ctx, a.ID, "C/B"); err != nil {
			t.Fatal(err)
		}
		again, err := s.CreateMailboxPath(ctx, a.ID, "C/B", "")
		if err != nil || again.ObjectID == mb.ObjectID || !validObjectID.MatchString(again.ObjectID) {
			t.Errorf("re-created: %q (was %q) %v", again.ObjectID, mb.ObjectID, err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		if err := s.RenameMailbox(ctx, a.ID, Inbox, "Old"); err != nil {
			t.Fatal(err)
		}
		inbox2, _ := s.MailboxByName(ctx, a.ID, Inbox)
		old, _ := s.MailboxByName(ctx, a.ID, "Old")
		if inbox2.ObjectID != inbox.ObjectID || old.ObjectID == inbox.ObjectID || old.ObjectID == "" {
			t.Errorf("INBOX renamed: INBOX %q (was %q), Old %q", inbox2.ObjectID, inbox.ObjectID, old.ObjectID)
		}
	})
}

// TestEmailAndThreadIDs: one delivery's copies in one account share an
// EMAILID, another account's copy has its own; COPY and MOVE keep EMAILID
// and THREADID and set the save date; THREADID follows References and
// In-Reply-To to the thread's root, and differs between accounts.
func TestEmailAndThreadIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		b, _ := s.AddAccount(ctx, "jack@hill.test", "h", false)
		work, _ := s.CreateMailboxPath(ctx, a.ID, "Work", "")
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		binbox, _ := s.MailboxByName(ctx, b.ID, Inbox)
		deliver := func(msg string, ds ...Delivery) {
			t.Helper()
			if _, err := s.DeliverBody(ctx, spool(t, s, msg), ds); err != nil {
				t.Fatal(err)
			}
		}
		last := func(mailboxID int64) Message {
			t.Helper()
			ms, err := s.Messages(ctx, mailboxID)
			if err != nil || len(ms) == 0 {
				t.Fatal(err)
			}
			return ms[len(ms)-1]
		}
		root := "Message-ID: <root@x>\r\nSubject: r\r\n\r\nroot\r\n"
		deliver(root, Delivery{AccountID: a.ID}, Delivery{AccountID: a.ID, Mailbox: "Work"}, Delivery{AccountID: b.ID})
		ra, rw, rb := last(inbox.ID), last(work.ID), last(binbox.ID)
		if ra.EmailID != rw.EmailID || ra.EmailID == rb.EmailID {
			t.Errorf("EMAILIDs: inbox %q work %q other account %q", ra.EmailID, rw.EmailID, rb.EmailID)
		}
		if ra.ThreadID != rw.ThreadID || ra.ThreadID == rb.ThreadID || !validObjectID.MatchString(ra.ThreadID) {
			t.Errorf("THREADIDs: inbox %q work %q other account %q", ra.ThreadID, rw.ThreadID, rb.ThreadID)
		}
		deliver("Message-ID: <a@x>\r\nIn-Reply-To: <root@x>\r\n\r\nreply\r\n", Delivery{AccountID: a.ID})
		reply := last(inbox.ID)
		deliver("Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <root@x> <a@x>\r\n\r\nreply 2\r\n", Delivery{AccountID: a.ID})
		reply2 := last(inbox.ID)
		deliver("Message-ID: <other@x>\r\n\r\nother\r\n", Delivery{AccountID: a.ID})
		other := last(inbox.ID)
		deliver("Subject: no id\r\n\r\nnone\r\n", Delivery{AccountID: a.ID})
		noID := last(inbox.ID)
		if reply.ThreadID != ra.ThreadID || reply2.ThreadID != ra.ThreadID {
			t.Errorf("replies: %q %q, root %q", reply.ThreadID, reply2.ThreadID, ra.ThreadID)
		}
		if other.ThreadID == ra.ThreadID || noID.ThreadID == ra.ThreadID || !validObjectID.MatchString(noID.ThreadID) {
			t.Errorf("unrelated: %q %q, root %q", other.ThreadID, noID.ThreadID, ra.ThreadID)
		}
		if reply.EmailID == ra.EmailID || reply.EmailID == reply2.EmailID {
			t.Errorf("distinct messages share an EMAILID: %q %q %q", ra.EmailID, reply.EmailID, reply2.EmailID)
		}

		// The save date of a copy is the time of the copy, and a move's the
		// time of the move; the ids stay.
		if _, err := s.db.Exec("UPDATE messages SET saved = 1000 WHERE mailbox_id = ?", inbox.ID); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Add(-time.Second)
		if _, err := s.Copy(ctx, inbox.ID, []uint32{reply.UID}, work.ID); err != nil {
			t.Fatal(err)
		}
		c := last(work.ID)
		if c.EmailID != reply.EmailID || c.ThreadID != reply.ThreadID || c.SaveDate.Before(before) {
			t.Errorf("copy: %+v of %+v", c, reply)
		}
		if o := last(inbox.ID); o.SaveDate.Unix() != 1000 {
			t.Errorf("the original's save date changed: %v", o.SaveDate)
		}
		if _, err := s.Move(ctx, inbox.ID, []uint32{reply2.UID}, work.ID); err != nil {
			t.Fatal(err)
		}
		mv := last(work.ID)
		if mv.EmailID != reply2.EmailID || mv.ThreadID != reply2.ThreadID || mv.SaveDate.Before(before) {
			t.Errorf("move: %+v of %+v", mv, reply2)
		}

		// SEARCH's keys in SQL: EMAILID, THREADID, the save date's day (an
		// old message without one by its internal date) and WITHIN.
		search := func(mailboxID int64, q Query) []uint32 {
			t.Helper()
			uids, err := s.SearchUIDs(ctx, mailboxID, q)
			if err != nil {
				t.Fatal(err)
			}
			return uids
		}
		if got := search(work.ID, Query{EmailID: reply.EmailID}); !slices.Equal(got, []uint32{c.UID}) {
			t.Errorf("EMAILID: %v", got)
		}
		if got := search(work.ID, Query{ThreadID: ra.ThreadID}); !slices.Equal(got, []uint32{rw.UID, c.UID, mv.UID}) {
			t.Errorf("THREADID: %v", got)
		}
		today := time.Now()
		if got := search(work.ID, Query{SavedSince: today}); !slices.Equal(got, []uint32{rw.UID, c.UID, mv.UID}) {
			t.Errorf("SAVEDSINCE today: %v", got)
		}
		if got := search(inbox.ID, Query{SavedBefore: today}); len(got) != 4 {
			t.Errorf("SAVEDBEFORE today (saved in 1970): %v", got)
		}
		if _, err := s.db.Exec("UPDATE messages SET saved = NULL, internal_date = 86400 * 3 WHERE id = ?", other.ID); err != nil {
			t.Fatal(err)
		}
		day3 := time.Unix(86400*3, 0).In(time.Local)
		if got := search(inbox.ID, Query{SavedSince: day3, SavedBefore: day3.AddDate(0, 0, 1)}); !slices.Equal(got, []uint32{other.UID}) {
			t.Errorf("SAVEDON by internal date: %v", got)
		}
		if got := search(inbox.ID, Query{Until: time.Unix(86400*3+1, 0)}); !slices.Equal(got, []uint32{other.UID}) {
			t.Errorf("OLDER: %v", got)
		}
		if got := search(inbox.ID, Query{From: time.Unix(86400*3+1, 0)}); slices.Contains(got, other.UID) || len(got) != 3 {
			t.Errorf("YOUNGER: %v", got)
		}
		if be.pg() {
			return // the plan below is SQLite's
		}
		if plan := queryPlan(t, s.db.DB, "SELECT m.uid FROM messages m WHERE m.mailbox_id = ? AND coalesce(m.saved, m.internal_date) >= ?", []any{1, 2}); !strings.Contains(plan, "messages_saved") {
			t.Errorf("save date search plan:\n%s", plan)
		}
	})
}

// TestKeptPreviews: the preview kept at delivery is read in SQL; a row
// without its summary yet (before the fill reaches it) is computed from
// the file, or absent when lazy (RFC 8970 §3.2).
func TestKeptPreviews(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		ds := deliverSummaries(t, s, a.ID, 3)
		mb := ds[0].MailboxID
		got, err := s.KeptPreviews(ctx, mb, []uint32{1, 3, 99}, false)
		if err != nil || len(got) != 2 || got[1] != "hello number 0" || got[3] != "hello number 2" {
			t.Fatalf("%v %v", got, err)
		}
		if be.pg() {
			return // the rest reads rows from before summaries, which a PostgreSQL store never has
		}
		if _, err := s.db.Exec("UPDATE messages SET summary = NULL WHERE uid = 2 AND mailbox_id = ?", mb); err != nil {
			t.Fatal(err)
		}
		lazy, _ := s.KeptPreviews(ctx, mb, []uint32{1, 2, 3}, true)
		if _, has := lazy[2]; has || len(lazy) != 2 {
			t.Errorf("lazy: %v", lazy)
		}
		if got, _ := s.KeptPreviews(ctx, mb, []uint32{2}, false); got[2] != "hello number 1" {
			t.Errorf("from the file: %v", got)
		}
	})
}
