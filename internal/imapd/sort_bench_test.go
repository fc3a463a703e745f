package imapd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/store"
)

// sortScaleMessages is the mailbox size of BenchmarkScaleSort: issue 17's
// 100 000 messages.
const sortScaleMessages = 100000

// sortScaleThread is how many messages one generated conversation has.
const sortScaleThread = 5

// sortScaleMessage generates message i of BenchmarkScaleSort's mailbox:
// conversations of sortScaleThread messages, each reply with "Re: " and
// References to the ones before it, dates an hour apart and not in
// arrival order, senders and sizes varied.
func sortScaleMessage(i int) (string, time.Time) {
	conv, n := i/sortScaleThread, i%sortScaleThread
	name := scaleNames[i%len(scaleNames)]
	addr := strings.ToLower(strings.Fields(name)[0])
	subject := fmt.Sprintf("topic %d", conv)
	var refs []string
	for k := range n {
		refs = append(refs, fmt.Sprintf("<%d.%d@example.org>", conv, k))
		subject = "Re: " + fmt.Sprintf("topic %d", conv)
	}
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration((i*7919)%sortScaleMessages) * time.Minute)
	h := fmt.Sprintf("From: %s <%s@example.org>\r\nTo: bob@hill.com\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.%d@example.org>\r\n",
		name, addr, subject, date.Format(time.RFC1123Z), conv, n)
	if len(refs) > 0 {
		h += "References: " + strings.Join(refs, " ") + "\r\nIn-Reply-To: " + refs[len(refs)-1] + "\r\n"
	}
	body := strings.Repeat("the quick brown fox jumps over the lazy dog\r\n", 10+i%50)
	return h + "\r\n" + body, date.Add(time.Duration(i%13) * time.Hour)
}

// BenchmarkScaleSort times SORT and THREAD over a real socket on a
// mailbox of sortScaleMessages generated messages whose files have been
// deleted: every answer comes from the fields kept at delivery (issue 17),
// and a command that read a file would fail its check.
func BenchmarkScaleSort(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	// Deliveries in parallel share their commits.
	var wg sync.WaitGroup
	const workers = 16
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < sortScaleMessages; i += workers {
				msg, arrival := sortScaleMessage(i)
				sp, err := e.st.NewBody()
				if err != nil {
					errs <- err
					return
				}
				sp.Write([]byte(msg))
				if _, err := e.st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: e.acct.ID, Mailbox: "INBOX", Date: arrival}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	dropFiles(b, e)
	r := dialRaw(b, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	slowCmd(b, r, "SELECT INBOX")
	run := func(b *testing.B, cmd, prefix string, check func(string) bool) {
		for range b.N {
			got := slowCmd(b, r, cmd)
			if len(got) != 2 || !strings.HasPrefix(got[0], prefix) || !check(got[0]) || !strings.Contains(got[1], "OK") {
				b.Fatalf("%s: %.200q", cmd, got)
			}
		}
	}
	all := func(s string) bool { return strings.Count(s, " ") == sortScaleMessages+1 }
	threads := func(s string) bool { return topLevel(s) == sortScaleMessages/sortScaleThread }
	b.Run("SortDate", func(b *testing.B) { run(b, "UID SORT (DATE) UTF-8 ALL", "* SORT ", all) })
	b.Run("SortSubjectFrom", func(b *testing.B) { run(b, "SORT (SUBJECT REVERSE FROM) UTF-8 ALL", "* SORT ", all) })
	b.Run("SortArrivalMin", func(b *testing.B) {
		run(b, "SORT RETURN (MIN COUNT) (ARRIVAL) UTF-8 ALL", "* ESEARCH ", func(s string) bool {
			return strings.HasSuffix(s, fmt.Sprintf(" COUNT %d", sortScaleMessages))
		})
	})
	b.Run("ThreadReferences", func(b *testing.B) { run(b, "THREAD REFERENCES UTF-8 ALL", "* THREAD (", threads) })
	b.Run("ThreadOrderedSubject", func(b *testing.B) { run(b, "THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (", threads) })
}

// slowCmd is raw.cmd with a deadline long enough for a whole mailbox's
// answer on a busy machine.
func slowCmd(b *testing.B, r *raw, line string) []string {
	b.Helper()
	const slowReply = 2 * time.Minute
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	fmt.Fprintf(r.c, "%s %s\r\n", tag, line)
	var out []string
	for {
		r.c.SetReadDeadline(time.Now().Add(slowReply))
		l, err := r.br.ReadString('\n')
		if err != nil {
			b.Fatalf("%s: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// topLevel counts the threads of a THREAD response: its groups at depth 0.
func topLevel(s string) int {
	n, depth := 0, 0
	for _, c := range s {
		switch c {
		case '(':
			if depth == 0 {
				n++
			}
			depth++
		case ')':
			depth--
		}
	}
	return n
}
