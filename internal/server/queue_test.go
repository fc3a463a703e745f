package server

import (
	"context"
	"io"
	"strings"
	"testing"

	"pail/internal/delivery"
	"pail/internal/remote"
	"pail/internal/store"
)

// TestTransportDeliversLocalDomainsLocally checks the path a DSN to a
// local sender takes: the queue hands it to the transport, which stores it
// for known users and refuses unknown ones as a remote server would.
func TestTransportDeliversLocalDomainsLocally(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, err := st.AddAccount(ctx, "alice@town.test", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	isLocal := func(d string) bool { return d == "town.test" }
	router := delivery.NewRouter(st, isLocal, "")
	tr := &transport{isLocal: isLocal, router: router, local: delivery.NewDeliverer(st, nil, nil, "mx.town.test"), hostname: "mx.town.test"}

	msg := "From: MAILER-DAEMON@mx.town.test\r\nSubject: bounce\r\n\r\nsorry\r\n"
	res := tr.Deliver(ctx, "town.test", remote.Message{ID: "q1", Rcpts: []string{"alice@town.test", "nobody@town.test"}, Body: strings.NewReader(msg), Size: int64(len(msg))})
	if res[0].Status != remote.Delivered || res[1].Status != remote.Failed || res[1].Reply.Code != 550 {
		t.Fatalf("results %+v", res)
	}
	mb, err := st.MailboxByName(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, mb.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("INBOX %+v, %v", msgs, err)
	}
	data, err := readBody(st.OpenBody(context.Background(), msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "Return-Path: <>\r\nReceived: from mx.town.test\r\n\tby mx.town.test (pail) with LOCAL") || !strings.HasSuffix(string(data), msg) {
		t.Errorf("stored message:\n%s", data)
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
