package server

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/config"
)

// Addresses of the login-penalty test: all loopback (127/8), so each is a
// client of its own to the limiter.
const (
	guesserIP  = "127.0.0.1"
	owner      = "127.0.0.2"
	webGuesser = "127.0.0.3"
	attackerIP = "127.0.0.4"
)

// quickLogin bounds how long the owner's right password may take while
// others guess: a refused attempt waits 5 s and a failed one at least
// 250 ms before it is answered; one argon2id check on a busy machine
// stays well below this.
const quickLogin = 2 * time.Second

// startLoginServer runs a whole pail (IMAP, POP3, submission, webmail on
// 127.0.0.1:0, one authenticator, the real failure delays) with the
// accounts dave@hill.test and carol@hill.test.
func startLoginServer(t *testing.T) map[string]string {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mx.hill.test"
	cfg.Domains = []string{"hill.test"}
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{IMAP: "127.0.0.1:0", POP3: "127.0.0.1:0", Submission: "127.0.0.1:0", HTTP: "127.0.0.1:0"}
	ctx := context.Background()
	srv, err := New(ctx, cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MailLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("dave's secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"dave@hill.test", "carol@hill.test"} {
		if _, err := srv.Store().AddAccount(ctx, a, hash, false); err != nil {
			t.Fatal(err)
		}
	}
	srv.Start(io.Discard)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv.Addrs()
}

// lineConn is a raw text-protocol connection from a chosen local address.
type lineConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialFrom(t *testing.T, from, addr string) *lineConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &lineConn{t: t, c: c, br: bufio.NewReader(c)}
}

// line reads one line; SMTP multi-line replies are read whole.
func (l *lineConn) line() string {
	l.t.Helper()
	var all string
	for {
		s, err := l.br.ReadString('\n')
		if err != nil {
			l.t.Fatalf("read: %q, %v", all+s, err)
		}
		all += s
		if len(s) < 4 || s[3] != '-' {
			return all
		}
	}
}

// cmd sends a line and returns the first reply line that starts with
// prefix (skipping IMAP untagged data), or fails.
func (l *lineConn) cmd(line, prefix string) string {
	l.t.Helper()
	if _, err := io.WriteString(l.c, line+"\r\n"); err != nil {
		l.t.Fatal(err)
	}
	for {
		r := l.line()
		if strings.HasPrefix(r, "* ") && !strings.HasPrefix(prefix, "* ") {
			continue
		}
		if !strings.HasPrefix(r, prefix) {
			l.t.Fatalf("%q: got %q, want %q…", line, r, prefix)
		}
		return r
	}
}

// webLogin posts the webmail login form from a chosen local address and
// returns the status.
func webLogin(t *testing.T, from, addr, user, password string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c := &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	resp, err := c.PostForm("http://"+addr+"/login", url.Values{"address": {user}, "password": {password}})
	if err != nil {
		t.Error(err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginPenaltyFallsOnTheGuesser is issue 12 items 6 and 7 against a
// whole server: parallel guesses from one address are counted from their
// start, so no more than the limit are checked, over IMAP and over the
// webmail; and while dave's password is guessed, dave from another
// address logs in at once on IMAP, POP3, submission and webmail.
func TestLoginPenaltyFallsOnTheGuesser(t *testing.T) {
	addrs := startLoginServer(t)
	limit := config.Default().Limits.LoginFailuresPerAddress

	// 50 parallel wrong IMAP guesses from one address, each on its own
	// connection (the default max_connections_per_ip).
	t0 := time.Now()
	const imapGuesses = 50
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for i := range imapGuesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialFrom(t, guesserIP, addrs["imap"])
			// Closed at once, to make room for the next connection.
			defer c.c.Close()
			c.line() // greeting
			r := c.cmd(fmt.Sprintf(`a LOGIN dave@hill.test "guess %d"`, i), "a ")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case strings.HasPrefix(r, "a NO [AUTHENTICATIONFAILED]"):
				answers["checked"]++
			case strings.HasPrefix(r, "a NO [UNAVAILABLE]"):
				answers["refused"]++
			default:
				t.Errorf("guess %d: %q", i, r)
			}
		}()
	}
	wg.Wait()
	t.Logf("IMAP: %v after %s", answers, time.Since(t0))
	if answers["checked"] > limit || answers["checked"]+answers["refused"] != imapGuesses {
		t.Errorf("IMAP: %d of %d parallel guesses checked, %d refused; the limit is %d", answers["checked"], imapGuesses, answers["refused"], limit)
	}

	// 50 parallel wrong webmail guesses from another address, for
	// another account (dave's is under attack now, which slows guesses
	// from addresses with failures further).
	t0 = time.Now()
	const webGuesses = 50
	statuses := map[int]int{}
	for i := range webGuesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := webLogin(t, webGuesser, addrs["http"], "carol@hill.test", fmt.Sprint("guess ", i))
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("webmail: %v after %s", statuses, time.Since(t0))
	if statuses[http.StatusUnauthorized] > limit || statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != webGuesses {
		t.Errorf("webmail: answers %v to %d parallel guesses; at most %d may be checked (401)", statuses, webGuesses, limit)
	}

	// The guessing address is refused, even with the right password, and
	// on every service (POP3 here: one count for all).
	c := dialFrom(t, guesserIP, addrs["pop3"])
	c.line()
	c.cmd("USER dave@hill.test", "+OK")
	c.cmd("PASS dave's secret", "-ERR [SYS/TEMP]")

	// Dave, from an address without failures, gets in at once everywhere.
	start := time.Now()
	c = dialFrom(t, owner, addrs["imap"])
	c.line()
	c.cmd(`a LOGIN dave@hill.test "dave's secret"`, "a OK")
	if d := time.Since(start); d > quickLogin {
		t.Errorf("IMAP login took %s", d)
	}

	start = time.Now()
	c = dialFrom(t, owner, addrs["pop3"])
	c.line()
	c.cmd("USER dave@hill.test", "+OK")
	c.cmd("PASS dave's secret", "+OK")
	if d := time.Since(start); d > quickLogin {
		t.Errorf("POP3 login took %s", d)
	}

	start = time.Now()
	c = dialFrom(t, owner, addrs["submission"])
	c.line()
	c.cmd("EHLO town.test", "250")
	c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00dave@hill.test\x00dave's secret")), "235 ")
	if d := time.Since(start); d > quickLogin {
		t.Errorf("submission AUTH took %s", d)
	}

	start = time.Now()
	if st := webLogin(t, owner, addrs["http"], "dave@hill.test", "dave's secret"); st != http.StatusSeeOther {
		t.Errorf("webmail login: status %d", st)
	}
	if d := time.Since(start); d > quickLogin {
		t.Errorf("webmail login took %s", d)
	}

	// Dave mistypes his password where he has logged in before, while
	// the attack goes on from a new address that spends the attempts
	// dave's account shares among other addresses: his next login there
	// still works at once (review item 9a).
	c = dialFrom(t, owner, addrs["imap"])
	c.line()
	c.cmd(`a LOGIN dave@hill.test "typo"`, "a NO [AUTHENTICATIONFAILED]")
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := dialFrom(t, attackerIP, addrs["imap"])
			defer g.c.Close()
			g.line()
			g.cmd(fmt.Sprintf(`a LOGIN dave@hill.test "guess %d"`, i), "a NO ")
		}()
	}
	wg.Wait()
	start = time.Now()
	c.cmd(`b LOGIN dave@hill.test "dave's secret"`, "b OK")
	if d := time.Since(start); d > quickLogin {
		t.Errorf("IMAP login after his own typo took %s", d)
	}
}
