package store

import (
	"context"
	"testing"
)

// TestDeliverSpecialUse: a Delivery with SpecialUse goes to the mailbox
// that has the attribute, under whatever name the user gave it, and one
// is created when the user deleted it: never the INBOX.
func TestDeliverSpecialUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
		if err != nil {
			t.Fatal(err)
		}
		deliver := func() Delivered {
			t.Helper()
			sp, err := s.newSpool()
			if err != nil {
				t.Fatal(err)
			}
			sp.Write([]byte("Subject: x\r\n\r\nspam\r\n"))
			res, err := s.DeliverBody(ctx, sp, []Delivery{{AccountID: a.ID, Mailbox: "Junk", SpecialUse: `\Junk`}})
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		if d := deliver(); d.Mailbox != "Junk" {
			t.Fatalf("delivered to %q", d.Mailbox)
		}
		if err := s.RenameMailbox(ctx, a.ID, "Junk", "Spam"); err != nil {
			t.Fatal(err)
		}
		if d := deliver(); d.Mailbox != "Spam" {
			t.Fatalf("after rename: delivered to %q", d.Mailbox)
		}
		if err := s.DeleteMailbox(ctx, a.ID, "Spam"); err != nil {
			t.Fatal(err)
		}
		d := deliver()
		mb, err := s.MailboxByID(ctx, d.MailboxID)
		if err != nil || d.Mailbox != "Junk" || mb.SpecialUse != `\Junk` {
			t.Fatalf("after delete: delivered to %q (%+v, %v)", d.Mailbox, mb, err)
		}
	})
}
