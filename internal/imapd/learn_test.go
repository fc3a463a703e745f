package imapd

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"pail/internal/rspamd"
	"pail/internal/store"
)

// learned is a real HTTP server on 127.0.0.1 standing where rspamd's
// controller would, recording the path and body of each request.
type learned struct {
	mu   sync.Mutex
	reqs []string // "path body"
}

func (l *learned) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

// TestMoveCopyLearn: MOVE or COPY into Junk reaches rspamd's learnspam,
// out of Junk learnham, out of Junk to Trash nothing; the IMAP commands
// never wait for it.
func TestMoveCopyLearn(t *testing.T) {
	rec := &learned{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.URL.Path+" "+string(b))
		rec.mu.Unlock()
		io.WriteString(w, `{"success":true}`)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	client, err := rspamd.New(rspamd.Config{URL: "http://" + ln.Addr().String(), ControllerURL: "http://" + ln.Addr().String(), Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(_ *Config, s *Server) {
		l := rspamd.NewLearner(client, s.deps.Store.(*store.Store), nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		s.deps.Learner = l
	})
	spam := "Subject: cheap watches\r\n\r\nbuy now\r\n"
	ham := "Subject: lunch\r\n\r\nTuesday?\r\n"
	e.deliver(t, e.acct.ID, "INBOX", spam)
	e.deliver(t, e.acct.ID, "Junk", ham)
	c := e.dial(t)
	c.ok("CREATE Old")
	wait := func(n int) []string {
		deadline := time.Now().Add(5 * time.Second)
		for len(rec.list()) < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		return rec.list()
	}
	c.ok("SELECT INBOX")
	c.ok("MOVE 1 Junk")
	if got := wait(1); len(got) != 1 || got[0] != "/learnspam "+spam {
		t.Fatalf("after MOVE into Junk: %q", got)
	}
	c.ok("SELECT Junk")
	// Junk holds ham (1) and spam (2).
	c.ok("COPY 1 Old")
	if got := wait(2); len(got) != 2 || got[1] != "/learnham "+ham {
		t.Fatalf("after COPY out of Junk: %q", got)
	}
	c.ok("MOVE 2 Trash")
	c.ok("SELECT Old")
	c.ok("COPY 1 INBOX")
	time.Sleep(200 * time.Millisecond)
	if got := rec.list(); len(got) != 2 {
		t.Errorf("Junk to Trash or between other mailboxes taught rspamd: %q", got)
	}
}
