package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func deliverN(t *testing.T, s *Store, acct int64, mailbox string, n int) {
	t.Helper()
	for range n {
		sp := spool(t, s, "Subject: x\r\n\r\nbody\r\n")
		if _, err := s.DeliverBody(context.Background(), sp, []Delivery{{AccountID: acct, Mailbox: mailbox}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSetFlagsCopyMove(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
		if err != nil {
			t.Fatal(err)
		}
		deliverN(t, s, a.ID, "", 3)
		inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
		trash, _ := s.MailboxByName(ctx, a.ID, "Trash")

		sts, failed, err := s.SetFlags(ctx, inbox.ID, []uint32{1, 2, 99}, FlagsAdd, []string{`\seen`, "$Label"}, 0)
		if err != nil || len(sts) != 2 || len(failed) != 0 {
			t.Fatalf("SetFlags: %+v %v %v", sts, failed, err)
		}
		if !slices.Equal(sts[0].Flags, []string{"$Label", `\Seen`}) {
			t.Errorf("flags %q", sts[0].Flags)
		}
		ms, _ := s.MailboxModSeq(ctx, inbox.ID)
		if sts[0].ModSeq != ms {
			t.Errorf("modseq %d, mailbox %d", sts[0].ModSeq, ms)
		}
		// UNCHANGEDSINCE below the message's modseq fails.
		_, failed, _ = s.SetFlags(ctx, inbox.ID, []uint32{1}, FlagsRemove, []string{`\Seen`}, 1)
		if !slices.Equal(failed, []uint32{1}) {
			t.Errorf("failed = %v", failed)
		}
		c, _ := s.MailboxStatus(ctx, inbox.ID)
		if c.Messages != 3 || c.Unseen != 1 || c.Recent != 3 {
			t.Errorf("status %+v", c)
		}
		rec, err := s.ClaimRecent(ctx, inbox.ID)
		if err != nil || len(rec) != 3 {
			t.Errorf("ClaimRecent %v %v", rec, err)
		}
		if rec, _ := s.ClaimRecent(ctx, inbox.ID); len(rec) != 0 {
			t.Errorf("second claim %v", rec)
		}

		res, err := s.Copy(ctx, inbox.ID, []uint32{1, 3}, trash.ID)
		if err != nil || !slices.Equal(res.SrcUIDs, []uint32{1, 3}) || !slices.Equal(res.DestUIDs, []uint32{1, 2}) || res.UIDValidity != trash.UIDValidity {
			t.Fatalf("Copy %+v %v", res, err)
		}
		res, err = s.Move(ctx, inbox.ID, []uint32{2, 3}, trash.ID)
		if err != nil || !slices.Equal(res.DestUIDs, []uint32{3, 4}) {
			t.Fatalf("Move %+v %v", res, err)
		}
		_, in, _ := s.MessageStates(ctx, inbox.ID)
		_, tr, _ := s.MessageStates(ctx, trash.ID)
		if len(in) != 1 || len(tr) != 4 {
			t.Fatalf("after move: inbox %d trash %d", len(in), len(tr))
		}
		msgs, _ := s.Messages(ctx, trash.ID)
		for _, m := range msgs {
			if bodyGone(t, s, m) {
				t.Errorf("body of uid %d gone", m.UID)
			}
		}
		// Deleting a mailbox removes its files; the original stays.
		if err := s.DeleteMailbox(ctx, a.ID, "Trash"); err != nil {
			t.Fatal(err)
		}
		orig, _ := s.Messages(ctx, inbox.ID)
		for _, m := range msgs {
			// On PostgreSQL a copy shares its original's body, which stays.
			if be.pg() && m.bodyID == orig[0].bodyID {
				continue
			}
			if !bodyGone(t, s, m) {
				t.Errorf("body of deleted uid %d remains", m.UID)
			}
		}
		if bodyGone(t, s, orig[0]) {
			t.Error("the original's body went with the mailbox")
		}
		if err := s.DeleteMailbox(ctx, a.ID, "inbox"); !errors.Is(err, ErrInbox) {
			t.Errorf("delete INBOX: %v", err)
		}
	})
}

func TestRenameAndCreatePath(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		if _, err := s.CreateMailboxPath(ctx, a.ID, "Work/2026/Q1", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MailboxByName(ctx, a.ID, "Work/2026"); err != nil {
			t.Error("parent not created")
		}
		w, _ := s.MailboxByName(ctx, a.ID, "Work")
		if err := s.RenameMailbox(ctx, a.ID, "Work", "Jobs/Old"); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"Jobs", "Jobs/Old", "Jobs/Old/2026", "Jobs/Old/2026/Q1"} {
			if _, err := s.MailboxByName(ctx, a.ID, n); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		if mb, _ := s.MailboxByName(ctx, a.ID, "Jobs/Old"); mb.UIDValidity != w.UIDValidity {
			t.Error("UIDVALIDITY changed by rename")
		}
		if err := s.RenameMailbox(ctx, a.ID, "Jobs", "Sent"); !errors.Is(err, ErrExists) {
			t.Errorf("rename onto existing: %v", err)
		}
		deliverN(t, s, a.ID, "", 2)
		if err := s.RenameMailbox(ctx, a.ID, "INBOX", "Old-Inbox"); err != nil {
			t.Fatal(err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
		old, _ := s.MailboxByName(ctx, a.ID, "Old-Inbox")
		c1, _ := s.MailboxStatus(ctx, inbox.ID)
		c2, _ := s.MailboxStatus(ctx, old.ID)
		if c1.Messages != 0 || c2.Messages != 2 {
			t.Errorf("after INBOX rename: %d, %d", c1.Messages, c2.Messages)
		}
		// New mail to INBOX never reuses a UID.
		deliverN(t, s, a.ID, "", 1)
		_, st, _ := s.MessageStates(ctx, inbox.ID)
		if len(st) != 1 || st[0].UID != 3 {
			t.Errorf("INBOX after rename: %+v", st)
		}
	})
}

func TestWatchChangesSeesOtherProcess(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		sub := s.Subscribe(a.ID)
		defer sub.Close()
		go s.WatchChanges(ctx, 50*time.Millisecond)
		time.Sleep(100 * time.Millisecond)
		// A second Store on the same directory plays the admin command.
		other := be.open(t)
		deliverN(t, other, a.ID, "", 1)
		select {
		case ev := <-sub.C:
			if ev.AccountID != a.ID || ev.MailboxID == 0 {
				t.Errorf("event %+v", ev)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("no event for another process's delivery")
		}
	})
}
