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
