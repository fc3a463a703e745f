package delivery

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"pail/internal/maillog"
	"pail/internal/store"
)

func TestSubmit(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	jill, _ := st.AddAccount(ctx, "jill@hill.com", "h", false)
	bob, _ := st.AddAccount(ctx, "bob@hill.com", "h", false)
	r := NewRouter(st, func(d string) bool { return d == "hill.com" }, "")
	d := NewDeliverer(st, nil, maillog.New(&strings.Builder{}), "mx.hill.com")
	tr := Trace{Helo: "webmail", Proto: "HTTP"}

	if _, err := d.Submit(ctx, r, jill, "bob@hill.com", []string{"bob@hill.com"}, strings.NewReader("x\r\n"), tr); !errors.Is(err, ErrSenderNotOwned) {
		t.Errorf("foreign sender: %v", err)
	}
	// The header From follows the envelope sender's rule.
	if _, err := d.Submit(ctx, r, jill, "jill@hill.com", []string{"bob@hill.com"}, strings.NewReader("From: bob@hill.com\r\n\r\nx\r\n"), tr); !errors.Is(err, ErrAuthorNotOwned) {
		t.Errorf("foreign header From: %v", err)
	}
	var re *RecipientError
	if _, err := d.Submit(ctx, r, jill, "jill@hill.com", []string{"nobody@hill.com"}, strings.NewReader("x\r\n"), tr); !errors.As(err, &re) {
		t.Errorf("unknown recipient: %v", err)
	}
	if _, err := d.Submit(ctx, r, jill, "jill@hill.com", []string{"carol@elsewhere.net"}, strings.NewReader("x\r\n"), tr); !errors.Is(err, ErrNoQueue) {
		t.Errorf("remote without queue: %v", err)
	}
	id, err := d.Submit(ctx, r, jill, "jill@hill.com", []string{"bob@hill.com"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"), tr)
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := st.MailboxByName(ctx, bob.ID, "INBOX")
	msgs, _ := st.Messages(ctx, inbox.ID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	b, _ := readBody(st.OpenBody(context.Background(), msgs[0]))
	m := string(b)
	if !strings.Contains(m, "Message-ID: <"+id+"@mx.hill.com>\r\n") || !strings.Contains(m, "\r\nDate: ") || !strings.HasSuffix(m, "Subject: hi\r\n\r\nhello\r\n") {
		t.Errorf("message:\n%s", m)
	}
}

// readBody reads all of a message body that the store opened.
func readBody(b store.Body, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
}
