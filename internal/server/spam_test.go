package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/store"
)

// TestSpamLearningWired: with [spam] set, an IMAP MOVE into Junk on a
// whole pail reaches the controller's learnspam and is counted in the
// metrics; with rspamd_controller = "" a MOVE into Junk works and teaches
// nothing.
func TestSpamLearningWired(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path+" "+r.Header.Get("Password"))
		mu.Unlock()
		io.WriteString(w, `{"success":true}`)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	base := "http://" + ln.Addr().String()

	for _, controller := range []string{base, ""} {
		cfg := config.Default()
		cfg.Hostname = "mx.hill.test"
		cfg.Domains = []string{"hill.test"}
		cfg.DataDir = t.TempDir()
		cfg.Listen = config.Listen{IMAP: "127.0.0.1:0"}
		cfg.Spam = config.Spam{Rspamd: base, RspamdController: controller, RspamdPassword: "q1", Timeout: config.Duration{Duration: 5 * time.Second}}
		ctx := context.Background()
		srv, err := New(ctx, cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MailLog: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		hash, _ := auth.HashPassword("pw")
		acct, err := srv.Store().AddAccount(ctx, "dave@hill.test", hash, false)
		if err != nil {
			t.Fatal(err)
		}
		sp, _ := srv.Store().NewSpool()
		sp.Write([]byte("Subject: cheap watches\r\n\r\nbuy now, limited offer\r\n"))
		if _, err := srv.Store().Deliver(ctx, sp, []store.Delivery{{AccountID: acct.ID}}); err != nil {
			t.Fatal(err)
		}
		srv.Start(io.Discard)
		c, err := imapclient.DialInsecure(srv.Addrs()["imap"], nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("dave@hill.test", "pw").Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Move(imap.SeqSetNum(1), "Junk").Wait(); err != nil {
			t.Fatalf("MOVE with controller %q: %v", controller, err)
		}
		c.Logout().Wait()
		deadline := time.Now().Add(5 * time.Second)
		for controller != "" && time.Now().Before(deadline) {
			var b strings.Builder
			srv.metrics.WriteTo(&b)
			if strings.Contains(b.String(), `pail_rspamd_learns_total{kind="spam",result="learned"} 1`) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		srv.Shutdown(sctx)
		cancel()
		mu.Lock()
		got := strings.Join(paths, ",")
		mu.Unlock()
		if got != "/learnspam q1" {
			t.Errorf("controller %q: rspamd got %q, want one learnspam with the password", controller, got)
		}
	}
}
