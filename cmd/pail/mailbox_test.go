package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"pail/internal/mbox"
	"pail/internal/store"
)

// importMboxText is an mbox of n small messages with subjects "m0", "m1", ….
func importMboxText(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "From jack@town.test Mon Jan  2 15:04:05 2006\nFrom: jack@town.test\nSubject: m%d\n\nbody %d %s\n\n", i, i, strings.Repeat("x", i%500))
	}
	return b.String()
}

// importStore opens a store in a temporary directory with one account
// and returns its INBOX.
func importStore(tb testing.TB) (*store.Store, store.Mailbox) {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	a, err := st.AddAccount(ctx, "jill@hill.test", "h", false)
	if err != nil {
		tb.Fatal(err)
	}
	mb, err := st.MailboxByName(ctx, a.ID, store.Inbox)
	if err != nil {
		tb.Fatal(err)
	}
	return st, mb
}

// checkImported fails unless the mailbox holds exactly messages m0 … m(n-1)
// with UIDs in that order.
func checkImported(t *testing.T, st *store.Store, mb store.Mailbox, n int) {
	t.Helper()
	ctx := context.Background()
	msgs, err := st.Messages(ctx, mb.ID)
	if err != nil || len(msgs) != n {
		t.Fatalf("%d messages stored (%v), want %d", len(msgs), err, n)
	}
	for i, m := range msgs {
		if i > 0 && m.UID <= msgs[i-1].UID {
			t.Fatalf("UIDs out of order at %d", i)
		}
		b, err := st.OpenBody(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		if !strings.Contains(string(raw), fmt.Sprintf("Subject: m%d\r\n", i)) {
			t.Fatalf("message with UID %d is not m%d:\n%s", m.UID, i, raw)
		}
	}
}

// TestImportGroupCommit: pail import stores the mbox's messages in the
// file's order (UIDs ascending with it) in a commit per importChunk
// messages, not one per message.
func TestImportGroupCommit(t *testing.T) {
	st, mb := importStore(t)
	const n = 327 // five chunks and a part of one
	before := st.Stats().Commits
	got, skipped, err := importMbox(context.Background(), st, mb, mbox.NewReader(bufio.NewReader(strings.NewReader(importMboxText(n)))), io.Discard)
	if err != nil || got != n || skipped != 0 {
		t.Fatalf("importMbox: %d, %d skipped, %v", got, skipped, err)
	}
	// One commit per message was the import before group commit; the
	// background fills (the text index) commit some work of their own.
	if commits := st.Stats().Commits - before; commits > n/16 {
		t.Errorf("%d messages imported in %d commits, want at most %d", n, commits, n/16)
	}
	checkImported(t, st, mb, n)
	if c, err := st.MailboxStatus(context.Background(), mb.ID); err != nil || c.Messages != n {
		t.Errorf("status: %+v %v", c, err)
	}
}

// TestImportInterrupted: an import whose file fails part-way leaves whole
// messages only, the first ones of the file in its order, and says how
// many it stored.
func TestImportInterrupted(t *testing.T) {
	st, mb := importStore(t)
	const n = 3*importChunk + 10
	in := io.MultiReader(strings.NewReader(importMboxText(n)), iotest.ErrReader(errors.New("disk gone")))
	got, _, err := importMbox(context.Background(), st, mb, mbox.NewReader(bufio.NewReader(in)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("importMbox: %d, %v", got, err)
	}
	if got < n-1 || got > n {
		t.Errorf("%d of %d messages reported stored", got, n)
	}
	checkImported(t, st, mb, got)
}

// BenchmarkImport times pail import of 5 000 generated messages of 2–8
// KiB (issue 17: the 100 000-message import of bench/scale.sh).
func BenchmarkImport(b *testing.B) {
	const n = 5000
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "From jack@town.test Mon Jan  2 15:04:05 2006\nFrom: jack@town.test\nSubject: m%d\n\n%s\n\n", i, strings.Repeat("the quick brown fox jumps over the lazy dog\n", 45+i%140))
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	for range b.N {
		b.StopTimer()
		st, mb := importStore(b)
		b.StartTimer()
		got, _, err := importMbox(context.Background(), st, mb, mbox.NewReader(bufio.NewReader(strings.NewReader(text))), io.Discard)
		if err != nil || got != n {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/import")
}
