package delivery_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"pail/internal/delivery"
	"pail/internal/maillog"
	"pail/internal/store"
)

// TestPrependOmit: fields added after the content is in are stored at the
// top (after Return-Path, above Received), omitted spans are left out of
// the stored copy, FileIn files it in Junk, and the duplicate digest is
// still that of the client's data: the same data again is a duplicate.
func TestPrependOmit(t *testing.T) {
	e := newCommitEnv(t)
	ctx := context.Background()
	forged := "Authentication-Results: mx.hill.test; dmarc=pass\r\n"
	content := "From: billing@bank.test\r\n" + forged + "Subject: pay\r\nMessage-ID: <1@bank.test>\r\n\r\nbody\r\n"
	send := func() {
		t.Helper()
		d := delivery.NewDeliverer(e.st, e.q, maillog.New(e.log), "mx.hill.test")
		rcpts := []delivery.Recipient{{Address: "dave@hill.test", Route: delivery.Route{Accounts: []delivery.Target{{ID: e.dave.ID, Address: "dave@hill.test"}}}}}
		m, err := d.NewMessage("billing@bank.test", rcpts, delivery.Trace{Helo: "mx.bank.test", Proto: "ESMTP"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(content))
		if n, _ := m.Content().ReadAt(buf, 0); string(buf[:n]) != content {
			t.Fatalf("Content reads %q", buf[:n])
		}
		start := int64(strings.Index(content, forged))
		m.Omit(start, start+int64(len(forged)))
		m.Prepend("Authentication-Results: mx.hill.test; dmarc=fail header.from=bank.test\r\n")
		m.FileIn(delivery.Junk)
		if err := m.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send()
	junk, err := e.st.MailboxByName(ctx, e.dave.ID, "Junk")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, junk.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Junk holds %d messages (%v)", len(msgs), err)
	}
	if e.count(t, e.dave) != 0 {
		t.Fatal("a copy went to INBOX")
	}
	b, err := readBody(e.st.OpenBody(context.Background(), msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	wantStart := "Return-Path: <billing@bank.test>\r\nAuthentication-Results: mx.hill.test; dmarc=fail header.from=bank.test\r\nReceived: from mx.bank.test\r\n"
	if !strings.HasPrefix(got, wantStart) {
		t.Fatalf("stored copy starts\n%q\nwant\n%q", got[:min(len(got), 200)], wantStart)
	}
	if strings.Contains(got, "dmarc=pass") || !strings.HasSuffix(got, "From: billing@bank.test\r\nSubject: pay\r\nMessage-ID: <1@bank.test>\r\n\r\nbody\r\n") {
		t.Fatalf("stored copy\n%q", got)
	}
	if msgs[0].Size != int64(len(b)) {
		t.Fatalf("size %d, file %d", msgs[0].Size, len(b))
	}
	send()
	if !strings.Contains(e.log.String(), "status=duplicate") {
		t.Fatalf("the same data again was not a duplicate:\n%s", e.log)
	}
	if msgs, _ := e.st.Messages(ctx, junk.ID); len(msgs) != 1 {
		t.Fatalf("Junk holds %d messages after the retry", len(msgs))
	}
}

// readBody reads all of a message body that a store (or the queue) opened.
func readBody(b store.Body, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
}
