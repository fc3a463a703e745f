package store

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestBodyWriterCopyAndDeliver writes a body from pieces as delivery
// does (trace fields, then sections of another body copied with io.Copy,
// which the file spool does in the kernel), reads it back before and after
// DeliverBody, and checks the stored copy.
func TestBodyWriterCopyAndDeliver(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	old := spool(t, s, "Return-Path: <a@b>\r\nSubject: x\r\n\r\n"+strings.Repeat("body\r\n", 3000))
	defer old.Discard()
	w, err := s.NewBody()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Added: yes\r\n")
	// A section read in part already: the copy takes the rest of it.
	sr := io.NewSectionReader(old, 20, old.Size()-20)
	head := make([]byte, 5)
	sr.Read(head)
	if n, err := io.Copy(w, sr); err != nil || n != old.Size()-25 {
		t.Fatalf("io.Copy from a spool: %d, %v; want %d", n, err, old.Size()-25)
	}
	// From a reader that is no spool.
	if _, err := io.Copy(w, strings.NewReader("tail\r\n")); err != nil {
		t.Fatal(err)
	}
	orig := make([]byte, old.Size())
	old.ReadAt(orig, 0)
	want := "Added: yes\r\n" + string(orig[25:]) + "tail\r\n"
	if w.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", w.Size(), len(want))
	}
	got := make([]byte, w.Size())
	if _, err := w.ReadAt(got, 0); err != nil || string(got) != want {
		t.Fatalf("read back: %v, %d octets, want %d", err, len(got), len(want))
	}
	w.Retain()
	if _, err := s.DeliverBody(ctx, w, []Delivery{{AccountID: a.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReadAt(got, 0); err != nil || string(got) != want {
		t.Errorf("a retained body after DeliverBody: %v", err)
	}
	w.Discard()
	w.Discard()
	inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
	msgs, _ := s.MessageSizes(ctx, inbox.ID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	b, err := s.OpenBody(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stored, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil || string(stored) != want {
		t.Errorf("stored: %v, %d octets, want %d", err, len(stored), len(want))
	}
}
