package store

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestDeliverBodiesAllOrNothing: a failure of one message of a batch
// keeps none of them (RFC 3502 §6.3.11, MULTIAPPEND), and a batch that succeeds
// stores each message, with UIDs in the order given.
func TestDeliverBodiesAllOrNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		arch, err := s.CreateMailboxPath(ctx, a.ID, "Projects", "")
		if err != nil {
			t.Fatal(err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
		failInserts(t, s, arch.ID)
		bs := []BodyBatch{
			{Body: spool(t, s, "one\r\n"), Deliveries: []Delivery{{AccountID: a.ID}}},
			{Body: spool(t, s, "two\r\n"), Deliveries: []Delivery{{AccountID: a.ID, Mailbox: "Projects"}}},
		}
		if _, err := s.DeliverBodies(ctx, bs); err == nil {
			t.Fatal("DeliverBodies succeeded though the second insert failed")
		}
		if msgs, _ := s.Messages(ctx, inbox.ID); len(msgs) != 0 {
			t.Errorf("INBOX got %d messages from a failed batch", len(msgs))
		}
		assertNoFiles(t, s)
		dropFailInserts(t, s, arch.ID)

		bs = nil
		for i := range 3 {
			bs = append(bs, BodyBatch{Body: spool(t, s, fmt.Sprintf("msg %d\r\n", i)), Deliveries: []Delivery{{AccountID: a.ID}}})
		}
		out, err := s.DeliverBodies(ctx, bs)
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := s.Messages(ctx, inbox.ID)
		if len(msgs) != 3 {
			t.Fatalf("INBOX has %d messages, want 3", len(msgs))
		}
		for i, m := range msgs {
			if out[i][0].UID != m.UID || m.UID != uint32(i+1) {
				t.Errorf("message %d: UID %d, DeliverBodies said %d", i, m.UID, out[i][0].UID)
			}
			f, err := s.OpenBody(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 64)
			n, _ := f.ReadAt(b, 0)
			f.Close()
			if want := fmt.Sprintf("msg %d\r\n", i); string(b[:n]) != want {
				t.Errorf("UID %d holds %q, want %q", m.UID, b[:n], want)
			}
		}
		if n := storedCount(t, s); n != 3 {
			t.Errorf("%d message files (bodies), want 3", n)
		}
	})
}

// foreignBody is a BodyWriter that no store handed out.
type foreignBody struct{ strings.Builder }

func (*foreignBody) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }
func (b *foreignBody) Size() int64                     { return int64(b.Len()) }
func (*foreignBody) Retain()                           {}
func (*foreignBody) Discard()                          {}

// TestDeliverBodiesRefusesForeign: a batch with a body that is not from
// this store's NewBody stores none of its messages and leaves the store's
// own bodies in place for the caller.
func TestDeliverBodiesRefusesForeign(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		own := spool(t, s, "one\r\n")
		defer own.Discard()
		bs := []BodyBatch{
			{Body: own, Deliveries: []Delivery{{AccountID: a.ID}}},
			{Body: &foreignBody{}, Deliveries: []Delivery{{AccountID: a.ID}}},
		}
		if _, err := s.DeliverBodies(ctx, bs); err == nil {
			t.Fatal("DeliverBodies took a body of no store")
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		if msgs, _ := s.Messages(ctx, inbox.ID); len(msgs) != 0 {
			t.Errorf("INBOX got %d messages from a refused batch", len(msgs))
		}
		got := make([]byte, own.Size())
		if _, err := own.ReadAt(got, 0); err != nil || string(got) != "one\r\n" {
			t.Errorf("the store's own body after the refusal: %q, %v", got, err)
		}
	})
}
