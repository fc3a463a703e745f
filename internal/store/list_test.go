package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pail/internal/message"
)

// fillMailbox adds n message rows to the account's INBOX in one
// transaction, with kept summaries and internal dates that repeat (so
// that the UID orders messages of the same second). The files are not
// written: the list reads rows only.
func fillMailbox(tb testing.TB, s *Store, accountID int64, n int) int64 {
	tb.Helper()
	k, err := keep(message.ReadInfo(strings.NewReader(summaryMsg(1))))
	if err != nil {
		tb.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mailboxID int64
	err = s.write(context.Background(), nil, func(tx *dbTx) error {
		for i := range n {
			var file any = fmt.Sprintf("f%d", i)
			if tx.pg() {
				if file, err = insertBody(tx, []byte("x")); err != nil {
					return err
				}
			}
			d, err := insertMessage(tx, accountID, Inbox, "", file, 100, base.Add(time.Duration(i/3)*time.Minute), nil, k)
			if err != nil {
				return err
			}
			mailboxID = d.MailboxID
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return mailboxID
}

// TestListMessagesKeyset: pages by keyset walk the whole folder newest
// first (internal date, then UID) in both directions without a gap or a
// repeat, and a page read after new mail arrived still starts where its
// key says; the query reads along the index, with no sort of the folder.
func TestListMessagesKeyset(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		const n = 103
		mb := fillMailbox(t, s, a.ID, n)
		all, _ := s.Messages(ctx, mb)
		slices.SortStableFunc(all, func(x, y Message) int {
			if c := y.InternalDate.Compare(x.InternalDate); c != 0 {
				return c
			}
			return int(y.UID) - int(x.UID)
		})
		var walked []uint32
		var pages [][]Listed
		q := ListQuery{Limit: 10}
		for {
			page, err := s.ListMessages(ctx, mb, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			pages = append(pages, page)
			for _, l := range page {
				walked = append(walked, l.UID)
				if l.Info == nil || l.Info.Subject != "café 1" {
					t.Fatalf("row without its summary: %+v", l)
				}
			}
			q = ListQuery{Older: page[len(page)-1].Key(), Limit: 10}
		}
		var want []uint32
		for _, m := range all {
			want = append(want, m.UID)
		}
		if !slices.Equal(walked, want) {
			t.Fatalf("walk older:\n got %v\nwant %v", walked, want)
		}
		// Back again, newer by newer, from the last page.
		for i := len(pages) - 1; i > 0; i-- {
			newer, err := s.ListMessages(ctx, mb, ListQuery{Newer: pages[i][0].Key(), Limit: 10})
			if err != nil || !slices.EqualFunc(newer, pages[i-1], func(a, b Listed) bool { return a.UID == b.UID }) {
				t.Fatalf("page %d newer: %v", i, err)
			}
		}
		// Offset pages (page numbers) agree.
		third, _ := s.ListMessages(ctx, mb, ListQuery{Offset: 20, Limit: 10})
		if !slices.EqualFunc(third, pages[2], func(a, b Listed) bool { return a.UID == b.UID }) {
			t.Error("offset page differs")
		}
		// New mail does not move a keyset page.
		fillMailbox(t, s, a.ID, 5)
		again, _ := s.ListMessages(ctx, mb, ListQuery{Older: pages[0][9].Key(), Limit: 10})
		if !slices.EqualFunc(again, pages[1], func(a, b Listed) bool { return a.UID == b.UID }) {
			t.Error("page 2 moved after new mail")
		}
		if be.pg() {
			return // the plans below are SQLite's
		}
		for _, lq := range []ListQuery{{Limit: 50}, {Older: ListKey{Date: 1, UID: 1}, Limit: 50}, {Newer: ListKey{Date: 1, UID: 1}, Limit: 50}} {
			query, args, _ := listSQL(&sqliteDialect, mb, lq)
			plan := queryPlan(t, s.db.DB, query, args)
			if !strings.Contains(plan, "messages_arrival") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%+v: plan does not read along messages_arrival:\n%s", lq, plan)
			}
		}
	})
}

func queryPlan(t testing.TB, db *sql.DB, query string, args []any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

// TestListFirstPageCostFlat: the first page of 50 costs the same in a
// folder of 2 000 and of 20 000 messages (the webmail's list page; before,
// the webmail read and sorted the whole folder for it).
func TestListFirstPageCostFlat(t *testing.T) {
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
			page, err := s.ListMessages(ctx, mb, ListQuery{Limit: 51})
			if err != nil || len(page) != 51 {
				t.Fatal(err, len(page))
			}
			best = min(best, time.Since(start))
		}
		cost[n] = best
	}
	t.Logf("first page: %v at 2 000 messages, %v at 20 000", cost[2000], cost[20000])
	if cost[20000] > 3*cost[2000] {
		t.Errorf("first page grows with the folder: %v at 2 000, %v at 20 000", cost[2000], cost[20000])
	}
}

// BenchmarkListFirstPage measures the webmail's first page of 50 by
// folder size.
func BenchmarkListFirstPage(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
			mb := fillMailbox(b, s, a.ID, n)
			b.ResetTimer()
			for range b.N {
				if _, err := s.ListMessages(ctx, mb, ListQuery{Limit: 51}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
