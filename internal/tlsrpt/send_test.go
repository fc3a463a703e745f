package tlsrpt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"pail/internal/reporting/reportingtest"
)

// zoneTXT answers TXT lookups from a map, as the project's resolver
// would from DNS.
type zoneTXT map[string][]string

func (z zoneTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	v, ok := z[name]
	switch {
	case ok && v == nil:
		return nil, errors.New("SERVFAIL")
	case !ok:
		// As net.Resolver and internal/resolve say NXDOMAIN.
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return v, nil
}

func seed(t *testing.T, db *DB, day time.Time, outcomes ...Outcome) {
	t.Helper()
	reportingtest.Seed(t, NewRecorder(db, RecorderConfig{FlushInterval: time.Hour, Now: fixedClock(day)}), outcomes...)
}

// TestSenderSendsOnce sends a day's report to a mailto: and an https:
// rua, once: a second run and a new Sender on the reopened database (a
// restart) send nothing more.
func TestSenderSendsOnce(t *testing.T) {
	ctx := context.Background()
	var posts [][]byte
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			http.Error(w, "bad request", 400)
			return
		}
		mu.Lock()
		posts = append(posts, body)
		mu.Unlock()
	}))
	defer srv.Close()

	dir := t.TempDir()
	db := openTestDB(t, dir)
	day := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	seed(t, db, day,
		Outcome{PolicyDomain: "hill.test", PolicyType: PolicyNone, MXHost: "mx.hill.test", Success: true},
		Outcome{PolicyDomain: "hill.test", PolicyType: PolicyNone, MXHost: "mx.hill.test", Failure: ResultSTARTTLSNotSupported, ReceivingIP: "127.0.0.2"},
		Outcome{PolicyDomain: "quiet.test", PolicyType: PolicyNone, MXHost: "mx.quiet.test", Success: true},
	)
	zone := zoneTXT{"_smtp._tls.hill.test": {"v=TLSRPTv1; rua=mailto:reports@hill.test," + srv.URL + "/tlsrpt"}}
	mb := &reportingtest.Mailbox{}
	newSender := func(db *DB) *Sender {
		return &Sender{DB: db, Resolver: zone, Enqueue: mb.Enqueue, HTTP: srv.Client(), Submitter: testSubmitter,
			From: "postmaster@ash.test", Now: fixedClock(day.Add(24 * time.Hour))}
	}
	res, err := newSender(db).SendDay(ctx, "2026-12-06")
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.Skipped != 1 || res.Failed != 0 {
		t.Errorf("first run: %+v, want 2 sent and quiet.test (no policy) skipped", res)
	}
	if mb.Count() != 1 || mb.To[0] != "reports@hill.test" || len(posts) != 1 {
		t.Fatalf("mails %d to %v, posts %d", mb.Count(), mb.To, len(posts))
	}
	rep, err := ParseReport(bytes.NewReader(posts[0]), true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Policies[0].Summary != (Summary{Successful: 1, Failed: 1}) {
		t.Errorf("posted report %+v", rep.Policies)
	}
	if _, err := newSender(db).SendDay(ctx, "2026-12-06"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openTestDB(t, dir)
	res, err = newSender(db).SendDay(ctx, "2026-12-06")
	if err != nil {
		t.Fatal(err)
	}
	if mb.Count() != 1 || len(posts) != 1 || res.Sent != 0 {
		t.Errorf("after a second run and a restart: %d mails, %d posts, %+v; want 1, 1, nothing sent", mb.Count(), len(posts), res)
	}
}

// TestSenderRetries tries a failing rua again on the next run and gives
// up after MaxAttempts; a failed lookup is tried again too.
func TestSenderRetries(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, t.TempDir())
	day := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	seed(t, db, day, Outcome{PolicyDomain: "hill.test", PolicyType: PolicyNone, Success: true},
		Outcome{PolicyDomain: "dead.test", PolicyType: PolicyNone, Success: true})
	mb := &reportingtest.Mailbox{Fail: true}
	zone := zoneTXT{"_smtp._tls.hill.test": {"v=TLSRPTv1; rua=mailto:reports@hill.test"}, "_smtp._tls.dead.test": nil}
	s := &Sender{DB: db, Resolver: zone, Enqueue: mb.Enqueue, Submitter: testSubmitter, From: "postmaster@ash.test"}
	for i := 1; i < MaxAttempts; i++ {
		res, err := s.SendDay(ctx, "2026-12-06")
		if err != nil || res.Failed != 2 {
			t.Fatalf("run %d: %+v %v, want 2 failed", i, res, err)
		}
	}
	mb.Fail = false
	zone["_smtp._tls.dead.test"] = []string{}
	res, err := s.SendDay(ctx, "2026-12-06")
	if err != nil || res.Sent != 1 || res.Skipped != 1 {
		t.Fatalf("last allowed try: %+v %v, want 1 sent", res, err)
	}
	seed(t, db, day, Outcome{PolicyDomain: "late.test", PolicyType: PolicyNone, Success: true})
	zone["_smtp._tls.late.test"] = []string{"v=TLSRPTv1; rua=mailto:r@late.test"}
	mb.Fail = true
	for range MaxAttempts {
		res, _ = s.SendDay(ctx, "2026-12-06")
	}
	if res.GaveUp != 1 {
		t.Errorf("after %d failures: %+v, want it given up", MaxAttempts, res)
	}
	mb.Fail = false
	if res, _ = s.SendDay(ctx, "2026-12-06"); res.Sent != 0 {
		t.Errorf("a given-up report was sent: %+v", res)
	}
	sent, _ := db.SentFor(ctx, "2026-12-06", "late.test")
	if len(sent) != 1 || sent[0].State != StateGaveUp || sent[0].Attempts != MaxAttempts {
		t.Errorf("record %+v", sent)
	}
}

// TestSchedulerOnce runs the scheduler, restarts it on the same
// database, and sees the previous day's report sent once.
func TestSchedulerOnce(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	mb := &reportingtest.Mailbox{}
	zone := zoneTXT{"_smtp._tls.hill.test": {"v=TLSRPTv1; rua=mailto:reports@hill.test"}}
	for run := range 2 {
		db := openTestDB(t, dir)
		if run == 0 {
			seed(t, db, day, Outcome{PolicyDomain: "hill.test", PolicyType: PolicyNone, Success: true})
		}
		now := fixedClock(day.Add(15 * time.Hour)) // 01:00 UTC the next day
		sc := &Scheduler{Sender: &Sender{DB: db, Resolver: zone, Enqueue: mb.Enqueue, Submitter: testSubmitter, From: "postmaster@ash.test", Now: now},
			StartDelay: time.Millisecond, Now: now}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sc.Run(ctx); close(done) }()
		deadline := time.Now().Add(5 * time.Second)
		for {
			sent, _ := db.SentFor(context.Background(), "2026-12-06", "hill.test")
			if len(sent) == 1 && sent[0].Updated.Equal(now()) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		cancel()
		<-done
		db.Close()
	}
	if mb.Count() != 1 {
		t.Errorf("%d reports sent over two runs, want 1", mb.Count())
	}
}
