package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkSession measures one logged-in session's read path over a real
// socket: per iteration a NOOP, a FETCH of 50 whole messages, a SEARCH, and
// an APPEND of 8 KiB as a non-synchronizing literal.
func BenchmarkSession(b *testing.B) {
	e := newEnv(b, nil)
	for range 50 {
		e.deliver(b, e.acct.ID, "INBOX", testMsg)
	}
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("CREATE Bench")
	r.cmd("SELECT INBOX")
	msg := strings.Repeat("x", 8<<10-2) + "\r\n"
	appendCmd := fmt.Sprintf("APPEND Bench {%d+}\r\n%s", len(msg), msg)
	b.ResetTimer()
	for range b.N {
		for _, c := range []string{"NOOP", "FETCH 1:50 (FLAGS BODY.PEEK[])", "SEARCH SUBJECT pail", appendCmd} {
			if got := r.cmd(c); !strings.Contains(got[len(got)-1], "OK") {
				b.Fatalf("%.20q: %q", c, got[len(got)-1])
			}
		}
	}
}

// BenchmarkCopyMove measures COPY and MOVE over a real socket: per
// iteration a COPY of 10 messages into the selected mailbox itself and a
// MOVE of those 10 copies to another mailbox.
func BenchmarkCopyMove(b *testing.B) {
	e := newEnv(b, nil)
	for range 50 {
		e.deliver(b, e.acct.ID, "INBOX", testMsg)
	}
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("CREATE Bench")
	r.cmd("SELECT INBOX")
	b.ResetTimer()
	for range b.N {
		for _, c := range []string{"COPY 1:10 INBOX", "MOVE 51:60 Bench"} {
			if got := r.cmd(c); !strings.Contains(got[len(got)-1], "OK") {
				b.Fatalf("%.20q: %q", c, got[len(got)-1])
			}
		}
	}
}

// BenchmarkFetchPreview measures FETCH of PREVIEW (RFC 8970) for 200
// messages, each a multipart/alternative with plain and HTML text, over
// a real socket: the previews kept at delivery are read in one query
// (store.KeptPreviews), no file is opened. ENVELOPE, kept the same way,
// is the yardstick.
func BenchmarkFetchPreview(b *testing.B) {
	e := newEnv(b, nil)
	const n = 200
	for i := range n {
		e.deliver(b, e.acct.ID, "INBOX", fmt.Sprintf("From: Jack <jack@town.com>\r\nTo: bob@hill.com\r\nSubject: note %d\r\nMessage-ID: <%d@town.com>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
			"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>%s</p>\r\n--b--\r\n", i, i, strings.Repeat("Jack and Jill went up the hill. ", 40), strings.Repeat("<b>Jack</b> and Jill. ", 40)))
	}
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	for _, item := range []string{"PREVIEW", "PREVIEW (LAZY)", "ENVELOPE"} {
		b.Run(strings.ReplaceAll(item, " ", ""), func(b *testing.B) {
			cmd := fmt.Sprintf("FETCH 1:%d (UID %s)", n, item)
			for range b.N {
				if got := r.cmd(cmd); len(got) != n+1 || !strings.Contains(got[n], "OK") {
					b.Fatalf("%s: %d lines, %q", cmd, len(got), got[len(got)-1])
				}
			}
		})
	}
}
