package delivery_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pail/internal/delivery"
	"pail/internal/dkim"
	"pail/internal/maillog"
	"pail/internal/queue"
	"pail/internal/store"
)

// TestQueuedCopySignedOnlyWhenAuthenticated: a message for a remote
// recipient with a local From is DKIM-signed in the queue when it came
// through submission after AUTH, webmail or pail sendmail, and not when it
// came in on the MX port (an alias forwarding it), whatever its From.
func TestQueuedCopySignedOnlyWhenAuthenticated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := dkim.Open(dkim.DirIn(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := dkim.NewSigner(keys, dkim.Policy{Local: func(d string) bool { return d == "hill.test" }})
	q, err := queue.Open(ctx, queue.Config{Dir: queue.DirIn(dir), Hostname: "mx.hill.test", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	d := delivery.NewDeliverer(st, q, maillog.New(&strings.Builder{}), "mx.hill.test")
	for proto, signed := range map[string]bool{
		"ESMTPSA": true, "ESMTPA": true, "HTTPS": true, "HTTP": true, "LOCAL": true,
		"ESMTPS": false, "ESMTP": false, "SMTP": false,
	} {
		rcpts := []delivery.Recipient{{Address: "carol@town.test", Route: delivery.Route{Remote: []string{"carol@town.test"}}}}
		m, err := d.NewMessage("dave@hill.test", rcpts, delivery.Trace{Helo: "client.test", Proto: proto})
		if err != nil {
			t.Fatal(err)
		}
		m.Write([]byte("From: dave@hill.test\r\nTo: carol@town.test\r\nSubject: " + proto + "\r\n\r\nHi.\r\n"))
		if err := m.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(queue.DirIn(dir), "msg", m.ID))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.HasPrefix(string(data), "DKIM-Signature:"); got != signed {
			t.Errorf("%s: signed %v, want %v:\n%s", proto, got, signed, data)
		}
	}
}
