package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/dmarcrpt"
	"pail/internal/reporting"
	"pail/internal/resolve/resolvetest"
)

// sink is an SMTP server on loopback that keeps what it is sent.
type sink struct {
	addr string
	mu   sync.Mutex
	msgs []string
	rcpt []string
	got  chan struct{}
}

func startSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: ln.Addr().String(), got: make(chan struct{}, 10)}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "mx.sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

type sinkSession struct {
	s  *sink
	to []string
}

func (ss *sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, string(b))
	ss.s.rcpt = append(ss.s.rcpt, ss.to...)
	ss.s.mu.Unlock()
	ss.s.got <- struct{}{}
	return nil
}
func (ss *sinkSession) Reset()        { ss.to = nil }
func (ss *sinkSession) Logout() error { return nil }

// sendPlain sends msg over SMTP without STARTTLS (the server's
// certificate is self-signed).
func sendPlain(t *testing.T, addr, from, to, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.town.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
}

// TestDMARCReportsWired receives mail on the MX port with the checks on
// (town.test's records served by a name server on loopback), finds its
// DMARC result counted, and has the daily scheduler, its clock a day
// ahead, send the report through pail's queue to the rua's server, a
// sink on loopback, after the external destination check.
func TestDMARCReportsWired(t *testing.T) {
	dns := resolvetest.Start(t, []string{
		`town.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.town.test. TXT "v=DMARC1; p=reject; rua=mailto:agg@sink.test"`,
		`town.test._report._dmarc.sink.test. TXT "v=DMARC1"`,
	})
	sk := startSink(t)
	cfg := config.Default()
	cfg.Hostname = "mx.hill.test"
	cfg.Domains = []string{"hill.test"}
	cfg.DataDir = t.TempDir()
	cfg.Resolver = dns.Addr
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0"}
	cfg.Outbound.Routes = map[string]string{"sink.test": sk.addr}
	ctx := context.Background()
	srv, err := New(ctx, cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MailLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("pw")
	if _, err := srv.Store().AddAccount(ctx, "jill@hill.test", hash, false); err != nil {
		t.Fatal(err)
	}
	srv.Start(io.Discard)
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	for range 2 {
		msg := "From: Jack <jack@town.test>\r\nTo: jill@hill.test\r\nSubject: hi\r\nMessage-ID: <" + reporting.RandomHex(8) + "@town.test>\r\n\r\nHello.\r\n"
		sendPlain(t, srv.Addrs()["smtp"], "jack@town.test", "jill@hill.test", msg)
	}
	if err := srv.dmarc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := dmarcrpt.Open(ctx, dmarcrpt.DirIn(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	today := reporting.Day(time.Now())
	counts, err := db.Counts(ctx, today, "town.test")
	if err != nil || len(counts) != 1 || counts[0].Messages != 2 || !counts[0].Outcome.SPFAligned || counts[0].Outcome.SourceIP != "127.0.0.1" {
		t.Fatalf("counts %+v %v, want 2 messages passing by SPF from 127.0.0.1", counts, err)
	}

	sched := srv.dmarcSched
	sched.Now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	sched.StartDelay = time.Millisecond
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sched.Run(sctx); close(done) }()
	defer func() { stop(); <-done }()
	select {
	case <-sk.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no report reached the sink")
	}
	sk.mu.Lock()
	msg, rcpt := sk.msgs[0], sk.rcpt
	sk.mu.Unlock()
	if len(rcpt) != 1 || rcpt[0] != "agg@sink.test" {
		t.Errorf("report sent to %v", rcpt)
	}
	if !strings.Contains(msg, "DKIM-Signature:") || !strings.Contains(msg, "Subject: Report Domain: town.test Submitter: mx.hill.test Report-ID: <") {
		t.Errorf("report mail not signed or not titled as RFC 7489 §7.2.1.1 says:\n%.1500s", msg)
	}
	reps, err := dmarcrpt.ExtractReports(strings.NewReader(msg))
	if err != nil || len(reps) != 1 {
		t.Fatalf("reports in the mail: %v %v", reps, err)
	}
	r := reps[0].Report
	if r.Metadata.OrgName != "mx.hill.test" || r.Metadata.Email != "postmaster@mx.hill.test" || r.Policy.Domain != "town.test" ||
		len(r.Records) != 1 || r.Records[0].Row.Count != 2 || r.Records[0].Row.PolicyEvaluated.SPF != "pass" {
		t.Errorf("report %+v", r)
	}
}
