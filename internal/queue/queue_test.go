package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/maillog"
	"pail/internal/pgtest"
	"pail/internal/remote"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// call is one Deliver call a fakeDeliverer saw.
type call struct {
	domain string
	from   string
	rcpts  []string
	body   string
}

// fakeDeliverer records calls and answers with fn (nil: all delivered).
type fakeDeliverer struct {
	fn func(ctx context.Context, domain string, rcpt string) remote.Status

	mu      sync.Mutex
	calls   []call
	active  map[string]int
	maxSeen map[string]int
}

func (f *fakeDeliverer) Deliver(ctx context.Context, domain string, m remote.Message) []remote.Result {
	body, _ := io.ReadAll(io.NewSectionReader(m.Body, 0, m.Size))
	f.mu.Lock()
	if f.active == nil {
		f.active, f.maxSeen = map[string]int{}, map[string]int{}
	}
	f.calls = append(f.calls, call{domain, m.From, m.Rcpts, string(body)})
	f.active[domain]++
	f.active[""]++
	f.maxSeen[domain] = max(f.maxSeen[domain], f.active[domain])
	f.maxSeen[""] = max(f.maxSeen[""], f.active[""])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active[domain]--
		f.active[""]--
		f.mu.Unlock()
	}()
	out := make([]remote.Result, len(m.Rcpts))
	for i, r := range m.Rcpts {
		st := remote.Delivered
		if f.fn != nil {
			st = f.fn(ctx, domain, r)
		}
		out[i] = remote.Result{Rcpt: r, Status: st, RemoteMTA: "mx." + domain, Addr: "192.0.2.1:25"}
		switch st {
		case remote.Delivered:
			out[i].Reply = remote.Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}
		case remote.Failed:
			out[i].Reply = remote.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user here"}
		case remote.Deferred:
			out[i].Reply = remote.Reply{Code: 451, Enhanced: "4.3.0", Text: "Try again later"}
		}
	}
	return out
}

func (f *fakeDeliverer) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// cluster is the private PostgreSQL server of this package's tests.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(leaseHolderChild())
	}
	c, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Close()
	os.Exit(code)
}

// newDatabase returns the URL of a fresh PostgreSQL database.
func newDatabase(t *testing.T) string {
	t.Helper()
	url, err := cluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// eachBackend runs fn as a subtest on SQLite (db "") and on a fresh
// PostgreSQL database (db its URL).
func eachBackend(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, newDatabase(t)) })
}

// testEnv is a queue in a temporary directory, or in a PostgreSQL
// database when db is set.
type testEnv struct {
	t   *testing.T
	dir string
	db  string // Config.Database
	q   *Queue
	log *syncBuffer
}

func newEnv(t *testing.T, db string, tweak func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), db: db, log: &syncBuffer{}}
	e.q = e.open(tweak)
	return e
}

// pg reports whether the environment is on PostgreSQL.
func (e *testEnv) pg() bool { return e.db != "" }

// stored returns the bytes the queue holds for message id.
func (e *testEnv) stored(q *Queue, id string) string {
	e.t.Helper()
	m, err := q.Show(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := q.OpenBody(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	defer b.Close()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

// open opens (another) Queue on the environment's directory.
func (e *testEnv) open(tweak func(*Config)) *Queue {
	e.t.Helper()
	cfg := Config{
		Dir:          e.dir,
		Database:     e.db,
		Hostname:     "mx.town.test",
		PollInterval: 20 * time.Millisecond,
		MailLog:      maillog.New(e.log),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	q, err := Open(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { q.Close() })
	return q
}

// withClock makes the queue's time a settable clock starting at t0.
func withClock(c *clock) func(*Config) {
	return func(cfg *Config) { cfg.Now = c.Now }
}

const body = "From: alice@town.test\r\nTo: bob@hill.test\r\nSubject: test\r\nMessage-ID: <m1@town.test>\r\n\r\nHello.\r\n"

// enqueue queues body for rcpts the way delivery does: a section of a
// spool that starts with a Return-Path line to skip.
func (e *testEnv) enqueue(q *Queue, id, from string, rcpts ...string) {
	e.t.Helper()
	rp := "Return-Path: <" + from + ">\r\n"
	spool := []byte(rp + body)
	if err := q.Enqueue(context.Background(), id, from, rcpts, io.NewSectionReader(bytes.NewReader(spool), int64(len(rp)), int64(len(body))), true); err != nil {
		e.t.Fatalf("Enqueue: %v", err)
	}
	// The queue must not need the spool any more.
	clear(spool)
}

// section is s as a message body for Enqueue.
func section(s string) *io.SectionReader {
	return io.NewSectionReader(strings.NewReader(s), 0, int64(len(s)))
}

func (e *testEnv) list() []Message {
	e.t.Helper()
	msgs, err := e.q.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer collects the mail log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestEnqueueIsDurableAndSkipsReturnPath(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test", "bob@HILL.test", "carol@hill.test")
		msgs := e.list()
		if len(msgs) != 1 {
			t.Fatalf("%d messages queued", len(msgs))
		}
		m := msgs[0]
		if !e.pg() {
			data, err := os.ReadFile(m.path)
			if err != nil || string(data) != body {
				t.Fatalf("queued file %q, %v; want the message without Return-Path", data, err)
			}
		}
		b, err := e.q.OpenBody(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		if data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size())); err != nil || string(data) != body {
			t.Errorf("OpenBody: %q, %v; want the message", data, err)
		}
		if err := b.Close(); err != nil || b.Close() != nil {
			t.Errorf("Close: %v", err)
		}
		if m.Size != int64(len(body)) || m.From != "alice@town.test" {
			t.Errorf("record %+v", m)
		}
		if len(m.Recipients) != 2 {
			t.Fatalf("recipients %+v, want the duplicate dropped", m.Recipients)
		}
		for _, r := range m.Recipients {
			if r.State != Pending || r.Domain != "hill.test" || r.Attempts != 0 {
				t.Errorf("recipient %+v", r)
			}
		}
		if !strings.Contains(e.log.String(), " queued id=m1 from=<alice@town.test> to=<bob@hill.test>,<carol@hill.test> size=") {
			t.Errorf("mail log:\n%s", e.log)
		}
		if err := e.q.Enqueue(context.Background(), "../evil", "a@b", []string{"c@d"}, section(""), false); err == nil {
			t.Errorf("an id with a path in it was accepted")
		}
	})
}

func TestDeliveryGroupsByDomainAndRemoves(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		d := &fakeDeliverer{}
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test", "carol@dale.test", "dave@hill.test")
		e.q.Start(d)
		waitFor(t, "the queue to empty", func() bool { return len(e.list()) == 0 })
		calls := d.snapshot()
		if len(calls) != 2 {
			t.Fatalf("calls %+v, want one per domain", calls)
		}
		byDomain := map[string]string{}
		for _, c := range calls {
			byDomain[c.domain] = strings.Join(c.rcpts, ",")
			if c.body != body || c.from != "alice@town.test" {
				t.Errorf("call %+v", c)
			}
		}
		if byDomain["hill.test"] != "bob@hill.test,dave@hill.test" || byDomain["dale.test"] != "carol@dale.test" {
			t.Errorf("groups %v", byDomain)
		}
		// The record goes first, then the file (on PostgreSQL the body
		// goes with the record).
		waitFor(t, "the message file to go", func() bool {
			entries, _ := os.ReadDir(filepath.Join(e.dir, "msg"))
			return len(entries) == 0
		})
		if e.pg() {
			var n int
			if err := e.q.db.QueryRowContext(context.Background(), "SELECT count(*) FROM bodies").Scan(&n); err != nil || n != 0 {
				t.Errorf("%d bodies left, %v", n, err)
			}
		}
		if n := strings.Count(e.log.String(), " delivered id=m1 "); n != 3 {
			t.Errorf("%d delivered lines:\n%s", n, e.log)
		}
	})
}

func TestRetrySchedule(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		c := &clock{t: t0}
		e := newEnv(t, db, withClock(c))
		d := &fakeDeliverer{fn: func(context.Context, string, string) remote.Status { return remote.Deferred }}
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
		e.q.Start(d)

		now := t0
		for i, wait := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour} {
			attempt := i + 1
			waitFor(t, "attempt", func() bool {
				m := e.list()
				return len(m) == 1 && m[0].Recipients[0].Attempts == attempt
			})
			r := e.list()[0].Recipients[0]
			if r.State != Pending || !r.NextAttempt.Equal(now.Add(wait)) || !r.LastAttempt.Equal(now) {
				t.Fatalf("after attempt %d: %+v, want next attempt at +%v", attempt, r, wait)
			}
			if r.Reply() != "451 4.3.0 Try again later" || r.RemoteMTA != "mx.hill.test" {
				t.Errorf("last reply %q from %q", r.Reply(), r.RemoteMTA)
			}
			// Nothing happens before the attempt is due.
			c.set(now.Add(wait - time.Second))
			e.q.kick()
			time.Sleep(60 * time.Millisecond)
			if n := len(d.snapshot()); n != attempt {
				t.Fatalf("%d attempts before the next was due, want %d", n, attempt)
			}
			now = now.Add(wait)
			c.set(now)
			e.q.kick()
		}
		if !strings.Contains(e.log.String(), " deferred id=m1 from=<alice@town.test> to=<bob@hill.test> size=95 relay=mx.hill.test[192.0.2.1:25] attempts=1 duration=0s reply=\"451 4.3.0 Try again later\" next=2026-11-25T12:01:00Z") {
			t.Errorf("mail log:\n%s", e.log)
		}
	})
}

func TestExpiryBounces(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		c := &clock{t: t0}
		e := newEnv(t, db, func(cfg *Config) {
			cfg.Now = c.Now
			cfg.Lifetime = 90 * time.Minute
		})
		d := &fakeDeliverer{fn: func(_ context.Context, domain, _ string) remote.Status {
			if domain == "town.test" {
				return remote.Delivered // the DSN
			}
			return remote.Deferred
		}}
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
		e.q.Start(d)
		attempts := func(n int) func() bool {
			return func() bool { return len(d.snapshot()) >= n }
		}
		waitFor(t, "first attempt", attempts(1))
		// 1m, 5m, 15m, 30m: the fifth attempt would be an hour after the
		// fourth, past the lifetime, so it is moved to the expiry.
		for _, at := range []time.Duration{time.Minute, 6 * time.Minute, 21 * time.Minute, 51 * time.Minute} {
			c.set(t0.Add(at))
			e.q.kick()
			waitFor(t, "attempt at "+at.String(), attempts(len(d.snapshot())+1))
		}
		waitFor(t, "the record of the fifth attempt", func() bool {
			m := e.list()
			return len(m) == 1 && m[0].Recipients[0].Attempts == 5
		})
		if next := e.list()[0].Recipients[0].NextAttempt; !next.Equal(t0.Add(90 * time.Minute)) {
			t.Fatalf("last attempt scheduled at %v, want the expiry", next)
		}
		c.set(t0.Add(90 * time.Minute))
		e.q.kick()
		waitFor(t, "the DSN to be delivered and the queue to empty", func() bool {
			return len(e.list()) == 0 && len(d.snapshot()) == 7
		})
		dsn := d.snapshot()[6]
		if dsn.domain != "town.test" || dsn.from != "" || strings.Join(dsn.rcpts, ",") != "alice@town.test" {
			t.Fatalf("DSN envelope %+v", dsn)
		}
		for _, want := range []string{
			"Auto-Submitted: auto-replied",
			"Final-Recipient: rfc822; bob@hill.test",
			"Status: 5.4.7",
			"Diagnostic-Code: smtp; 451 4.3.0 Try again later",
			"delivery time expired",
			"Subject: test",
			"X-Pail-Queue-ID: m1",
		} {
			if !strings.Contains(dsn.body, want) {
				t.Errorf("DSN lacks %q:\n%s", want, dsn.body)
			}
		}
		if strings.Contains(dsn.body, "Hello.") {
			t.Errorf("DSN returned the body of the message")
		}
		if !strings.Contains(e.log.String(), " bounced id=m1 from=<alice@town.test> to=<bob@hill.test> ") {
			t.Errorf("mail log:\n%s", e.log)
		}
	})
}

func TestPermanentFailureBouncesAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		d := &fakeDeliverer{fn: func(_ context.Context, domain, rcpt string) remote.Status {
			switch {
			case rcpt == "nobody@hill.test":
				return remote.Failed
			case domain == "dale.test":
				return remote.Deferred
			}
			return remote.Delivered
		}}
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test", "nobody@hill.test", "slow@dale.test")
		e.q.Start(d)
		var dsn call
		waitFor(t, "the DSN", func() bool {
			for _, c := range d.snapshot() {
				if c.domain == "town.test" {
					dsn = c
					return true
				}
			}
			return false
		})
		if !strings.Contains(dsn.body, "Final-Recipient: rfc822; nobody@hill.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.hill.test\r\nDiagnostic-Code: smtp; 550 5.1.1 No such user here\r\n") {
			t.Errorf("DSN:\n%s", dsn.body)
		}
		if strings.Contains(dsn.body, "bob@hill.test\r\nAction") || strings.Contains(dsn.body, "slow@dale.test\r\nAction") {
			t.Errorf("DSN names recipients that did not fail:\n%s", dsn.body)
		}
		// The deferred recipient keeps the message queued, and a later pass
		// does not report nobody@ again.
		waitFor(t, "the DSN to leave the queue", func() bool { return len(e.list()) == 1 })
		// Each domain's attempt is recorded on its own: wait for dale.test's
		// deferral too, or the flush below could come before it and be
		// overwritten by its retry time.
		states := map[string]State{}
		waitFor(t, "the deferral to be recorded", func() bool {
			for _, r := range e.list()[0].Recipients {
				states[r.Address] = r.State
				if r.Address == "slow@dale.test" && r.Attempts == 0 {
					return false
				}
			}
			return true
		})
		if states["bob@hill.test"] != Delivered || states["nobody@hill.test"] != Failed || states["slow@dale.test"] != Pending {
			t.Errorf("states %v", states)
		}
		if _, err := e.q.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "another attempt", func() bool { return len(d.snapshot()) >= 4 })
		e.q.finishAll(context.Background())
		time.Sleep(50 * time.Millisecond)
		n := 0
		for _, c := range d.snapshot() {
			if c.domain == "town.test" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d DSNs, want 1", n)
		}
	})
}

func TestNoBounceForABounce(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		d := &fakeDeliverer{fn: func(context.Context, string, string) remote.Status { return remote.Failed }}
		e.enqueue(e.q, "m1", "", "alice@hill.test")
		e.q.Start(d)
		waitFor(t, "the queue to empty", func() bool { return len(e.list()) == 0 })
		time.Sleep(50 * time.Millisecond)
		if calls := d.snapshot(); len(calls) != 1 {
			t.Errorf("calls %+v: a failed DSN caused another message", calls)
		}
		if !strings.Contains(e.log.String(), " bounced id=m1 from=<> to=<alice@hill.test> ") || !strings.Contains(e.log.String(), " dsn=none") {
			t.Errorf("mail log:\n%s", e.log)
		}
	})
}

func TestSurvivesRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
		// A delivery in progress when the server stops is cut off and not
		// counted; the message is due at once after the restart.
		started := make(chan struct{})
		blocking := &fakeDeliverer{fn: func(ctx context.Context, _, _ string) remote.Status {
			close(started)
			<-ctx.Done()
			return remote.Deferred
		}}
		e.q.Start(blocking)
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		e.q.Shutdown(ctx)
		e.q.Close()

		q2 := e.open(nil)
		msgs, err := q2.List(context.Background())
		if err != nil || len(msgs) != 1 || msgs[0].Recipients[0].Attempts != 0 {
			t.Fatalf("after restart: %+v, %v", msgs, err)
		}
		d := &fakeDeliverer{}
		q2.Start(d)
		waitFor(t, "delivery after the restart", func() bool {
			m, _ := q2.List(context.Background())
			return len(m) == 0
		})
		if c := d.snapshot(); len(c) != 1 || c[0].body != body {
			t.Errorf("calls %+v", c)
		}
	})
}

func TestFlushFromAnotherProcess(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		var fail sync.Mutex
		failing := true
		d := &fakeDeliverer{fn: func(context.Context, string, string) remote.Status {
			fail.Lock()
			defer fail.Unlock()
			if failing {
				return remote.Deferred
			}
			return remote.Delivered
		}}
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
		e.q.Start(d)
		waitFor(t, "the first attempt", func() bool {
			m := e.list()
			return len(m) == 1 && m[0].Recipients[0].Attempts == 1
		})
		fail.Lock()
		failing = false
		fail.Unlock()

		// `pail queue flush` opens the same directory in its own process.
		cli := e.open(nil)
		n, err := cli.Flush(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("Flush: %d, %v", n, err)
		}
		waitFor(t, "the running queue to see the flush", func() bool { return len(e.list()) == 0 })
	})
}

func TestEnqueueFromAnotherProcess(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		d := &fakeDeliverer{}
		e.q.Start(d)
		// `pail sendmail` enqueues without a scheduler of its own.
		cli := e.open(nil)
		e.enqueue(cli, "m1", "alice@town.test", "bob@hill.test")
		waitFor(t, "the running queue to deliver", func() bool { return len(d.snapshot()) == 1 })
	})
}

func TestDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
		m, err := e.q.Show(context.Background(), "m1")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.q.Delete(context.Background(), "m1"); err != nil {
			t.Fatal(err)
		}
		if len(e.list()) != 0 {
			t.Errorf("message still listed")
		}
		if _, err := os.Stat(m.path); !e.pg() && !os.IsNotExist(err) {
			t.Errorf("file still there: %v", err)
		}
		if _, err := e.q.OpenBody(context.Background(), m); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenBody of a deleted message: %v", err)
		}
		if err := e.q.Delete(context.Background(), "m1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Delete: %v", err)
		}
		if _, err := e.q.Show(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Show of a missing id: %v", err)
		}
	})
}

func TestConcurrencyLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, func(cfg *Config) {
			cfg.MaxConcurrent = 3
			cfg.MaxPerDomain = 2
		})
		release := make(chan struct{})
		d := &fakeDeliverer{fn: func(ctx context.Context, domain, _ string) remote.Status {
			if domain == "slow.test" {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return remote.Delivered
		}}
		for _, id := range []string{"s1", "s2", "s3", "s4", "s5"} {
			e.enqueue(e.q, id, "alice@town.test", "x@slow.test")
		}
		e.q.Start(d)
		waitFor(t, "two deliveries to slow.test", func() bool { return len(d.snapshot()) == 2 })
		// A dead-slow domain holds its own slots, not the others'.
		e.enqueue(e.q, "f1", "alice@town.test", "y@fast.test")
		waitFor(t, "fast.test to be delivered", func() bool {
			for _, c := range d.snapshot() {
				if c.domain == "fast.test" {
					return true
				}
			}
			return false
		})
		close(release)
		waitFor(t, "the queue to empty", func() bool { return len(e.list()) == 0 })
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.maxSeen["slow.test"] > 2 || d.maxSeen[""] > 3 {
			t.Errorf("concurrency seen: %v, want at most 2 per domain and 3 in all", d.maxSeen)
		}
	})
}

func TestSweepRemovesOrphans(t *testing.T) {
	t0 := time.Now()
	c := &clock{t: t0}
	e := newEnv(t, "", withClock(c))
	e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
	orphan := filepath.Join(e.dir, "msg", "orphan1")
	tmp := filepath.Join(e.dir, "msg", ".tmp-123")
	young := filepath.Join(e.dir, "msg", "young1")
	for _, p := range []string{orphan, tmp, young} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := t0.Add(-2 * time.Hour)
	os.Chtimes(orphan, old, old)
	os.Chtimes(tmp, old, old)
	m, _ := e.q.Show(context.Background(), "m1")
	os.Chtimes(m.path, old, old)
	e.q.sweep(context.Background())
	for p, want := range map[string]bool{orphan: false, tmp: false, young: true, m.path: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(context.Background(), Config{Dir: dir, Hostname: "mx.town.test", Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	if err := q.Enqueue(ctx, "m1", "a@town.test", []string{"b@hill.test"}, section("Subject: x\r\n\r\nx\r\n"), false); err != nil {
		t.Fatal(err)
	}
	if p, err := q.Check(ctx); err != nil || len(p) != 0 {
		t.Fatalf("clean queue: %v %v", p, err)
	}
	os.WriteFile(filepath.Join(q.msgDir, "m1"), []byte("torn"), 0o600)
	half := filepath.Join(q.msgDir, ".tmp-123")
	os.WriteFile(half, nil, 0o600)
	old := time.Now().Add(-2 * orphanAge)
	os.Chtimes(half, old, old)
	p, err := q.Check(ctx)
	if err != nil || len(p) != 2 || !strings.Contains(strings.Join(p, "\n"), "half-written") {
		t.Errorf("problems: %q %v", p, err)
	}
}
