package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// bigMessage is a 256 KiB multipart/mixed message: a text part and a
// base64 attachment, for the benchmarks and tests of message bodies.
func bigMessage(i int) string {
	const line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\r\n"
	return fmt.Sprintf("From: Jack <jack@town.com>\r\nTo: bob@hill.com\r\nSubject: big %d\r\nMessage-ID: <big%d@town.com>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
		"--b\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n",
		i, i, strings.Repeat("Jack and Jill went up the hill.\r\n", 100), strings.Repeat(line, 256<<10/len(line)))
}

// BenchmarkFetchBody measures FETCH of message bodies over a real socket,
// 50 messages of 256 KiB each: the whole message (BODY.PEEK[], streamed),
// a 500-octet partial of it (BODY.PEEK[]<100000.500>, which reads only
// those octets), and the decoded attachment (BINARY.PEEK[2], RFC 3516).
func BenchmarkFetchBody(b *testing.B) {
	e := newEnv(b, nil)
	const n = 50
	for i := range n {
		e.deliver(b, e.acct.ID, "INBOX", bigMessage(i))
	}
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	for _, c := range []struct{ name, item string }{
		{"Whole", "BODY.PEEK[]"}, {"Partial", "BODY.PEEK[]<100000.500>"}, {"Binary", "BINARY.PEEK[2]"},
	} {
		b.Run(c.name, func(b *testing.B) {
			cmd := fmt.Sprintf("FETCH 1:%d (%s)", n, c.item)
			for range b.N {
				if got := r.cmd(cmd); !strings.Contains(got[len(got)-1], "OK") {
					b.Fatalf("%s: %q", cmd, got[len(got)-1])
				}
			}
		})
	}
}

// BenchmarkAppend measures APPEND over a real socket: one message of 64
// KiB, a MULTIAPPEND of 8 of them (RFC 3502, one transaction), and a
// CATENATE (RFC 4469) of a TEXT part and a stored 256 KiB message named
// by URL (copied by the kernel).
func BenchmarkAppend(b *testing.B) {
	e := newEnv(b, nil)
	e.deliver(b, e.acct.ID, "INBOX", bigMessage(0))
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("CREATE Bench")
	msg := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 62)+"\r\n", 64<<10/64)
	lit := fmt.Sprintf("{%d+}\r\n%s", len(msg), msg)
	text := "X-Catenated: yes\r\n"
	cmds := map[string]string{
		"Single":      "APPEND Bench " + lit,
		"Multi8":      "APPEND Bench" + strings.Repeat(" "+lit, 8),
		"CatenateURL": fmt.Sprintf("APPEND Bench CATENATE (TEXT {%d+}\r\n%s URL \"/INBOX/;UID=1\")", len(text), text),
	}
	for _, name := range []string{"Single", "Multi8", "CatenateURL"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if got := r.cmd(cmds[name]); !strings.Contains(got[len(got)-1], "OK") {
					b.Fatalf("%s: %q", name, got[len(got)-1])
				}
			}
		})
	}
}
