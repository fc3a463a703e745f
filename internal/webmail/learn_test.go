package webmail

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/rspamd"
)

// TestMoveLearn: moving a message into Junk on the web page reaches
// rspamd's learnspam, out of Junk learnham; deleting from Junk (to Trash)
// teaches nothing.
func TestMoveLearn(t *testing.T) {
	var mu sync.Mutex
	var reqs []string // "path body"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, r.URL.Path+" "+string(b))
		mu.Unlock()
		io.WriteString(w, `{"success":true}`)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	list := func(n int) []string {
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := append([]string(nil), reqs...)
			mu.Unlock()
			if len(got) >= n || time.Now().After(deadline) {
				return got
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	base := "http://" + ln.Addr().String()
	client, err := rspamd.New(rspamd.Config{URL: base, ControllerURL: base, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{})
	l := rspamd.NewLearner(client, e.st, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e.deps.Learner = l
	e.restart()

	spam := e.deliver(jill, "", "Subject: cheap watches\n\nbuy now\n")
	ham := e.deliver(jill, "Junk", "Subject: lunch\n\nTuesday?\n")
	binned := e.deliver(jill, "Junk", "Subject: old\n\ngone\n")
	b := e.browser()
	b.login(jill)
	move := func(id int64, dest string) {
		t.Helper()
		form := url.Values{"csrf": {b.csrf()}, "op": {"move"}, "ids": {fmt.Sprint(id)}, "dest": {fmt.Sprint(e.mailboxID(jill, dest))}}
		if r := b.post("/action", form); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("move: %d", r.StatusCode)
		}
	}
	move(spam, "Junk")
	if got := list(1); len(got) != 1 || got[0] != "/learnspam Subject: cheap watches\r\n\r\nbuy now\r\n" {
		t.Fatalf("after a move into Junk: %q", got)
	}
	move(ham, "INBOX")
	if got := list(2); len(got) != 2 || got[1] != "/learnham Subject: lunch\r\n\r\nTuesday?\r\n" {
		t.Fatalf("after a move out of Junk: %q", got)
	}
	if r := b.action("delete", binned); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if len(e.folder(jill, "Trash")) != 1 {
		t.Fatal("delete did not move to Trash")
	}
	time.Sleep(200 * time.Millisecond)
	if got := list(0); len(got) != 2 || strings.Contains(strings.Join(got, ""), "gone") {
		t.Errorf("a delete from Junk taught rspamd: %q", got)
	}
}
