//go:build interop

package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shape of the kill test.
const (
	durRounds    = 3
	durWorkers   = 4
	durBodyLines = 64 // of 64 hex digits: about 4 KiB per message
	durBudget    = 60 * time.Second
	durMaxErrors = 10 // failures listed in full before the rest are counted
)

// TestDurabilityKill delivers mail from concurrent clients, kills the server
// with SIGKILL at a random moment, starts it again on the same data and
// checks that every message acknowledged with 250 is there, whole
// (DESIGN.md: "a crash after 250 must not" lose the message).
func TestDurabilityKill(t *testing.T) {
	s := newServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	s.start()

	acked := map[string]string{} // Message-ID → body, over all rounds
	start := time.Now()
	for round := 1; round <= durRounds; round++ {
		lg := loadAndKill(t, s, round)
		for id, body := range lg.acked {
			acked[id] = body
		}
		t.Logf("round %d: killed after %v; %d sent, %d acknowledged, %d refused",
			round, lg.killedAfter.Round(time.Millisecond), lg.attempts, len(lg.acked), len(lg.refused))
		for _, r := range lg.refused {
			t.Logf("round %d: refused: %s", round, r)
		}
		for _, err := range lg.errs {
			t.Errorf("round %d: client error before the kill: %v", round, err)
		}
		if len(lg.acked) == 0 {
			t.Errorf("round %d: no message acknowledged before the kill", round)
		}

		// What the killed server left: message files without a row
		// (deliveries placed but not committed), counted with the server
		// down.
		leftovers := len(storeFiles(t, s.dataDir, "mail")) - len(s.export("jill@hill.test"))

		s.start()
		msgs := s.export("jill@hill.test")
		checkDurable(t, msgs, acked, round)
		// The store is consistent after the kill: every row has its file
		// of the right size, UIDs ascend, and start-up removed every file
		// the crash left without a row (`pail check` fails otherwise,
		// whatever the files' age). Counted on disk too: one file per
		// stored message, and no spool file.
		if out := s.pail("", []string{"check"}); !strings.Contains(string(out), "clean") {
			t.Errorf("round %d: pail check: %s", round, out)
		}
		if files := storeFiles(t, s.dataDir, "mail"); len(files) != len(msgs) {
			t.Errorf("round %d: %d message files for %d stored messages after the restart", round, len(files), len(msgs))
		}
		if files := storeFiles(t, s.dataDir, "spool"); len(files) != 0 {
			t.Errorf("round %d: spool files left after the restart: %v", round, files)
		}
		t.Logf("round %d: the kill left %d message files without a row (start-up removed them)", round, leftovers)
		if t.Failed() {
			return
		}
		if time.Since(start) > durBudget {
			t.Fatalf("over the %v budget after round %d", durBudget, round)
		}
	}
}

// storeFiles lists the regular files under dataDir/sub.
func storeFiles(t *testing.T, dataDir, sub string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dataDir, sub), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// durLog is what the load workers of one round saw.
type durLog struct {
	mu          sync.Mutex
	acked       map[string]string // Message-ID → body
	attempts    int
	refused     []string // final replies other than 250
	errs        []error  // failures before the kill
	killedAfter time.Duration
}

func (l *durLog) attempt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts++
}

func (l *durLog) ack(id, body string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id] = body
}

func (l *durLog) refuse(id string, r reply) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused = append(l.refused, id+": "+r.String())
}

func (l *durLog) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < durMaxErrors {
		l.errs = append(l.errs, err)
	}
}

// loadAndKill runs the workers against s, kills s after 1 to 2 seconds and
// returns once every worker has stopped.
func loadAndKill(t *testing.T, s *server, round int) *durLog {
	t.Helper()
	lg := &durLog{acked: map[string]string{}}
	var killed atomic.Bool
	var wg sync.WaitGroup
	for w := range durWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadWorker(s.smtpAddr, round, w, &killed, lg)
		}()
	}

	delay := time.Second + rand.N(time.Second)
	time.Sleep(delay)
	killed.Store(true)
	s.kill()
	lg.killedAfter = delay

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * ioTimeout):
		t.Fatalf("round %d: load workers still running %v after the kill", round, 2*ioTimeout)
	}
	return lg
}

// loadWorker sends messages to jill over one connection after another
// until killed is set. It runs on its own goroutine, so it reports through
// lg and never touches the test.
func loadWorker(addr string, round, worker int, killed *atomic.Bool, lg *durLog) {
	seq := 0
	for !killed.Load() {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			if !killed.Load() {
				lg.fail(fmt.Errorf("worker %d: %w", worker, err))
				time.Sleep(50 * time.Millisecond)
			}
			continue
		}
		c := &smtpConn{conn: conn, r: bufio.NewReader(conn)}
		err = deliverUntil(c, killed, lg, func() (string, string) {
			seq++
			return durMessage(round, worker, seq)
		})
		conn.Close()
		if err != nil && !killed.Load() {
			lg.fail(fmt.Errorf("worker %d: %w", worker, err))
		}
	}
}

// deliverUntil runs transactions on c until killed is set or an error
// occurs.
func deliverUntil(c *smtpConn, killed *atomic.Bool, lg *durLog, next func() (id, body string)) error {
	step := func(line string, code int) error {
		r, err := c.do(line)
		if err != nil {
			return fmt.Errorf("%s: %w", line, err)
		}
		if r.code != code {
			return fmt.Errorf("%s: want %d, got %s", line, code, r)
		}
		return nil
	}
	r, err := c.readReply()
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if r.code != 220 {
		return fmt.Errorf("greeting: %s", r)
	}
	if err := step("EHLO client.town.test", 250); err != nil {
		return err
	}
	for !killed.Load() {
		id, body := next()
		lg.attempt()
		if err := step("MAIL FROM:<jack@town.test>", 250); err != nil {
			return err
		}
		if err := step("RCPT TO:<jill@hill.test>", 250); err != nil {
			return err
		}
		if err := step("DATA", 354); err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(body))
		msg := "From: jack@town.test\nTo: jill@hill.test\n" +
			"Subject: durability sha256=" + hex.EncodeToString(sum[:]) + "\n" +
			"Message-ID: " + id + "\n\n" + body
		if err := c.write(wireData(msg)); err != nil {
			return fmt.Errorf("message data: %w", err)
		}
		r, err := c.readReply()
		if err != nil {
			return fmt.Errorf("end of data: %w", err)
		}
		if r.code == 250 {
			lg.ack(id, body)
		} else {
			lg.refuse(id, r)
		}
	}
	c.do("QUIT")
	return nil
}

// durMessage returns a unique Message-ID and a random body with LF line
// endings.
func durMessage(round, worker, seq int) (id, body string) {
	var b strings.Builder
	for range durBodyLines {
		fmt.Fprintf(&b, "%016x%016x%016x%016x\n", rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64())
	}
	return fmt.Sprintf("<dur-%d-%d-%d@town.test>", round, worker, seq), b.String()
}

// checkDurable checks that every acknowledged message is in msgs exactly
// once with its body intact, and that every stored test message is whole.
func checkDurable(t *testing.T, msgs []mboxMessage, acked map[string]string, round int) {
	t.Helper()
	byID := map[string][]mboxMessage{}
	for _, m := range msgs {
		id := m.header("Message-Id")
		if !strings.HasPrefix(id, "<dur-") {
			continue
		}
		byID[id] = append(byID[id], m)

		subject := m.header("Subject")
		_, want, ok := strings.Cut(subject, "sha256=")
		sum := sha256.Sum256(m.body())
		if !ok || hex.EncodeToString(sum[:]) != want {
			t.Errorf("after kill %d: stored message %s is damaged: body of %d bytes does not match %q",
				round, id, len(m.body()), subject)
		}
	}

	var lost, dup, changed int
	for _, id := range slices.Sorted(maps.Keys(acked)) {
		body := acked[id]
		found := byID[id]
		switch {
		case len(found) == 0:
			lost++
			if lost <= durMaxErrors {
				t.Errorf("after kill %d: acknowledged message %s is missing", round, id)
			}
			continue
		case len(found) > 1:
			dup++
			if dup <= durMaxErrors {
				t.Errorf("after kill %d: acknowledged message %s stored %d times", round, id, len(found))
			}
		}
		if string(found[0].body()) != body {
			changed++
			if changed <= durMaxErrors {
				t.Errorf("after kill %d: acknowledged message %s has a different body (%d bytes, want %d)",
					round, id, len(found[0].body()), len(body))
			}
		}
	}
	if lost+dup+changed > 0 {
		t.Errorf("after kill %d: of %d acknowledged messages, %d missing, %d duplicated, %d changed",
			round, len(acked), lost, dup, changed)
	} else {
		t.Logf("after kill %d: all %d acknowledged messages present and whole (%d test messages stored)",
			round, len(acked), len(byID))
	}
}
