package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"

	"pail/internal/message"
)

// summaryMsg is a message for the summary tests; i makes each one
// different.
func summaryMsg(i int) string {
	return fmt.Sprintf("From: Jack %d <jack@town.test>\r\nTo: Team: jill@hill.test;\r\nSubject: =?UTF-8?Q?caf=C3=A9_%d?=\r\nDate: Mon, %d Dec 2026 23:30:00 -0500\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello number %d\r\n--b\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\nxx\r\n--b--\r\n", i, i, 1+i%28, i)
}

func deliverSummaries(t *testing.T, s *Store, accountID int64, n int) []Delivered {
	t.Helper()
	var out []Delivered
	for i := range n {
		ds, err := s.DeliverBody(context.Background(), spool(t, s, summaryMsg(i)), []Delivery{{AccountID: accountID}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ds[0])
	}
	return out
}

// TestSummaryKeptAtDelivery: DeliverBody keeps the summary computed from the
// bytes it stores (equal to one read from the file), with the decoded
// header fields, and a copy keeps the original's.
func TestSummaryKeptAtDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		ds := deliverSummaries(t, s, a.ID, 3)
		var nulls int
		if err := s.db.QueryRow("SELECT count(*) FROM messages WHERE summary IS NULL OR structure IS NULL OR sent_day IS NULL").Scan(&nulls); err != nil || nulls != 0 {
			t.Fatalf("%d rows without a summary (%v)", nulls, err)
		}
		msgs, _ := s.MessagesByUID(ctx, ds[1].MailboxID, []uint32{ds[1].UID})
		info, err := s.MessageInfo(ctx, msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		data, err := storedBytes(t, s, msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		fromFile := message.ReadInfo(bytes.NewReader(data))
		assertSameInfo(t, info, fromFile)
		if info.Subject != "café 1" || !info.HasAttachment || info.Preview != "hello number 1" || len(info.Envelope.To) != 3 || !info.Envelope.To[0].IsGroupStart() {
			t.Errorf("kept: %+v", info)
		}
		arch, _ := s.MailboxByName(ctx, a.ID, "Archive")
		res, err := s.Copy(ctx, ds[1].MailboxID, []uint32{ds[1].UID}, arch.ID)
		if err != nil {
			t.Fatal(err)
		}
		copies, err := s.MessageInfos(ctx, arch.ID, res.DestUIDs, true)
		if err != nil || copies[res.DestUIDs[0]] == nil {
			t.Fatal(err, copies)
		}
		var summary sql.NullString
		s.db.QueryRow("SELECT summary FROM messages WHERE mailbox_id = ?", arch.ID).Scan(&summary)
		if !summary.Valid {
			t.Error("the copy has no summary of its own")
		}
		assertSameInfo(t, copies[res.DestUIDs[0]], fromFile)
	})
}

// assertSameInfo compares two Infos as stored (dates by instant and offset).
func assertSameInfo(t *testing.T, got, want *message.Info) {
	t.Helper()
	g, err := keep(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := keep(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("summary differs:\n got %+v\nwant %+v", g, w)
	}
}

// oldSchema takes a store's database back to before migration 6 (no
// summary columns, and so without the Sieve tables of migration 7 either),
// as a data directory of an older pail has it.
func oldSchema(t *testing.T, dir string) {
	t.Helper()
	preTextSchema(t, dir)
	db, err := sql.Open("sqlite", "file:"+dir+"/pail.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Everything after migration 5 goes: the Sieve tables (7) and
	// lone_subscriptions (8) too.
	for _, q := range []string{"DROP TABLE lone_subscriptions", "DROP TABLE sieve_scripts", "DROP TABLE sieve_vacation", "DROP TABLE sieve_duplicates",
		"DROP INDEX messages_arrival", "DROP INDEX messages_unkept", "ALTER TABLE messages DROP COLUMN summary", "ALTER TABLE messages DROP COLUMN structure",
		"ALTER TABLE messages DROP COLUMN sent_day", "PRAGMA user_version = 5"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}

// TestSummaryMigrationFills: mail stored by a pail without summaries gets
// them after the migration, by the fill that Open starts; a fill cut short
// by Close is taken up by the next Open; until then readers compute the
// summary from the file.
func TestSummaryMigrationFills(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	const n = 3*fillBatch + 5
	ds := deliverSummaries(t, s, a.ID, n)
	all := make([]uint32, 0, n)
	for _, d := range ds {
		all = append(all, d.UID)
	}
	want, err := s.MessageInfos(ctx, ds[0].MailboxID, all, true)
	if err != nil || len(want) != n {
		t.Fatal(err, len(want))
	}
	s.Close()
	oldSchema(t, dir)

	// The first Open after the upgrade is closed at once: the fill stops
	// wherever it was.
	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir)
	<-s.fillDone
	var nulls int
	if err := s.db.QueryRow("SELECT count(*) FROM messages WHERE summary IS NULL OR structure IS NULL OR sent_day IS NULL").Scan(&nulls); err != nil || nulls != 0 {
		t.Fatalf("%d rows left without a summary (%v)", nulls, err)
	}
	// The fill finds its rows through the partial index, never by a
	// scan of every message (which every Open would pay for).
	if plan := queryPlan(t, s.db.DB, fillQuery, []any{0, fillBatch}); !strings.Contains(plan, "messages_unkept") {
		t.Errorf("fill query plan:\n%s", plan)
	}
	got, err := s.MessageInfos(ctx, ds[0].MailboxID, all, true)
	if err != nil || len(got) != n {
		t.Fatal(err, len(got))
	}
	for uid, w := range want {
		assertSameInfo(t, got[uid], w)
	}

	// A row without a summary (not yet filled) is read from its file by
	// every reader.
	if _, err := s.db.Exec("UPDATE messages SET summary = NULL, structure = NULL, sent_day = NULL"); err != nil {
		t.Fatal(err)
	}
	got, err = s.MessageInfos(ctx, ds[0].MailboxID, all, true)
	if err != nil || len(got) != n {
		t.Fatal(err, len(got))
	}
	assertSameInfo(t, got[ds[7].UID], want[ds[7].UID])
	page, err := s.ListMessages(ctx, ds[0].MailboxID, ListQuery{Limit: 2})
	if err != nil || len(page) != 2 || page[0].Info == nil || page[0].Info.Subject != want[page[0].UID].Subject {
		t.Fatalf("list without summaries: %+v %v", page, err)
	}
	// summaryMsg(i) is dated day 1+i%28 in -0500: message 3 is sent on
	// 4 Dec, which is 5 Dec in UTC.
	uids, err := s.SearchUIDs(ctx, ds[0].MailboxID, Query{SentSince: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), SentBefore: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)})
	var sentOn4 []uint32
	for i := 3; i < n; i += 28 {
		sentOn4 = append(sentOn4, ds[i].UID)
	}
	if err != nil || !reflect.DeepEqual(uids, sentOn4) {
		t.Errorf("SENTON from the files: %v %v", uids, err)
	}
}

// countFlagStatements counts the statements SQLite prepares that read or
// write messages.flags, through an authorizer on the store's one
// connection.
func countFlagStatements(t *testing.T, s *Store) (reads, writes *int) {
	t.Helper()
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reads, writes = new(int), new(int)
	err = conn.Raw(func(dc any) error {
		return dc.(sqlite.AuthorizerRegisterer).RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, table, column, _, trigger string) sqlite.AuthorizerReturnCode {
			// The counting triggers of migration 12 read the flags
			// inside the statement that changes them: not a statement
			// of their own.
			if table == "messages" && column == "flags" && trigger == "" {
				switch action {
				case sqlite.AuthRead:
					*reads++
				case sqlite.AuthUpdate:
					*writes++
				}
			}
			return sqlite.AuthorizerOK
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return reads, writes
}

// TestSetFlagsIsSetBased: STORE on a range of many messages costs one
// query that reads the flags and one statement that writes them, not a
// pair per message; the result is the same as message by message.
func TestSetFlagsIsSetBased(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	const n = 120
	ds := deliverSummaries(t, s, a.ID, n)
	mb := ds[0].MailboxID
	var uids []uint32
	for _, d := range ds {
		uids = append(uids, d.UID)
	}
	// Half of them are already seen.
	if _, _, err := s.SetFlags(ctx, mb, uids[:n/2], FlagsAdd, []string{`\seen`}, 0); err != nil {
		t.Fatal(err)
	}
	before, _ := s.MailboxModSeq(ctx, mb)
	reads, writes := countFlagStatements(t, s)
	states, failed, err := s.SetFlags(ctx, mb, uids, FlagsAdd, []string{`\Seen`, "$Work"}, 0)
	if err != nil || len(failed) != 0 || len(states) != n {
		t.Fatal(err, failed, len(states))
	}
	if *reads > 1 || *writes > 1 {
		t.Errorf("STORE of %d messages: %d statements read flags, %d wrote them; want 1 and 1", n, *reads, *writes)
	}
	_, all, _ := s.MessageStates(ctx, mb)
	for i, st := range all {
		if !reflect.DeepEqual(st.Flags, []string{"$Work", `\Seen`}) || st.ModSeq != before+1 || states[i].UID != st.UID || !reflect.DeepEqual(states[i].Flags, st.Flags) {
			t.Fatalf("message %d: %+v (returned %+v)", st.UID, st, states[i])
		}
	}
	// UNCHANGEDSINCE and a sparse set: the changed are reported failed,
	// the others changed, still in one statement each.
	*reads, *writes = 0, 0
	sparse := []uint32{uids[0], uids[n/2], uids[n-1], 99999}
	states, failed, err = s.SetFlags(ctx, mb, sparse, FlagsRemove, []string{"$work"}, before)
	if err != nil || len(states) != 3 || !reflect.DeepEqual(failed, sparse[:3]) || *writes != 0 {
		t.Errorf("UNCHANGEDSINCE: %+v %v %v, %d writes", states, failed, err, *writes)
	}
	states, _, err = s.SetFlags(ctx, mb, sparse, FlagsReplace, []string{`\Flagged`}, 0)
	if err != nil || len(states) != 3 || *reads > 2 || *writes > 1 {
		t.Errorf("sparse replace: %v, %d reads %d writes", err, *reads, *writes)
	}
	for _, st := range states {
		if !reflect.DeepEqual(st.Flags, []string{`\Flagged`}) || st.ModSeq != before+2 {
			t.Errorf("replaced: %+v", st)
		}
	}
}
