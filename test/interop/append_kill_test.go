//go:build interop

package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// appendBatch is how many messages each MULTIAPPEND of the kill test
// carries.
const appendBatch = 3

// TestDurabilityKillMultiAppend runs MULTIAPPEND (RFC 3502) from
// concurrent IMAP clients, kills the server with SIGKILL at a random
// moment and starts it again on the same data, like TestDurabilityKill
// does for SMTP: every message of an APPEND answered OK is there, whole,
// and of an APPEND the kill cut short either all messages are there or
// none (RFC 3502 §6.3.11), with no spool file or stray message file left.
func TestDurabilityKillMultiAppend(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	acked := map[string]string{}
	start := time.Now()
	for round := 1; round <= durRounds; round++ {
		lg := &durLog{acked: map[string]string{}}
		var batches [][]string // every MULTIAPPEND sent, by Message-ID
		var mu sync.Mutex
		var killed atomic.Bool
		var wg sync.WaitGroup
		for w := range durWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				appendWorker(s.imapAddr, user, round, w, &killed, lg, func(ids []string) {
					mu.Lock()
					batches = append(batches, ids)
					mu.Unlock()
				})
			}()
		}
		delay := time.Second + rand.N(time.Second)
		time.Sleep(delay)
		killed.Store(true)
		s.kill()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * ioTimeout):
			t.Fatalf("round %d: IMAP workers still running %v after the kill", round, 2*ioTimeout)
		}
		for id, body := range lg.acked {
			acked[id] = body
		}
		t.Logf("round %d: killed after %v; %d batches sent, %d messages acknowledged, %d refused",
			round, delay.Round(time.Millisecond), len(batches), len(lg.acked), len(lg.refused))
		for _, r := range lg.refused {
			t.Errorf("round %d: refused: %s", round, r)
		}
		for _, err := range lg.errs {
			t.Errorf("round %d: client error before the kill: %v", round, err)
		}
		if len(lg.acked) == 0 {
			t.Errorf("round %d: no MULTIAPPEND acknowledged before the kill", round)
		}

		s.start()
		if err := waitListening(s.imapAddr, s.proc, time.Now().Add(startTimeout)); err != nil {
			t.Fatalf("imap not listening after the restart: %v", err)
		}
		msgs := s.export(user)
		checkDurable(t, msgs, acked, round)
		stored := map[string]int{}
		for _, m := range msgs {
			stored[m.header("Message-Id")]++
		}
		for _, ids := range batches {
			n := 0
			for _, id := range ids {
				n += stored[id]
			}
			if n != 0 && n != len(ids) {
				t.Errorf("round %d: %d of the %d messages of one MULTIAPPEND are stored: %v", round, n, len(ids), ids)
			}
		}
		if out := s.pail("", []string{"check"}); !strings.Contains(string(out), "clean") {
			t.Errorf("round %d: pail check: %s", round, out)
		}
		if files := storeFiles(t, s.dataDir, "mail"); len(files) != len(msgs) {
			t.Errorf("round %d: %d message files for %d stored messages after the restart", round, len(files), len(msgs))
		}
		if files := storeFiles(t, s.dataDir, "spool"); len(files) != 0 {
			t.Errorf("round %d: spool files left after the restart: %v", round, files)
		}
		if t.Failed() {
			return
		}
		if time.Since(start) > durBudget {
			t.Fatalf("over the %v budget after round %d", durBudget, round)
		}
	}
}

// appendWorker sends MULTIAPPENDs of appendBatch messages, each with
// LITERAL+ literals, over one connection after another until killed is
// set; sent is told of each before it goes out. It reports through lg.
func appendWorker(addr, user string, round, worker int, killed *atomic.Bool, lg *durLog, sent func(ids []string)) {
	seq := 0
	for !killed.Load() {
		err := appendSession(addr, user, killed, lg, func() (string, string) {
			seq++
			return durMessage(round, worker, seq)
		}, sent)
		if err != nil && !killed.Load() {
			lg.fail(fmt.Errorf("worker %d: %w", worker, err))
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func appendSession(addr, user string, killed *atomic.Bool, lg *durLog, next func() (id, body string), sent func([]string)) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	n := 0
	// cmd sends one command and returns its tagged reply.
	cmd := func(text string) (string, error) {
		n++
		tag := fmt.Sprintf("a%d", n)
		conn.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := conn.Write([]byte(tag + " " + text + "\r\n")); err != nil {
			return "", err
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(l, tag+" ") {
				return strings.TrimRight(l[len(tag)+1:], "\r\n"), nil
			}
		}
	}
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := br.ReadString('\n'); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if r, err := cmd(fmt.Sprintf("LOGIN %s %q", user, passwordFor(user))); err != nil || !strings.HasPrefix(r, "OK") {
		return fmt.Errorf("LOGIN: %q %v", r, err)
	}
	for !killed.Load() {
		var b strings.Builder
		b.WriteString("APPEND INBOX")
		ids := make([]string, appendBatch)
		bodies := make([]string, appendBatch)
		for i := range ids {
			ids[i], bodies[i] = next()
			sum := sha256.Sum256([]byte(bodies[i]))
			msg := strings.ReplaceAll("From: jack@town.test\nTo: bob@hill.test\n"+
				"Subject: durability sha256="+hex.EncodeToString(sum[:])+"\n"+
				"Message-ID: "+ids[i]+"\n\n"+bodies[i], "\n", "\r\n")
			fmt.Fprintf(&b, " {%d+}\r\n%s", len(msg), msg)
		}
		sent(ids)
		lg.attempt()
		r, err := cmd(b.String())
		if err != nil {
			return fmt.Errorf("APPEND: %w", err)
		}
		if !strings.HasPrefix(r, "OK [APPENDUID ") {
			lg.refuse(strings.Join(ids, ","), reply{lines: []string{r}})
			continue
		}
		for i, id := range ids {
			lg.ack(id, bodies[i])
		}
	}
	cmd("LOGOUT")
	return nil
}
