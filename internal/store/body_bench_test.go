package store

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkOpenBody opens a stored message of 16 KiB, reads it whole and
// closes it, as POP3 RETR does for each message.
func BenchmarkOpenBody(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.NewBody()
	if err != nil {
		b.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\n" + strings.Repeat("x", 16<<10-16) + "\r\n"))
	if _, err := s.DeliverBody(ctx, w, []Delivery{{AccountID: a.ID}}); err != nil {
		b.Fatal(err)
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
	msgs, err := s.MessageSizes(ctx, inbox.ID)
	if err != nil || len(msgs) != 1 {
		b.Fatal(msgs, err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(msgs[0].Size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		body, err := s.OpenBody(ctx, msgs[0])
		if err != nil {
			b.Fatal(err)
		}
		if n, err := body.ReadAt(buf[:body.Size()], 0); err != nil || int64(n) != body.Size() {
			b.Fatal(n, err)
		}
		body.Close()
	}
}
