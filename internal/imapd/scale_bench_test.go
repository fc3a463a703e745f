package imapd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scaleMessages is the mailbox size of BenchmarkScale: large enough that
// the per-message cost dominates (issue 17 measures at 100 000; set
// PAIL_SCALE_MESSAGES for another size).
const scaleMessages = 10000

// scaleSize is scaleMessages, or PAIL_SCALE_MESSAGES when set.
func scaleSize(b *testing.B) int {
	s := os.Getenv("PAIL_SCALE_MESSAGES")
	if s == "" {
		return scaleMessages
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("PAIL_SCALE_MESSAGES=%q: not a count", s)
	}
	return n
}

// cpuTime is the CPU time (user and system) the process has used: the
// server and the client of the benchmark, as a loaded machine's wall
// time says little.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scaleNames are the senders of the generated mailbox; "zoe" is rare.
var scaleNames = []string{"Ann Arbor", "Bob Hill", "=?utf-8?q?Ch=C3=A9rie?= Dupont", "dave", "Eve Stone", "Frank Ode", "Gus Lake"}

// scaleMessage generates message i of the benchmark mailbox: a few
// header fields, every seventh one a multipart with an attachment.
func scaleMessage(i int) string {
	name := scaleNames[i%len(scaleNames)]
	if i%100 == 0 {
		name = "Zoe Quartz"
	}
	addr := strings.ToLower(strings.Fields(name)[0])
	h := fmt.Sprintf("From: %s <%s@example.org>\r\nTo: bob@hill.com, Team: a@x.org;\r\nSubject: report %d\r\n"+
		"Date: Mon, 02 Jan 2026 15:04:05 +0000\r\nMessage-ID: <%d@example.org>\r\nMIME-Version: 1.0\r\n", name, addr, i, i)
	body := strings.Repeat("the quick brown fox jumps over the lazy dog\r\n", 60)
	if i%1000 == 0 {
		body += "We sail for Zanzibar at dawn.\r\n" // the rare word of SearchText
	}
	if i%7 != 0 {
		return h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
	}
	return h + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + body +
		"\r\n--b\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
}

// BenchmarkScale times, over a real socket on a mailbox of scaleMessages
// generated messages, the operations of issue 17: FETCH 1:* (ENVELOPE),
// UID SEARCH FROM "zoe" (one sender in a hundred), UID SEARCH TEXT
// "zanzibar" (one message in a thousand), and STORE 1:* +FLAGS (\Seen)
// (alternating with -FLAGS so that each iteration changes every
// message), reporting the process's CPU time per operation as cpu-ns/op.
func BenchmarkScale(b *testing.B) {
	e := newEnv(b, nil)
	for i := range scaleSize(b) {
		e.deliver(b, e.acct.ID, "INBOX", scaleMessage(i))
	}
	// Every message fully indexed, as a mailbox is once the indexer has
	// caught up.
	if _, err := e.st.Reindex(context.Background(), e.acct.ID); err != nil {
		b.Fatal(err)
	}
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	run := func(b *testing.B, cmds ...string) {
		start := cpuTime(b)
		defer func() { b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op") }()
		for i := range b.N {
			c := cmds[i%len(cmds)]
			if got := r.cmd(c); !strings.Contains(got[len(got)-1], "OK") {
				b.Fatalf("%s: %q", c, got[len(got)-1])
			}
		}
	}
	b.Run("FetchEnvelope", func(b *testing.B) { run(b, "FETCH 1:* (ENVELOPE)") })
	b.Run("SearchFrom", func(b *testing.B) { run(b, `UID SEARCH FROM "zoe"`) })
	b.Run("SearchText", func(b *testing.B) { run(b, `UID SEARCH TEXT "zanzibar"`) })
	b.Run("StoreSeen", func(b *testing.B) { run(b, `STORE 1:* +FLAGS (\Seen)`, `STORE 1:* -FLAGS (\Seen)`) })
}
