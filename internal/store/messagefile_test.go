package store

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func TestOpenBody(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
		if err != nil {
			t.Fatal(err)
		}
		body := "Subject: x\r\n\r\n" + strings.Repeat("line\r\n", 5000)
		if res, err := s.DeliverBody(ctx, spool(t, s, body), []Delivery{{AccountID: a.ID}}); err != nil {
			t.Fatalf("deliver: %v %+v", err, res)
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		msgs, err := s.Messages(ctx, inbox.ID)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("messages %v, %v", msgs, err)
		}
		m := msgs[0]

		// The whole message, read in pieces of every size and at every
		// offset (iotest.TestReader checks ReadAt too).
		f, err := s.OpenBody(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if f.Size() != int64(len(body)) {
			t.Errorf("Size = %d, want %d", f.Size(), len(body))
		}
		if err := iotest.TestReader(io.NewSectionReader(f, 0, f.Size()), []byte(body)); err != nil {
			t.Error(err)
		}
		tail := make([]byte, 10)
		if n, err := f.ReadAt(tail, f.Size()-4); n != 4 || err != io.EOF || string(tail[:n]) != body[len(body)-4:] {
			t.Errorf("ReadAt past the end: %d %q %v, want 4, io.EOF", n, tail[:n], err)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}

		if be.pg() {
			return // the rest is about a message file cut short
		}
		// A file cut short is an error, not a short message.
		if err := os.Truncate(m.path, 100); err != nil {
			t.Fatal(err)
		}
		f, err = s.OpenBody(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if len(got) != 100 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short file: %d octets, %v; want 100, io.ErrUnexpectedEOF", len(got), err)
		}
		f.Close()

		// A file that is gone.
		os.Remove(m.path)
		if _, err := s.OpenBody(ctx, m); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: %v, want fs.ErrNotExist", err)
		}
	})
}

func TestMessageSizesMatchesMessages(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		b, _ := s.AddAccount(ctx, "jill@hill.com", "h", false)
		for i := range 5 {
			to := []Delivery{{AccountID: a.ID}}
			if i%2 == 0 {
				to = append(to, Delivery{AccountID: b.ID}) // other mailboxes stay out
			}
			if _, err := s.DeliverBody(ctx, spool(t, s, strings.Repeat("x", i+1)+"\r\n"), to); err != nil {
				t.Fatal(err)
			}
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		full, err := s.Messages(ctx, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		lean, err := s.MessageSizes(ctx, inbox.ID)
		if err != nil || len(lean) != len(full) || len(full) != 5 {
			t.Fatalf("MessageSizes: %d messages, %v; Messages: %d", len(lean), err, len(full))
		}
		for i, f := range full {
			l := lean[i]
			if l.ID != f.ID || l.MailboxID != f.MailboxID || l.UID != f.UID || l.Size != f.Size || l.path != f.path {
				t.Errorf("message %d: MessageSizes %+v, Messages %+v", i, l, f)
			}
		}
		if _, err := s.MessageSizes(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown mailbox: %v, want ErrNotFound", err)
		}
	})
}
