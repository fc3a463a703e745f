package queue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/pgtest"
	"pail/internal/remote"
	"pail/internal/sqldb"
)

// childEnv, when set to a database URL, makes the test binary a lease
// holder (leaseHolderChild) instead of running tests.
const childEnv = "PAIL_QUEUE_TEST_CHILD_DB"

// childLease is the lease of the child node: short, so that the test
// waits little for it to expire once the child is killed.
const childLease = 1500 * time.Millisecond

// leaseHolderChild is a node that claims what is due in the database
// named by childEnv and never finishes delivering it: it prints
// "delivering ID DOMAIN" for each attempt and blocks until it is killed.
func leaseHolderChild() int {
	ctx := context.Background()
	q, err := Open(ctx, Config{
		Database:     os.Getenv(childEnv),
		NodeID:       "child",
		Lease:        childLease,
		Hostname:     "mx.child.test",
		PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	q.Start(deliverFunc(func(ctx context.Context, domain string, m remote.Message) []remote.Result {
		mu.Lock()
		fmt.Printf("delivering %s %s\n", m.ID, domain)
		mu.Unlock()
		<-ctx.Done()
		return nil
	}))
	select {}
}

// deliverFunc is a Deliverer made of a function.
type deliverFunc func(ctx context.Context, domain string, m remote.Message) []remote.Result

func (f deliverFunc) Deliver(ctx context.Context, domain string, m remote.Message) []remote.Result {
	return f(ctx, domain, m)
}

// leaseOf returns the lease owner of message id.
func leaseOf(t *testing.T, q *Queue, id string) string {
	t.Helper()
	var owner string
	if err := q.db.QueryRowContext(context.Background(), "SELECT lease_owner FROM messages WHERE id = ?", id).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	return owner
}

// TestDeadNodesLeaseIsTakenOver: a child process claims a message and
// hangs in its delivery; a second node does not touch the message while
// the child lives (the child renews its lease past its first expiry),
// and once the child is SIGKILLed the second node takes the message over
// when the lease expires and delivers it, once per recipient.
func TestDeadNodesLeaseIsTakenOver(t *testing.T) {
	db := newDatabase(t)
	e := newEnv(t, db, func(c *Config) { c.NodeID = "survivor" })
	e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test", "carol@dale.test")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+db)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for range 2 { // one attempt per domain
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the child ended: %s", stderr.String())
			}
			if !strings.HasPrefix(l, "delivering m1 ") {
				t.Fatalf("child: %q", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the child did not start delivering: %s", stderr.String())
		}
	}
	if owner := leaseOf(t, e.q, "m1"); owner != "child" {
		t.Fatalf("lease owner %q, want child", owner)
	}

	d := &fakeDeliverer{}
	e.q.Start(d)
	time.Sleep(2 * childLease)
	if c := d.snapshot(); len(c) != 0 {
		t.Fatalf("the survivor delivered under a live node's lease: %+v", c)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	waitFor(t, "the survivor to deliver", func() bool { return len(e.list()) == 0 })
	time.Sleep(100 * time.Millisecond)
	got := map[string]int{}
	for _, c := range d.snapshot() {
		for _, r := range c.rcpts {
			got[r]++
		}
	}
	if len(got) != 2 || got["bob@hill.test"] != 1 || got["carol@dale.test"] != 1 {
		t.Errorf("deliveries after the takeover: %v, want each recipient once", got)
	}
}

// TestTwoNodesDeliverEachMessageOnce: two nodes on one database, mail
// queued through both while both deliver, some recipients deferred once
// and some failing for good: every recipient is delivered exactly once,
// every failure is reported in exactly one DSN, and both nodes did work.
func TestTwoNodesDeliverEachMessageOnce(t *testing.T) {
	const n = 60
	db := newDatabase(t)
	tweak := func(id string) func(*Config) {
		return func(c *Config) {
			c.NodeID = id
			c.MaxConcurrent = 4
			c.Backoff = []time.Duration{30 * time.Millisecond}
		}
	}
	e := newEnv(t, db, tweak("a"))
	b := e.open(tweak("b"))

	var mu sync.Mutex
	delivered := map[string]int{} // message id + " " + recipient, or "dsn " + recipient
	tries := map[string]int{}
	byNode := map[string]int{}
	node := func(name string) Deliverer {
		return deliverFunc(func(ctx context.Context, domain string, m remote.Message) []remote.Result {
			time.Sleep(3 * time.Millisecond) // deliveries overlap
			mu.Lock()
			defer mu.Unlock()
			byNode[name]++
			out := make([]remote.Result, len(m.Rcpts))
			for i, r := range m.Rcpts {
				key := m.ID + " " + r
				if m.From == "" {
					key = "dsn " + r
				}
				tries[key]++
				out[i] = remote.Result{Rcpt: r, Status: remote.Delivered, Reply: remote.Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}}
				switch {
				case strings.HasPrefix(r, "nobody@"):
					out[i] = remote.Result{Rcpt: r, Status: remote.Failed, Reply: remote.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"}}
				case strings.HasPrefix(r, "slow@") && tries[key] == 1:
					out[i] = remote.Result{Rcpt: r, Status: remote.Deferred, Reply: remote.Reply{Code: 451, Enhanced: "4.3.0", Text: "Later"}}
				default:
					delivered[key]++
				}
			}
			return out
		})
	}
	e.q.Start(node("a"))
	b.Start(node("b"))

	want := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("m%d", i)
		from := fmt.Sprintf("sender%d@town.test", i)
		rcpts := []string{"r@hill.test", "r@dale.test"}
		if i%3 == 0 {
			rcpts = append(rcpts, "nobody@hill.test")
			want["dsn "+from] = 1
		}
		if i%5 == 0 {
			rcpts = append(rcpts, "slow@dale.test")
		}
		for _, r := range rcpts {
			if !strings.HasPrefix(r, "nobody@") {
				want[id+" "+r] = 1
			}
		}
		q := e.q
		if i%2 == 1 {
			q = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Enqueue(context.Background(), id, from, rcpts, section(body), false); err != nil {
				t.Errorf("Enqueue %s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "both nodes to empty the queue", func() bool {
		mu.Lock()
		done := len(delivered) == len(want)
		mu.Unlock()
		return done && len(e.list()) == 0
	})
	time.Sleep(200 * time.Millisecond) // time for a stray second delivery
	mu.Lock()
	defer mu.Unlock()
	for k, v := range delivered {
		if v != want[k] {
			t.Errorf("%s delivered %d times, want %d", k, v, want[k])
		}
	}
	if len(delivered) != len(want) {
		t.Errorf("%d deliveries, want %d", len(delivered), len(want))
	}
	if byNode["a"] == 0 || byNode["b"] == 0 {
		t.Errorf("attempts per node %v: one node did all the work", byNode)
	}
	t.Logf("attempts per node: %v", byNode)
}

// TestNewerSchemaRefused: a database that a newer pail migrated is not
// opened, with an error that says so.
func TestNewerSchemaRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, nil)
		bump := "PRAGMA user_version = 99"
		if e.pg() {
			bump = "UPDATE schema_version SET version = 99"
		}
		if _, err := e.q.db.ExecContext(context.Background(), bump); err != nil {
			t.Fatal(err)
		}
		e.q.Close()
		_, err := Open(context.Background(), Config{Dir: e.dir, Database: db, Hostname: "mx.town.test"})
		if !errors.Is(err, errNewerSchema) || !strings.Contains(err.Error(), "schema version 99") {
			t.Fatalf("Open of a newer schema: %v", err)
		}
	})
}

// TestCheckPostgres: Check finds a body of the wrong size and a record
// without a body.
func TestCheckPostgres(t *testing.T) {
	e := newEnv(t, newDatabase(t), nil)
	ctx := context.Background()
	e.enqueue(e.q, "m1", "a@town.test", "b@hill.test")
	e.enqueue(e.q, "m2", "a@town.test", "b@hill.test")
	if p, err := e.q.Check(ctx); err != nil || len(p) != 0 {
		t.Fatalf("clean queue: %v %v", p, err)
	}
	if _, err := e.q.db.ExecContext(ctx, "UPDATE bodies SET data = ? WHERE message_id = 'm1'", []byte("torn")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.db.ExecContext(ctx, "DELETE FROM bodies WHERE message_id = 'm2'"); err != nil {
		t.Fatal(err)
	}
	p, err := e.q.Check(ctx)
	all := strings.Join(p, "\n")
	if err != nil || len(p) != 2 || !strings.Contains(all, "m1: record says 95 bytes, body has 4") || !strings.Contains(all, "m2 has no body") {
		t.Errorf("problems: %q %v", p, err)
	}
}

// TestDatabaseDown: while PostgreSQL is down, Enqueue fails with an
// error that IsUnavailable recognizes (SMTP answers 451 and the client
// tries again) and the scheduler keeps trying; once the server is back,
// the message queued before is delivered, once, and queueing works again.
func TestDatabaseDown(t *testing.T) {
	ctx := context.Background()
	c, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	db, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db, func(cfg *Config) { cfg.Backoff = []time.Duration{100 * time.Millisecond} })
	var mu sync.Mutex
	attempts := 0
	d := &fakeDeliverer{fn: func(context.Context, string, string) remote.Status {
		mu.Lock()
		defer mu.Unlock()
		if attempts++; attempts == 1 {
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
	if err := c.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	err = e.q.Enqueue(ctx, "m2", "alice@town.test", []string{"bob@hill.test"}, section(body), false)
	if err == nil || !sqldb.IsUnavailable(err) {
		t.Fatalf("Enqueue with the database down: %v, want an unavailable error", err)
	}
	time.Sleep(300 * time.Millisecond) // the retry falls due while the database is down
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry after the restart", func() bool {
		m, err := e.q.List(ctx)
		return err == nil && len(m) == 0
	})
	// Connections from before the restart may fail once each.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := e.q.Enqueue(ctx, "m3", "alice@town.test", []string{"bob@hill.test"}, section(body), false)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Enqueue after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "m3 to be delivered", func() bool {
		m, err := e.q.List(ctx)
		return err == nil && len(m) == 0
	})
	if len(d.snapshot()) != 3 {
		t.Errorf("%d attempts, want 3 (m1 deferred, m1 delivered, m3)", len(d.snapshot()))
	}
}

// TestMigratesAVersion1Queue: a queue.db of schema version 1 (before
// leases), with a message waiting, is migrated on Open and its message
// delivered, its recipients in their order.
func TestMigratesAVersion1Queue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/msg", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/msg/old1", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, dir+"/queue.db", sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		sqliteMigrations[0],
		"PRAGMA user_version = 1",
		fmt.Sprintf("INSERT INTO messages (id, sender, created, size, file) VALUES ('old1', 'alice@town.test', 1, %d, 'old1')", len(body)),
		"INSERT INTO recipients (message_id, address, domain, next_attempt) VALUES ('old1', 'zed@hill.test', 'hill.test', 1)",
		"INSERT INTO recipients (message_id, address, domain, next_attempt) VALUES ('old1', 'amy@hill.test', 'hill.test', 1)",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	e := &testEnv{t: t, dir: dir, log: &syncBuffer{}}
	e.q = e.open(nil)
	d := &fakeDeliverer{}
	e.q.Start(d)
	waitFor(t, "the old message to be delivered", func() bool { return len(e.list()) == 0 })
	if c := d.snapshot(); len(c) != 1 || strings.Join(c[0].rcpts, ",") != "zed@hill.test,amy@hill.test" || c[0].body != body {
		t.Errorf("calls %+v", c)
	}
}

// TestLostLeaseCutsDelivery: when a renewal finds that the lease went to
// another node (as after a stall longer than the lease), the delivery
// under it is cut off and its deferral not recorded; the new holder's
// lease is left alone.
func TestLostLeaseCutsDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, db string) {
		e := newEnv(t, db, func(c *Config) { c.Lease = 300 * time.Millisecond })
		e.enqueue(e.q, "m1", "alice@town.test", "bob@hill.test")
		started, cut := make(chan struct{}), make(chan struct{})
		e.q.Start(&fakeDeliverer{fn: func(ctx context.Context, _, _ string) remote.Status {
			close(started)
			select {
			case <-ctx.Done():
				close(cut)
			case <-time.After(10 * time.Second):
			}
			return remote.Deferred
		}})
		<-started
		if _, err := e.q.db.ExecContext(context.Background(), "UPDATE messages SET lease_owner = 'thief', lease_until = ?",
			ms(time.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		select {
		case <-cut:
		case <-time.After(5 * time.Second):
			t.Fatal("the delivery went on under a lost lease")
		}
		time.Sleep(100 * time.Millisecond)
		if r := e.list()[0].Recipients[0]; r.Attempts != 0 {
			t.Errorf("a cut delivery was recorded: %+v", r)
		}
		if owner := leaseOf(t, e.q, "m1"); owner != "thief" {
			t.Errorf("lease owner %q, want the thief's lease kept", owner)
		}
	})
}
