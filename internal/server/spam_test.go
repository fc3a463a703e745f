package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

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
		sp, _ := srv.Store().NewBody()
		sp.Write([]byte("Subject: cheap watches\r\n\r\nbuy now, limited offer\r\n"))
		if _, err := srv.Store().DeliverBody(ctx, sp, []store.Delivery{{AccountID: acct.ID}}); err != nil {
			t.Fatal(err)
		}
		srv.Start(io.Discard)
		if err := imapConverse(srv.Addrs()["imap"], `LOGIN dave@hill.test pw`, "SELECT INBOX", "MOVE 1 Junk", "LOGOUT"); err != nil {
			t.Fatalf("controller %q: %v", controller, err)
		}
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

// imapConverse sends each command tagged on one IMAP connection and
// fails unless every tagged reply is OK (RFC 9051 §7.1).
func imapConverse(addr string, cmds ...string) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
		return fmt.Errorf("greeting %q: %v", l, err)
	}
	for i, cmd := range cmds {
		tag := fmt.Sprintf("a%d", i)
		if _, err := fmt.Fprintf(nc, "%s %s\r\n", tag, cmd); err != nil {
			return err
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
			if rest, ok := strings.CutPrefix(l, tag+" "); ok {
				if !strings.HasPrefix(rest, "OK") {
					return fmt.Errorf("%s: %s", cmd, strings.TrimSpace(rest))
				}
				break
			}
		}
	}
	return nil
}

// TestRspamdAtEndOfData: with [spam] rspamd set, and [inbound] checks off
// (rspamd judges on its own), every message on the MX port goes to
// rspamd at the end of DATA: reject is refused 554 5.7.1 and stored
// nowhere, add header files the message in Junk, no action in the INBOX,
// each with rspamd's X-Spam-* fields instead of the sender's; a dead
// rspamd delivers the message and counts the failure.
func TestRspamdAtEndOfData(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		switch {
		case r.URL.Path != "/checkv2":
			w.WriteHeader(http.StatusNotFound)
		case strings.Contains(string(body), "GTUBE"):
			io.WriteString(w, `{"action":"reject","score":1000,"required_score":15,"messages":{"smtp_message":"Gtube pattern"}}`)
		case strings.Contains(string(body), "cheap watches"):
			io.WriteString(w, `{"action":"add header","score":7,"required_score":15,"symbols":{"BAYES_SPAM":{"name":"BAYES_SPAM","score":7}}}`)
		default:
			io.WriteString(w, `{"action":"no action","score":0.5,"required_score":15}`)
		}
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()

	start := func(rspamdURL string) *Server {
		cfg := config.Default()
		cfg.Hostname = "mx.hill.test"
		cfg.Domains = []string{"hill.test"}
		cfg.DataDir = t.TempDir()
		cfg.Listen = config.Listen{SMTP: "127.0.0.1:0"}
		cfg.Inbound.Checks = false
		cfg.Spam = config.Spam{Rspamd: rspamdURL, Timeout: config.Duration{Duration: 2 * time.Second}}
		srv, err := New(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MailLog: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		hash, _ := auth.HashPassword("pw")
		if _, err := srv.Store().AddAccount(context.Background(), "bob@hill.test", hash, false); err != nil {
			t.Fatal(err)
		}
		srv.Start(io.Discard)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		})
		return srv
	}
	// send runs one transaction with net/smtp and returns the error of
	// the end of DATA (nil: 250).
	send := func(srv *Server, subject, body string) error {
		t.Helper()
		c, err := smtp.Dial(srv.Addrs()["smtp"])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("mail.far.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("jack@far.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("bob@hill.test"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "From: jack@far.test\r\nTo: bob@hill.test\r\nX-Spam-Status: No, score=-100\r\nSubject: "+subject+"\r\n\r\n"+body+"\r\n")
		err = w.Close()
		c.Quit()
		return err
	}
	folder := func(srv *Server, name string) []string {
		t.Helper()
		ctx := context.Background()
		acct, err := srv.Store().AccountByAddress(ctx, "bob@hill.test")
		if err != nil {
			t.Fatal(err)
		}
		mb, err := srv.Store().MailboxByName(ctx, acct.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := srv.Store().Messages(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			b, err := readBody(srv.Store().OpenBody(context.Background(), m))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		return out
	}

	srv := start("http://" + ln.Addr().String())
	err = send(srv, "test", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 554 || !strings.HasPrefix(te.Msg, "5.7.1 Gtube pattern") {
		t.Fatalf("GTUBE: %v, want 554 5.7.1", err)
	}
	if err := send(srv, "offer", "cheap watches, buy now"); err != nil {
		t.Fatalf("add header: %v", err)
	}
	if err := send(srv, "lunch", "Shall we meet on Tuesday?"); err != nil {
		t.Fatalf("no action: %v", err)
	}
	inbox, junk := folder(srv, "INBOX"), folder(srv, "Junk")
	if len(inbox) != 1 || len(junk) != 1 {
		t.Fatalf("INBOX %d, Junk %d messages; want 1 and 1 (GTUBE stored nowhere)", len(inbox), len(junk))
	}
	if m := junk[0]; !strings.Contains(m, "Subject: offer") || !strings.Contains(m, "X-Spam-Flag: YES\r\n") ||
		!strings.Contains(m, "X-Spam-Status: Yes, score=7.00 required=15.00 tests=BAYES_SPAM\r\n") || strings.Contains(m, "score=-100") {
		t.Errorf("Junk:\n%s", m)
	}
	if m := inbox[0]; !strings.Contains(m, "Subject: lunch") || !strings.Contains(m, "X-Spam-Status: No, score=0.50 required=15.00\r\n") ||
		!strings.Contains(m, "X-Spam-Action: no action\r\n") || strings.Contains(m, "X-Spam-Flag") || strings.Contains(m, "score=-100") ||
		strings.Contains(m, "Authentication-Results") {
		t.Errorf("INBOX:\n%s", m)
	}
	mu.Lock()
	h := got[len(got)-1]
	mu.Unlock()
	if h.Get("Ip") != "127.0.0.1" || h.Get("Helo") != "mail.far.test" || h.Get("From") != "jack@far.test" ||
		h.Get("Rcpt") != "bob@hill.test" || h.Get("Mta-Name") != "mx.hill.test" || h.Get("Queue-Id") == "" {
		t.Errorf("rspamd got headers %v", h)
	}

	// rspamd down: delivered all the same, the failure counted.
	srv = start(deadURL)
	if err := send(srv, "lunch", "Shall we meet on Tuesday?"); err != nil {
		t.Fatalf("rspamd down: %v", err)
	}
	if in := folder(srv, "INBOX"); len(in) != 1 || strings.Contains(in[0], "X-Spam-Status") {
		t.Fatalf("rspamd down: INBOX %q", in)
	}
	var b strings.Builder
	srv.metrics.WriteTo(&b)
	if !strings.Contains(b.String(), `pail_rspamd_checks_total{result="error"} 1`) {
		t.Errorf("metrics:\n%s", b.String())
	}
}
