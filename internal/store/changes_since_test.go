package store

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestExpungedSince: the UIDs expunged after a mod-sequence, by EXPUNGE
// and by MOVE, in ascending order, and none after the latest.
func TestExpungedSince(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "jill@hill.test", "h", false)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		var inbox int64
		for range 4 {
			ds, err := s.DeliverBody(ctx, spool(t, s, "Subject: x\r\n\r\nx\r\n"), []Delivery{{AccountID: a.ID}})
			if err != nil {
				t.Fatal(err)
			}
			inbox = ds[0].MailboxID
			msgs, _ := s.Messages(ctx, inbox)
			ids = append(ids, msgs[len(msgs)-1].ID)
		}
		trash, err := s.MailboxByName(ctx, a.ID, "Trash")
		if err != nil {
			t.Fatal(err)
		}
		m0, _ := s.MailboxModSeq(ctx, inbox)
		if _, err := s.Move(ctx, inbox, []uint32{3}, trash.ID); err != nil {
			t.Fatal(err)
		}
		m1, _ := s.MailboxModSeq(ctx, inbox)
		if err := s.Expunge(ctx, inbox, []int64{ids[0]}); err != nil {
			t.Fatal(err)
		}
		m2, _ := s.MailboxModSeq(ctx, inbox)
		for _, c := range []struct {
			since uint64
			want  []uint32
		}{{0, []uint32{1, 3}}, {m0, []uint32{1, 3}}, {m1, []uint32{1}}, {m2, nil}} {
			got, err := s.ExpungedSince(ctx, inbox, c.since)
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("ExpungedSince(%d) = %v, %v; want %v", c.since, got, err, c.want)
			}
		}
	})
}

// TestChangesSinceUsesIndexes: a session's look after each command reads
// along the mod-sequence indexes (migration 13), not every row of the
// mailbox (which made every IMAP command cost the mailbox's size).
func TestChangesSinceUsesIndexes(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		query, index string
		args         []any
	}{
		{changedSQL, "messages_changes", []any{1, 5}},
		{expungedSinceSQL, "expunged_changes", []any{1, 5}},
		{statesSQL, "COVERING INDEX messages_state", []any{1}},
		{sqliteDialect.deletedSQL, "messages_deleted", []any{1}},
		{claimRecentSQL, "messages_recent", []any{1}},
	} {
		if plan := queryPlan(t, s.db.DB, c.query, c.args); !strings.Contains(plan, c.index) {
			t.Errorf("%s:\nplan does not use %s:\n%s", c.query, c.index, plan)
		}
	}
}
