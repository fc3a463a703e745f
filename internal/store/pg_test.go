package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/sqldb"
)

// TestPGTwoNodesDeliverToOneMailbox: two stores on one PostgreSQL
// database (two nodes) deliver to one mailbox at once, some messages in
// batches, to two mailboxes at once (locked in either order), while their
// flags change: every UID is handed out once, each writer sees its UIDs
// rise, the message with the higher UID has the higher MODSEQ, and the
// mailbox's MODSEQ as either node reads it never goes backwards.
func TestPGTwoNodesDeliverToOneMailbox(t *testing.T) {
	ctx := context.Background()
	be := backend{name: "postgres", url: newPGDatabase(t)}
	nodes := []*Store{be.open(t), be.open(t)}
	a, err := nodes[0].AddAccount(ctx, "bob@hill.test", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := nodes[1].MailboxByName(ctx, a.ID, Inbox)
	arch, _ := nodes[1].MailboxByName(ctx, a.ID, "Archive")

	const writers, each = 4, 15 // per node
	var mu sync.Mutex
	var uids []uint32
	errs := make(chan error, 2*writers+2)
	stop := make(chan struct{})
	var wg, watch sync.WaitGroup
	for n, s := range nodes {
		// A reader on each node: the mailbox's MODSEQ never goes back.
		watch.Add(1)
		go func() {
			defer watch.Done()
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				m, err := s.MailboxModSeq(ctx, inbox.ID)
				if err != nil {
					errs <- err
					return
				}
				if m < last {
					errs <- fmt.Errorf("node %d: MODSEQ went from %d back to %d", n, last, m)
					return
				}
				last = m
			}
		}()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []uint32
				for i, step := 0, 0; i < each; i, step = i+1, step+1 {
					var got []uint32
					body := fmt.Sprintf("Subject: %d.%d.%d\r\n\r\nx\r\n", n, w, i)
					switch step % 3 {
					case 0: // one message
						out, err := s.DeliverBody(ctx, spool(t, s, body), []Delivery{{AccountID: a.ID}})
						if err != nil {
							errs <- err
							return
						}
						got = append(got, out[0].UID)
					case 1: // a batch of two
						out, err := s.DeliverBodies(ctx, []BodyBatch{
							{Body: spool(t, s, body), Deliveries: []Delivery{{AccountID: a.ID}}},
							{Body: spool(t, s, body+"2"), Deliveries: []Delivery{{AccountID: a.ID}}},
						})
						if err != nil {
							errs <- err
							return
						}
						got = append(got, out[0][0].UID, out[1][0].UID)
						i++
					case 2: // two mailboxes, in an order that differs by writer
						ds := []Delivery{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Archive"}}
						if w%2 == 1 {
							ds[0], ds[1] = ds[1], ds[0]
						}
						out, err := s.DeliverBody(ctx, spool(t, s, body), ds)
						if err != nil {
							errs <- err
							return
						}
						for _, d := range out {
							if d.MailboxID == inbox.ID {
								got = append(got, d.UID)
							}
						}
						// And a flag change on the newest message.
						if _, err := s.ChangeFlags(ctx, inbox.ID, got, FlagsAdd, []string{`\Seen`}, 0); err != nil {
							errs <- err
							return
						}
					}
					for _, u := range got {
						if len(mine) > 0 && u <= mine[len(mine)-1] {
							errs <- fmt.Errorf("node %d writer %d: UID %d after %d", n, w, u, mine[len(mine)-1])
							return
						}
						mine = append(mine, u)
					}
				}
				mu.Lock()
				uids = append(uids, mine...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	slices.Sort(uids)
	if len(slices.Compact(slices.Clone(uids))) != len(uids) {
		t.Fatalf("a UID handed out twice: %v", uids)
	}
	msgs, err := nodes[0].Messages(ctx, inbox.ID)
	if err != nil || len(msgs) != len(uids) {
		t.Fatalf("%d messages in INBOX, %d delivered, %v", len(msgs), len(uids), err)
	}
	mb, _ := nodes[1].MailboxByID(ctx, inbox.ID)
	if mb.UIDNext != uids[len(uids)-1]+1 {
		t.Errorf("UIDNEXT %d after UID %d", mb.UIDNext, uids[len(uids)-1])
	}
	// Unseen messages were stored once and never changed since: their
	// MODSEQs rise with their UIDs.
	var last uint64
	for _, m := range msgs {
		if slices.Contains(m.Flags, `\Seen`) {
			continue
		}
		if m.ModSeq <= last {
			t.Errorf("UID %d has MODSEQ %d, not above the previous one's %d", m.UID, m.ModSeq, last)
		}
		last = m.ModSeq
		if m.ModSeq > mb.ModSeq {
			t.Errorf("UID %d has MODSEQ %d above the mailbox's %d", m.UID, m.ModSeq, mb.ModSeq)
		}
	}
	if am, _ := nodes[0].Messages(ctx, arch.ID); len(am) == 0 {
		t.Error("nothing in Archive")
	}
	checkCounts(t, nodes[0], "after the concurrent deliveries")
}

// TestPGUnavailable: with PostgreSQL down, the store's reads and writes
// fail with an error sqldb.IsUnavailable recognizes (pail answers 451
// 4.3.0 and NO [UNAVAILABLE]), and once the server is back the same
// store works again without being reopened; what was committed before is
// there.
func TestPGUnavailable(t *testing.T) {
	ctx := context.Background()
	c := pgCluster(t)
	s := backend{name: "postgres", url: newPGDatabase(t)}.open(t)
	a, err := s.AddAccount(ctx, "bob@hill.test", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	deliverN(t, s, a.ID, "", 1)
	if err := c.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			c.Restart(context.Background())
		}
	})
	if _, err := s.DeliverBody(ctx, spool(t, s, "Subject: down\r\n\r\nx\r\n"), []Delivery{{AccountID: a.ID}}); !sqldb.IsUnavailable(err) {
		t.Errorf("deliver with the database down: %v, not unavailable", err)
	}
	if _, err := s.Mailboxes(ctx, a.ID); !sqldb.IsUnavailable(err) {
		t.Errorf("read with the database down: %v, not unavailable", err)
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	// Connections from before the restart fail once each (unavailable)
	// and are dropped; the store then works on new ones.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.DeliverBody(ctx, spool(t, s, "Subject: back\r\n\r\nx\r\n"), []Delivery{{AccountID: a.ID}})
		if err == nil {
			break
		}
		if !sqldb.IsUnavailable(err) || time.Now().After(deadline) {
			t.Fatalf("deliver after the restart: %v", err)
		}
	}
	inbox, err := s.MailboxByName(ctx, a.ID, Inbox)
	for i := 0; err != nil && sqldb.IsUnavailable(err) && i < 20; i++ {
		inbox, err = s.MailboxByName(ctx, a.ID, Inbox)
	}
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Messages(ctx, inbox.ID)
	if err != nil || len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 2 {
		t.Fatalf("after the restart: %+v, %v", msgs, err)
	}
	for _, m := range msgs {
		if data, err := storedBytes(t, s, m); err != nil || !strings.HasPrefix(string(data), "Subject:") {
			t.Errorf("UID %d: %q, %v", m.UID, data, err)
		}
	}
}

// TestPGNewerSchemaRefused: a database whose store schema a newer pail
// made is refused with a message that says so, and left as it was.
func TestPGNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	url := newPGDatabase(t)
	s, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("UPDATE schema_version SET version = ?", len(pgMigrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenPostgres(ctx, url)
	if !errors.Is(err, errNewerSchema) || !strings.Contains(err.Error(), "newer than this pail") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

// TestWebSessionsStored: sessions are saved, listed, touched and deleted.
func TestWebSessionsStored(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.test", "h", false)
		t0 := time.UnixMilli(1_700_000_000_123)
		for _, h := range []string{"h1", "h2"} {
			if err := s.SaveWebSession(ctx, WebSession{TokenHash: h, CSRF: "c" + h, AccountID: a.ID, PasswordTag: "p", Created: t0, Seen: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.TouchWebSession(ctx, "h2", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteWebSessions(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		got, err := s.WebSessions(ctx)
		if err != nil || len(got) != 1 || got[0].TokenHash != "h2" || got[0].CSRF != "ch2" || got[0].AccountID != a.ID ||
			!got[0].Created.Equal(t0) || !got[0].Seen.Equal(t0.Add(time.Minute)) {
			t.Fatalf("sessions: %+v, %v", got, err)
		}
		// An account's sessions go with it.
		if _, err := s.AddAccount(ctx, "jill@hill.test", "h", true); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAccount(ctx, "bob@hill.test"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.WebSessions(ctx); err != nil || len(got) != 0 {
			t.Errorf("after the account's deletion: %+v, %v", got, err)
		}
	})
}

// TestBodiesFreedWithLastCopy: a message's bytes stay while any copy of
// it is stored (other recipients, COPY, MOVE) and go with the last one,
// whether it is expunged, its mailbox deleted or its account.
func TestBodiesFreedWithLastCopy(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.test", "h", false)
		b, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		if _, err := s.DeliverBody(ctx, spool(t, s, "Subject: x\r\n\r\nshared\r\n"), []Delivery{{AccountID: a.ID}, {AccountID: b.ID}}); err != nil {
			t.Fatal(err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		arch, _ := s.MailboxByName(ctx, a.ID, "Archive")
		trash, _ := s.MailboxByName(ctx, a.ID, "Trash")
		if _, err := s.Copy(ctx, inbox.ID, []uint32{1}, arch.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Move(ctx, inbox.ID, []uint32{1}, trash.ID); err != nil {
			t.Fatal(err)
		}
		has := func(mailboxID int64) Message {
			t.Helper()
			msgs, err := s.Messages(ctx, mailboxID)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("mailbox %d: %d messages, %v", mailboxID, len(msgs), err)
			}
			if data, err := storedBytes(t, s, msgs[0]); err != nil || !strings.Contains(string(data), "shared") {
				t.Fatalf("mailbox %d: %q, %v", mailboxID, data, err)
			}
			return msgs[0]
		}
		moved := has(trash.ID)
		has(arch.ID)
		if err := s.Expunge(ctx, trash.ID, []int64{moved.ID}); err != nil {
			t.Fatal(err)
		}
		has(arch.ID)
		if err := s.DeleteMailbox(ctx, a.ID, "Archive"); err != nil {
			t.Fatal(err)
		}
		jill, _ := s.MailboxByName(ctx, b.ID, Inbox)
		has(jill.ID)
		if n := storedCount(t, s); n == 0 {
			t.Fatal("jill's copy's bytes went with bob's")
		}
		if err := s.DeleteAccount(ctx, "jill@hill.test"); err != nil {
			t.Fatal(err)
		}
		assertNoFiles(t, s)
	})
}

// TestQueriesOnBothBackends runs the store's queries that the other
// tests of both backends leave out: sort fields from the kept summaries,
// \Deleted messages, changes since a MODSEQ, search candidates by UID,
// subscriptions to names without a mailbox, a message by its account,
// and an account's usage.
func TestQueriesOnBothBackends(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.test", "h", false)
		var uids []uint32
		var mb int64
		for i := range 4 {
			msg := fmt.Sprintf("From: Jack %d <jack@town.test>\r\nSubject: topic %d\r\nDate: Mon, %d Dec 2026 10:00:00 +0000\r\n\r\nbody %d\r\n", i, 4-i, i+1, i)
			ds, err := s.DeliverBody(ctx, spool(t, s, msg), []Delivery{{AccountID: a.ID}})
			if err != nil {
				t.Fatal(err)
			}
			uids, mb = append(uids, ds[0].UID), ds[0].MailboxID
		}
		var fields []SortFields
		if err := s.SortFields(ctx, mb, uids, SortDate|SortSubject|SortFrom, func(f *SortFields) { fields = append(fields, *f) }); err != nil {
			t.Fatal(err)
		}
		if len(fields) != 4 || fields[0].Subject != "topic 4" || fields[3].Subject != "topic 1" ||
			fields[1].Date.Day() != 2 || fields[2].From.Mailbox != "jack" {
			t.Fatalf("sort fields: %+v", fields)
		}
		before, _ := s.MailboxModSeq(ctx, mb)
		if _, err := s.ChangeFlags(ctx, mb, []uint32{uids[1], uids[3]}, FlagsAdd, []string{`\Deleted`, "NotDeleted"}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeFlags(ctx, mb, []uint32{uids[0]}, FlagsAdd, []string{"Deleted"}, 0); err != nil {
			t.Fatal(err)
		}
		del, err := s.DeletedMessages(ctx, mb)
		if err != nil || len(del) != 2 || del[0].UID != uids[1] || del[1].UID != uids[3] {
			t.Fatalf("deleted: %+v, %v", del, err)
		}
		modseq, changed, expunged, err := s.ChangesSince(ctx, mb, before)
		if err != nil || modseq != before+2 || len(changed) != 3 || len(expunged) != 0 {
			t.Fatalf("changes since %d: %d %+v %v, %v", before, modseq, changed, expunged, err)
		}
		if err := s.Expunge(ctx, mb, []int64{del[0].ID}); err != nil {
			t.Fatal(err)
		}
		if _, _, expunged, err := s.ChangesSince(ctx, mb, modseq); err != nil || !slices.Equal(expunged, []uint32{uids[1]}) {
			t.Fatalf("expunged since %d: %v, %v", modseq, expunged, err)
		}
		cands, infos, err := s.SearchCandidates(ctx, mb, []uint32{uids[0], uids[1], uids[2]}, true)
		if err != nil || len(cands) != 2 || cands[0].UID != uids[0] || cands[1].UID != uids[2] || infos[uids[2]].Subject != "topic 2" {
			t.Fatalf("candidates: %+v %v, %v", cands, infos, err)
		}
		if m, err := s.MessageOfAccount(ctx, a.ID, cands[1].ID); err != nil || m.UID != uids[2] {
			t.Fatalf("message of account: %+v, %v", m, err)
		}
		if used, err := s.Usage(ctx, a.ID); err != nil || used != cands[0].Size+cands[1].Size+sizeOf(t, s, mb, del[1].UID) {
			t.Errorf("usage %d, %v", used, err)
		}
		if err := s.SetSubscribed(ctx, a.ID, "Later", true); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSubscribed(ctx, a.ID, "Junk", false); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMailbox(ctx, a.ID, "Sent"); err != nil {
			t.Fatal(err)
		}
		lone, err := s.LoneSubscriptions(ctx, a.ID)
		if err != nil || !slices.Equal(lone, []string{"Later", "Sent"}) {
			t.Errorf("lone subscriptions: %v, %v", lone, err)
		}
	})
}

// sizeOf returns the stored size of a mailbox's message.
func sizeOf(t *testing.T, s *Store, mailboxID int64, uid uint32) int64 {
	t.Helper()
	msgs, err := s.MessagesByUID(context.Background(), mailboxID, []uint32{uid})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("UID %d: %v", uid, err)
	}
	return msgs[0].Size
}
