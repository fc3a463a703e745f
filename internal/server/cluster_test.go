package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/pgtest"
)

// TestTwoNodesShareOnePostgres: two servers with store set to one
// PostgreSQL database are one mail system. Mail received by node A's MX
// port is announced to an IMAP session in IDLE on node B and fetched
// there; both nodes sign with the same DKIM keys; node B's own data
// directory holds no mail.
func TestTwoNodesShareOnePostgres(t *testing.T) {
	ctx := context.Background()
	pg, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := func() *Server {
		cfg := config.Default()
		cfg.Hostname = "mx.hill.test"
		cfg.Domains = []string{"hill.test"}
		cfg.DataDir = t.TempDir()
		cfg.Store = url
		cfg.Inbound.Checks = false
		cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", IMAP: "127.0.0.1:0"}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return startQuiet(t, cfg)
	}
	a, b := node(), node()
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store().AddAccount(ctx, "dave@hill.test", hash, false); err != nil {
		t.Fatal(err)
	}

	// idleOnB logs in on node B, selects INBOX (which must hold exists
	// messages, after any NO [UNAVAILABLE] of a database coming back),
	// and enters IDLE; it returns the connection and a reader of lines.
	idleOnB := func(exists int) (net.Conn, func(prefix string) []string) {
		t.Helper()
		nc, err := net.Dial("tcp", b.Addrs()["imap"])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(nc)
		readUntil := func(prefix string) []string {
			t.Helper()
			var lines []string
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("waiting for %q after %q: %v", prefix, lines, err)
				}
				lines = append(lines, l)
				if strings.HasPrefix(l, prefix) {
					return lines
				}
			}
		}
		readUntil("* OK")
		for i, cmd := range []string{"LOGIN dave@hill.test pw", "SELECT INBOX"} {
			for try := 0; ; try++ {
				tag := fmt.Sprintf("t%d.%d", i, try)
				fmt.Fprintf(nc, "%s %s\r\n", tag, cmd)
				l := readUntil(tag + " ")
				last := l[len(l)-1]
				if strings.HasPrefix(last, tag+" OK") {
					if i == 1 && !strings.Contains(strings.Join(l, ""), fmt.Sprintf("* %d EXISTS", exists)) {
						t.Fatalf("SELECT on node B: %q, want %d EXISTS", l, exists)
					}
					break
				}
				// A connection the database's restart broke answers
				// NO [UNAVAILABLE] (RFC 5530) once; the next one works.
				if try == 20 || !strings.Contains(last, "[UNAVAILABLE]") {
					t.Fatalf("%s on node B: %q", cmd, l)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		fmt.Fprintf(nc, "i IDLE\r\n")
		readUntil("+")
		return nc, readUntil
	}
	nc, readUntil := idleOnB(0)
	sent := time.Now()
	sendPlain(t, a.Addrs()["smtp"], "carol@town.test", "dave@hill.test",
		"From: carol@town.test\r\nTo: dave@hill.test\r\nSubject: across nodes\r\n\r\nreceived by A, read on B\r\n")
	readUntil("* 1 EXISTS")
	t.Logf("node B's IDLE heard of node A's delivery after %v", time.Since(sent).Round(time.Millisecond))
	fmt.Fprintf(nc, "DONE\r\n")
	readUntil("i OK")
	fmt.Fprintf(nc, "f FETCH 1 BODY[TEXT]\r\n")
	if l := strings.Join(readUntil("f "), ""); !strings.Contains(l, "received by A, read on B") || !strings.Contains(l, "f OK") {
		t.Fatalf("FETCH on node B: %q", l)
	}
	nc.Close()

	// PostgreSQL crashes and restarts: node A answers 451 while it is
	// away and takes mail again once it is back, and node B's watcher,
	// whose connection broke, makes a new one, so that an IDLE hears of
	// the new mail.
	send := func() error {
		c, err := smtp.Dial(a.Addrs()["smtp"])
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Hello("mx.town.test"); err != nil {
			return err
		}
		if err := c.Mail("carol@town.test"); err != nil {
			return err
		}
		if err := c.Rcpt("dave@hill.test"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		io.WriteString(w, "From: carol@town.test\r\nSubject: after the restart\r\n\r\nsecond\r\n")
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	if err := pg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := send(); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("delivery through node A with PostgreSQL down: %v, want 451", err)
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	_, readUntil = idleOnB(1)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := send()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "451") {
			t.Fatalf("delivery through node A after PostgreSQL restarted: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	readUntil("* 2 EXISTS")

	ka, err := a.dkimKeys.Keys("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.dkimKeys.Keys("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ka) == 0 || len(ka) != len(kb) || ka[0].TXT() != kb[0].TXT() {
		t.Errorf("the nodes' DKIM keys differ: %d and %d keys", len(ka), len(kb))
	}
	for _, f := range []string{"pail.db", "mail", "dkim", filepath.Join("queue", "queue.db")} {
		if _, err := os.Stat(filepath.Join(b.cfg.DataDir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("node B's data directory has %s (%v): the store, queue and keys belong in the database", f, err)
		}
	}
}
