package pop3d

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pail/internal/store"
)

// linesOf returns CRLF lines of 'x' that fill exactly n octets (n >= 2).
func linesOf(n int) string {
	var b strings.Builder
	for n > 0 {
		l := min(n, 800)
		if n-l == 1 { // leave room for a last line of at least CRLF
			l--
		}
		b.WriteString(strings.Repeat("x", l-2) + "\r\n")
		n -= l
	}
	return b.String()
}

// wire reads the body of a multi-line response exactly as sent, up to and
// including the terminating ".".
func (c *client) wire() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("multi-line response: %v after %d octets", err, b.Len())
		}
		b.WriteString(l)
		if l == ".\r\n" {
			return b.String()
		}
	}
}

// TestRetrAcrossReadBuffers sends messages whose special places fall
// where RETR's read buffer ends: a line starting with "." as the first
// octet of the second buffer, a CRLF split between two buffers, messages
// of exactly one buffer and one octet more, without a final CRLF.
func TestRetrAcrossReadBuffers(t *testing.T) {
	head := "Subject: boundary\r\n\r\n"
	msgs := []string{
		head + linesOf(readBufSize-len(head)) + ".dot at the boundary\r\n..two\r\n.\r\nend",
		head + linesOf(readBufSize-len(head)-1) + "\r\n.after a split CRLF\r\n",
		head + linesOf(readBufSize-len(head)-3) + ".\r\n" + ".\r\n",
		head + linesOf(readBufSize-len(head)-4) + "abcd",
		head + linesOf(readBufSize-len(head)-4) + "abcde",
		head + linesOf(readBufSize-len(head)-2) + "\r\n",
		head + linesOf(3*readBufSize) + ".x\r\n" + linesOf(readBufSize-1) + ".",
	}
	env := newTestEnv(t, testOpts{})
	for _, m := range msgs {
		deliver(t, env.st, env.acct.ID, m)
	}
	c := dial(t, env.addr)
	c.login(testUser)
	for i, m := range msgs {
		n := len(fixture) + i + 1
		c.cmd(fmt.Sprintf("RETR %d", n), fmt.Sprintf(`\+OK %d octets`, len(m)))
		if got, want := c.wire(), stuffByByte(m); got != want {
			t.Errorf("RETR %d: got %d octets, want %d; first difference at %d", n, len(got), len(want), firstDiff(got, want))
		}
	}
	c.cmd("QUIT", `\+OK.*`)
}

// truncate cuts the file holding the INBOX's message n (from 1) to size
// octets. The store keeps the file's name to itself, so it is found by
// its bytes among the message files under mail/ in the store's directory.
func truncate(t *testing.T, st *store.Store, accountID int64, n int, size int64) {
	t.Helper()
	ctx := context.Background()
	mb, err := st.MailboxByName(ctx, accountID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, err := st.OpenBody(ctx, msgs[n-1])
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(io.NewSectionReader(body, 0, body.Size()))
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	err = filepath.WalkDir(filepath.Join(st.Dir(), "mail"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, want) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("message %d: %d files hold its bytes, want 1", n, len(found))
	}
	if err := os.Truncate(found[0], size); err != nil {
		t.Fatal(err)
	}
}

// TestRetrShortFile: a message file shorter than its recorded size (a
// damaged store) gives -ERR when that shows before the +OK, and ends the
// connection without the terminating "." when it shows after, so that the
// client never takes a cut message for a whole one.
func TestRetrShortFile(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	deliver(t, env.st, env.acct.ID, "Subject: big\r\n\r\n"+linesOf(2*readBufSize))
	truncate(t, env.st, env.acct.ID, 1, 10)
	truncate(t, env.st, env.acct.ID, 4, readBufSize+100)
	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("RETR 1", `-ERR \[SYS/TEMP\] .*`)
	c.cmd("RETR 2", `\+OK.*`)
	c.wire()
	c.cmd("RETR 4", `\+OK.*`)
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			break
		}
		if l == ".\r\n" {
			t.Fatal("RETR of a short file ended with the terminating line")
		}
	}
}
