package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func spool(t *testing.T, s *Store, body string) *fileSpool {
	t.Helper()
	sp, err := s.newSpool()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(sp, body); err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestAccountsAndAliases(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "bob@hill.com", "hash1", false)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Admin {
			t.Error("first account is not admin")
		}
		b, err := s.AddAccount(ctx, "jill@hill.com", "hash2", false)
		if err != nil || b.Admin {
			t.Fatalf("second account: %+v, %v", b, err)
		}
		if _, err := s.AddAccount(ctx, "bob@hill.com", "x", false); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate account: %v", err)
		}
		mbs, err := s.Mailboxes(ctx, a.ID)
		if err != nil || len(mbs) != len(DefaultMailboxes) || mbs[0].Name != "INBOX" {
			t.Fatalf("mailboxes: %+v, %v", mbs, err)
		}
		seen := map[uint32]bool{}
		for _, mb := range mbs {
			if seen[mb.UIDValidity] {
				t.Errorf("UIDVALIDITY %d repeated", mb.UIDValidity)
			}
			seen[mb.UIDValidity] = true
		}
		if err := s.AddAlias(ctx, "info@hill.com", []string{"bob@hill.com", "jill@hill.com"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddAlias(ctx, "bob@hill.com", []string{"x@y.z"}); !errors.Is(err, ErrExists) {
			t.Errorf("alias over account: %v", err)
		}
		got, _ := s.AliasTargets(ctx, "info@hill.com")
		if fmt.Sprint(got) != "[bob@hill.com jill@hill.com]" {
			t.Errorf("targets = %v", got)
		}
		if err := s.SetPassword(ctx, "jill@hill.com", "hash3"); err != nil {
			t.Fatal(err)
		}
		if j, _ := s.AccountByAddress(ctx, "jill@hill.com"); j.PasswordHash != "hash3" {
			t.Errorf("password not changed: %+v", j)
		}
		if err := s.DeleteAccount(ctx, "jill@hill.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccountByAddress(ctx, "jill@hill.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted account still there: %v", err)
		}
		if err := s.DeleteAlias(ctx, "info@hill.com"); err != nil {
			t.Fatal(err)
		}
		if al, _ := s.Aliases(ctx); len(al) != 0 {
			t.Errorf("aliases left: %v", al)
		}
	})
}

func TestDeliverConcurrentAndReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		b, _ := s.AddAccount(ctx, "jill@hill.com", "h", false)
		const n = 50
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sp := spool(t, s, fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i))
				if _, err := s.DeliverBody(ctx, sp, []Delivery{{AccountID: a.ID}, {AccountID: b.ID, Mailbox: "Archive", Flags: []string{`\seen`}}}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		s.Close()

		s = be.open(t)
		inbox, err := s.MailboxByName(ctx, a.ID, "inbox")
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := s.Messages(ctx, inbox.ID)
		if err != nil || len(msgs) != n {
			t.Fatalf("%d messages, %v", len(msgs), err)
		}
		for i, m := range msgs {
			if m.UID != uint32(i+1) {
				t.Fatalf("message %d has UID %d", i, m.UID)
			}
			data, err := storedBytes(t, s, m)
			if err != nil || int64(len(data)) != m.Size {
				t.Fatalf("file of %d: %d bytes, %v", m.UID, len(data), err)
			}
		}
		if inbox.UIDNext != n+1 {
			t.Errorf("UIDNEXT = %d", inbox.UIDNext)
		}
		arch, _ := s.MailboxByName(ctx, b.ID, "Archive")
		am, _ := s.Messages(ctx, arch.ID)
		if len(am) != n || len(am[0].Flags) != 1 || am[0].Flags[0] != `\Seen` {
			t.Fatalf("archive: %d messages, flags %v", len(am), am[0].Flags)
		}

		// Expunge half of the inbox; the files go, the UIDs are not reused.
		var ids []int64
		for _, m := range msgs[:n/2] {
			ids = append(ids, m.ID)
		}
		if err := s.Expunge(ctx, inbox.ID, ids); err != nil {
			t.Fatal(err)
		}
		// (On PostgreSQL the recipients' copies share one body.)
		if !be.pg() && !bodyGone(t, s, msgs[0]) {
			t.Errorf("expunged file still there")
		}
		// The other recipient's copy of the same bytes survives.
		if bodyGone(t, s, am[0]) {
			t.Errorf("other copy gone")
		}
		res, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: a.ID}})
		if err != nil || res[0].UID != n+1 {
			t.Fatalf("next UID %+v, %v", res, err)
		}
		left, _ := s.Messages(ctx, inbox.ID)
		if len(left) != n/2+1 {
			t.Errorf("%d messages left", len(left))
		}
	})
}

// A message is stored for all its recipients or for none: an account that
// vanished fails the delivery to the others too (the client tries again and
// is then refused the vanished recipient at RCPT).
func TestDeliverToVanishedAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		_, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: a.ID}, {AccountID: 999}})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err %v, want ErrNotFound", err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
		if msgs, _ := s.Messages(ctx, inbox.ID); len(msgs) != 0 {
			t.Errorf("%d messages kept for the other recipient", len(msgs))
		}
		assertNoFiles(t, s)
	})
}

func TestEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		sub := s.Subscribe(a.ID)
		defer sub.Close()
		if _, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: a.ID}}); err != nil {
			t.Fatal(err)
		}
		ev := <-sub.C
		if ev.Kind != EventNewMessage || ev.AccountID != a.ID {
			t.Errorf("event %+v", ev)
		}
	})
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
	for range 3 {
		if _, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: a.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.Check(ctx); err != nil || len(p) != 0 {
		t.Fatalf("clean store: %v %v", p, err)
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	msgs, _ := s.Messages(ctx, inbox.ID)
	os.Remove(msgs[0].path)
	os.WriteFile(msgs[1].path, []byte("longer\r\n"), 0o600)
	orphan := s.accountDir(a.ID) + "/orphan"
	os.WriteFile(orphan, nil, 0o600)
	s.leftoverAge = 0 // a file without an owner counts at once
	p, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, x := range p {
		kinds[x.Kind]++
	}
	if kinds["missing-file"] != 1 || kinds["size-mismatch"] != 1 || kinds["orphan-file"] != 1 || len(p) != 3 {
		t.Errorf("problems: %v", p)
	}
}

func TestDeliverDedupe(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		b, _ := s.AddAccount(ctx, "jill@hill.com", "h", false)
		since := time.Now().Add(-time.Hour)
		d := func(acct int64) Delivery {
			return Delivery{AccountID: acct, DedupeKey: []byte("key-1"), DedupeSince: since}
		}
		res, err := s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{d(a.ID)})
		if err != nil || res[0].Duplicate {
			t.Fatalf("first: %+v %v", res, err)
		}
		res, err = s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{d(a.ID), d(b.ID)})
		if err != nil || !res[0].Duplicate || res[1].Duplicate {
			t.Fatalf("second: %+v %v", res, err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
		if msgs, _ := s.Messages(ctx, inbox.ID); len(msgs) != 1 {
			t.Errorf("%d copies", len(msgs))
		}
		if p, _ := s.Check(ctx); len(p) != 0 {
			t.Errorf("check: %v", p)
		}
		// Another key is another message.
		res, _ = s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: a.ID, DedupeKey: []byte("key-2"), DedupeSince: since}})
		if res[0].Duplicate {
			t.Error("another key deduplicated")
		}
		// Outside the window, the same key is a new message.
		res, _ = s.DeliverBody(ctx, spool(t, s, "x\r\n"), []Delivery{{AccountID: a.ID, DedupeKey: []byte("key-1"), DedupeSince: time.Now().Add(time.Hour)}})
		if res[0].Duplicate {
			t.Error("deduplicated outside the window")
		}
	})
}

// TestLastAdmin: the last admin can neither lose the flag nor be deleted
// while other accounts remain; once another account is an admin, both
// work, and the only account left can be deleted.
func TestLastAdmin(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		s.AddAccount(ctx, "bob@hill.com", "h", false) // the first: an admin
		s.AddAccount(ctx, "jill@hill.com", "h", false)
		if err := s.SetAdmin(ctx, "bob@hill.com", false); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("un-admin the last admin: %v", err)
		}
		if err := s.DeleteAccount(ctx, "bob@hill.com"); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("delete the last admin: %v", err)
		}
		if b, err := s.AccountByAddress(ctx, "bob@hill.com"); err != nil || !b.Admin {
			t.Fatalf("bob after the refusals: %+v %v", b, err)
		}
		if err := s.SetAdmin(ctx, "nobody@hill.com", true); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetAdmin of a missing account: %v", err)
		}
		if err := s.SetAdmin(ctx, "jill@hill.com", true); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAdmin(ctx, "bob@hill.com", false); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAccount(ctx, "bob@hill.com"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAccount(ctx, "jill@hill.com"); err != nil {
			t.Errorf("deleting the only account: %v", err)
		}
	})
}
