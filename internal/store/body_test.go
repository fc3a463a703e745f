package store

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestBodyWriterCopyAndDeliver writes a body from pieces as delivery
// does (trace fields, then sections of another body copied with io.Copy,
// which the file spool does in the kernel), reads it back before and after
// DeliverBody, and checks the stored copy.
func TestBodyWriterCopyAndDeliver(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
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
	})
}

// TestBodyWriterCopyFromStored: io.Copy into a BodyWriter from a section
// of a stored Body (IMAP CATENATE of a URL) copies exactly that section,
// also when the message's file was removed after OpenBody (expunged
// meanwhile: the open Body still reads it), and fails on a file cut
// short rather than storing a short message.
func TestBodyWriterCopyFromStored(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
		if err != nil {
			t.Fatal(err)
		}
		msg := "Subject: x\r\n\r\n" + strings.Repeat("0123456789\r\n", 4000)
		if _, err := s.DeliverBody(ctx, spool(t, s, msg), []Delivery{{AccountID: a.ID}}); err != nil {
			t.Fatal(err)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		msgs, err := s.Messages(ctx, inbox.ID)
		if err != nil || len(msgs) != 1 {
			t.Fatal(msgs, err)
		}
		copyOf := func(off, n int64) (string, error) {
			t.Helper()
			b, err := s.OpenBody(ctx, msgs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			w, err := s.NewBody()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Discard()
			io.WriteString(w, "head\r\n")
			got, err := io.Copy(w, io.NewSectionReader(b, off, n))
			if err != nil {
				return "", err
			}
			if got != min(n, b.Size()-off) {
				t.Errorf("io.Copy of %d at %d: %d octets", n, off, got)
			}
			out := make([]byte, w.Size())
			if _, err := w.ReadAt(out, 0); err != nil {
				t.Fatal(err)
			}
			return string(out), nil
		}
		for _, c := range []struct{ off, n int64 }{{0, int64(len(msg))}, {14, 100}, {int64(len(msg)) - 5, 50}, {int64(len(msg)), 10}} {
			got, err := copyOf(c.off, c.n)
			end := min(c.off+c.n, int64(len(msg)))
			if want := "head\r\n" + msg[c.off:end]; err != nil || got != want {
				t.Errorf("copy of %d at %d: %v, %d octets, want %d", c.n, c.off, err, len(got), len(want))
			}
		}

		if be.pg() {
			return // the rest is about files removed or cut under an open Body
		}
		// Removed after OpenBody: the copy reads the open Body.
		b, err := s.OpenBody(ctx, msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(msgs[0].path); err != nil {
			t.Fatal(err)
		}
		w, err := s.NewBody()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(w, io.NewSectionReader(b, 0, b.Size()))
		out := make([]byte, w.Size())
		w.ReadAt(out, 0)
		if err != nil || n != int64(len(msg)) || string(out) != msg {
			t.Errorf("copy of a removed file: %d octets, %v", n, err)
		}
		w.Discard()

		// Cut short: an error, whichever way the bytes are copied.
		if err := os.WriteFile(msgs[0].path, []byte(msg[:100]), 0o600); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if _, err := copyOf(0, int64(len(msg))); err == nil {
			t.Error("copy of a file cut short succeeded")
		}
	})
}
