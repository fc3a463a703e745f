package pop3d

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/store"
)

// bigMessage is about 1 MB of CRLF text with what trips up a POP3 server:
// lines that start with ".", a line that is only ".", 8-bit UTF-8, and
// lines longer than any buffer on the way.
func bigMessage() string {
	var b strings.Builder
	b.WriteString("From: jack@town.test\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for i := 0; b.Len() < 1<<20; i++ {
		switch i % 7 {
		case 0:
			b.WriteString(".\r\n")
		case 1:
			b.WriteString("..two dots\r\n")
		case 2:
			b.WriteString("Grüße vom Hügel – line " + fmt.Sprint(i) + "\r\n")
		case 3:
			b.WriteString(strings.Repeat("x", 40000+i) + "\r\n")
		case 4:
			b.WriteString("." + strings.Repeat("y", 70000) + "\r\n")
		default:
			b.WriteString("plain line\r\n")
		}
	}
	b.WriteString(".last line without CRLF")
	return b.String()
}

func TestRetrAndTopStreamExactBytes(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	big := bigMessage()
	deliver(t, env.st, env.acct.ID, big)
	stored := inbox(t, env.st, env.acct.ID)

	c := dial(t, env.addr)
	c.login(testUser)
	c.send("LIST\r\n")
	c.expect(`\+OK 4 messages .*`)
	list := c.multi()
	for i, m := range stored {
		if !strings.Contains(list, fmt.Sprintf("%d %d\r\n", i+1, len(m))) {
			t.Errorf("LIST %q lacks message %d of %d octets", list, i+1, len(m))
		}
		c.cmd(fmt.Sprintf("RETR %d", i+1), fmt.Sprintf(`\+OK %d octets`, len(m)))
		got := c.multi()
		want := m
		if !strings.HasSuffix(want, "\r\n") {
			want += "\r\n" // the server ends the last line before "."
		}
		if got != want {
			t.Errorf("RETR %d: got %d octets, want %d; first difference at %d", i+1, len(got), len(want), firstDiff(got, want))
		}
	}
	// TOP 4 3: the header, the empty line and three body lines.
	c.cmd("TOP 4 3", `\+OK .*`)
	got := c.multi()
	head, body, _ := strings.Cut(big, "\r\n\r\n")
	lines := strings.SplitAfter(body, "\r\n")
	if want := head + "\r\n\r\n" + strings.Join(lines[:3], ""); got != want {
		t.Errorf("TOP 4 3: got %d octets %q..., want %d octets", len(got), clip(got), len(want))
	}
	c.cmd("QUIT", `\+OK .*`)
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}

// uidls returns the UIDL listing as message number → unique id.
func (c *client) uidls() map[int]string {
	c.t.Helper()
	c.cmd("UIDL", `\+OK.*`)
	out := map[int]string{}
	for _, l := range strings.Split(strings.TrimSuffix(c.multi(), "\r\n"), "\r\n") {
		var n int
		var id string
		if _, err := fmt.Sscanf(l, "%d %s", &n, &id); err != nil {
			c.t.Fatalf("UIDL line %q: %v", l, err)
		}
		out[n] = id
	}
	return out
}

func TestUIDLStableAcrossSessionsAndNeverReused(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	mb, err := env.st.MailboxByName(context.Background(), env.acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, env.addr)
	c.login(testUser)
	first := c.uidls()
	for n, id := range first {
		if want := fmt.Sprintf("%d.%d", mb.UIDValidity, n); id != want {
			t.Errorf("message %d has unique id %q, want UIDVALIDITY.UID %q", n, id, want)
		}
	}
	c.cmd("DELE 1", `\+OK.*`)
	c.cmd("QUIT", `\+OK.*`)

	deliver(t, env.st, env.acct.ID, "Subject: new\r\n\r\nnew\r\n")
	c = dial(t, env.addr)
	c.login(testUser)
	second := c.uidls()
	if len(second) != 3 || second[1] != first[2] || second[2] != first[3] {
		t.Errorf("after deleting message 1: %v, want the old ids of 2 and 3 first (%v)", second, first)
	}
	for _, id := range first {
		if second[3] == id {
			t.Errorf("new message got the old unique id %q", id)
		}
	}
	c.cmd("UIDL 3", `\+OK 3 `+regexp.QuoteMeta(second[3]))
	c.cmd("QUIT", `\+OK.*`)
}

func TestMaildropLockInUse(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	a := dial(t, env.addr)
	a.login(testUser)

	b := dial(t, env.addr)
	b.expect(`\+OK.*`)
	b.cmd("USER "+testUser, `\+OK.*`)
	b.cmd("PASS "+testPassword, `-ERR \[IN-USE\] .*`)
	b.cmd("STAT", `-ERR .*`) // still in the AUTHORIZATION state
	// Another account is not locked.
	b.cmd("USER "+otherUser, `\+OK.*`)
	b.cmd("PASS "+testPassword, `\+OK Logged in, 0 messages \(0 octets\)`)
	b.cmd("QUIT", `\+OK.*`)

	a.cmd("QUIT", `\+OK.*`)
	c := dial(t, env.addr)
	c.login(testUser) // QUIT released the lock

	// A dropped connection releases it too.
	c.conn.Close()
	loginEventually(t, env.addr)
}

// loginEventually logs in as testUser, retrying while the maildrop is
// still locked by a session the server has not yet seen end.
func loginEventually(t *testing.T, addr string) *client {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dial(t, addr)
		c.expect(`\+OK.*`)
		c.cmd("USER "+testUser, `\+OK.*`)
		l := c.cmd("PASS "+testPassword, `(\+OK|-ERR \[IN-USE\]) .*`)
		if strings.HasPrefix(l, "+OK") {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("maildrop still locked after the session ended")
		}
		c.conn.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLocksSharedBetweenServers(t *testing.T) {
	locks := new(Locks)
	env := newTestEnv(t, testOpts{locks: locks})
	first := env.addr
	env.start(t, testOpts{locks: locks, implicitTLS: true})
	a := dial(t, first)
	a.login(testUser)
	b := dialTLS(t, env.addr)
	b.expect(`\+OK.*`)
	b.cmd("USER "+testUser, `\+OK.*`)
	b.cmd("PASS "+testPassword, `-ERR \[IN-USE\] .*`)
}

func TestDeleQuitIsDurable(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("DELE 1", `\+OK.*`)
	c.cmd("DELE 3", `\+OK.*`)
	c.cmd("QUIT", `\+OK .*\(2 messages removed\)`)
	c.expectEOF()

	// Stop everything and open the data directory afresh.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	env.st.Close()
	st, err := store.Open(ctx, env.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := inbox(t, st, env.acct.ID); len(got) != 1 || got[0] != fixture[1] {
		t.Fatalf("after DELE 1, DELE 3, QUIT the INBOX holds %q, want only message 2", got)
	}
}

func TestDropWithoutQuitRemovesNothing(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.login(testUser)
	for _, n := range []string{"1", "2", "3"} {
		c.cmd("DELE "+n, `\+OK.*`)
	}
	c.conn.Close()
	c = loginEventually(t, env.addr)
	c.cmd("STAT", `\+OK 3 157`)
	if got := inbox(t, env.st, env.acct.ID); len(got) != 3 {
		t.Fatalf("INBOX holds %d messages after a dropped session, want 3", len(got))
	}
}

func TestIdleTimeoutClosesSilentlyAndRemovesNothing(t *testing.T) {
	env := newTestEnv(t, testOpts{idle: 300 * time.Millisecond})
	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("DELE 1", `\+OK.*`)
	start := time.Now()
	// RFC 1939 §3: the autologout closes without a response.
	c.expectEOF()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("idle session closed after %v", d)
	}
	c = loginEventually(t, env.addr)
	c.cmd("STAT", `\+OK 3 157`)

	// A client silent before the greeting is answered is closed too.
	c = dial(t, env.addr)
	c.expect(`\+OK.*`)
	c.expectEOF()
}

func TestNewMailAppearsInTheNextSession(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.login(testUser)
	deliver(t, env.st, env.acct.ID, "Subject: late\r\n\r\nlate\r\n")
	c.cmd("STAT", `\+OK 3 157`)
	c.cmd("RETR 4", `-ERR No such message`)
	c.cmd("QUIT", `\+OK.*`)
	c = dial(t, env.addr)
	c.login(testUser)
	c.cmd("STAT", `\+OK 4 \d+`)
}

func TestMessageRemovedByAnotherSession(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.login(testUser)
	// IMAP or webmail removes message 1 in the meantime.
	ctx := context.Background()
	mb, _ := env.st.MailboxByName(ctx, env.acct.ID, store.Inbox)
	msgs, _ := env.st.Messages(ctx, mb.ID)
	if err := env.st.Expunge(ctx, mb.ID, []int64{msgs[0].ID}); err != nil {
		t.Fatal(err)
	}
	c.cmd("RETR 1", `-ERR Message was removed by another session`)
	c.cmd("RETR 2", `\+OK 43 octets`)
	c.multi()
	c.cmd("DELE 1", `\+OK.*`)
	c.cmd("QUIT", `\+OK.*`)
	if got := inbox(t, env.st, env.acct.ID); len(got) != 2 {
		t.Fatalf("INBOX holds %d messages, want 2", len(got))
	}
}

// faultyStore injects failures into a real store.
type faultyStore struct {
	Store
	expunge  func() error
	open     func()
	messages func() error
}

func (f *faultyStore) MessageSizes(ctx context.Context, mailboxID int64) ([]store.Message, error) {
	if f.messages != nil {
		if err := f.messages(); err != nil {
			return nil, err
		}
	}
	return f.Store.MessageSizes(ctx, mailboxID)
}

func (f *faultyStore) Expunge(ctx context.Context, mailboxID int64, ids []int64) error {
	if f.expunge != nil {
		if err := f.expunge(); err != nil {
			return err
		}
	}
	return f.Store.Expunge(ctx, mailboxID, ids)
}

func (f *faultyStore) OpenBody(ctx context.Context, m store.Message) (store.Body, error) {
	if f.open != nil {
		f.open()
	}
	return f.Store.OpenBody(ctx, m)
}

func TestExpungeFailureLosesNothing(t *testing.T) {
	env := newTestEnv(t, testOpts{wrap: func(s Store) Store {
		return &faultyStore{Store: s, expunge: func() error { return errors.New("disk on fire") }}
	}})
	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("DELE 1", `\+OK.*`)
	l := c.cmd("QUIT", `-ERR \[SYS/TEMP\] .*`)
	if strings.Contains(l, "fire") {
		t.Errorf("reply %q leaks the internal error", l)
	}
	c.expectEOF()
	if got := inbox(t, env.st, env.acct.ID); len(got) != 3 {
		t.Fatalf("INBOX holds %d messages, want 3", len(got))
	}
	loginEventually(t, env.addr)
}

func TestPanicInCommandIsContained(t *testing.T) {
	env := newTestEnv(t, testOpts{wrap: func(s Store) Store {
		return &faultyStore{Store: s, open: func() { panic("boom") }}
	}})
	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("DELE 2", `\+OK.*`)
	c.cmd("RETR 1", `-ERR \[SYS/TEMP\] Internal server error, closing connection`)
	c.expectEOF()
	c = loginEventually(t, env.addr) // the lock was released
	c.cmd("STAT", `\+OK 3 157`)      // and nothing removed
}

func TestShutdownLetsQuitFinishAndClosesIdleSessions(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	env := newTestEnv(t, testOpts{wrap: func(s Store) Store {
		return &faultyStore{Store: s, expunge: func() error {
			close(entered)
			<-release
			return nil
		}}
	}})
	idle := dial(t, env.addr)
	idle.expect(`\+OK.*`)
	idle2 := dial(t, env.addr)
	idle2.expect(`\+OK.*`)
	idle2.cmd("USER "+otherUser, `\+OK.*`)
	idle2.cmd("PASS "+testPassword, `\+OK.*`)

	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("DELE 1", `\+OK.*`)
	c.send("QUIT\r\n")
	<-entered

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- env.srv.Shutdown(ctx)
	}()
	idle.expectEOF()
	idle2.expectEOF()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a QUIT was removing messages", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	c.expect(`\+OK .*\(1 messages removed\)`)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := inbox(t, env.st, env.acct.ID); len(got) != 2 {
		t.Fatalf("INBOX holds %d messages, want 2", len(got))
	}
	// No new connections after Shutdown.
	if c, err := dialRaw(env.addr); err == nil {
		c.Close()
		t.Fatal("server still accepts connections after Shutdown")
	}
}

func TestConnectionCapPerIP(t *testing.T) {
	env := newTestEnv(t, testOpts{perIP: 2})
	a := dial(t, env.addr)
	a.expect(`\+OK.*`)
	b := dial(t, env.addr)
	b.expect(`\+OK.*`)
	c := dial(t, env.addr)
	c.expect(`-ERR \[SYS/TEMP\] Too many connections, try again later`)
	c.expectEOF()
	if !strings.Contains(env.mailLog.String(), "rejected client=127.0.0.1 proto=POP3 reason=\"too many connections\"") {
		t.Errorf("mail log lacks the rejection:\n%s", env.mailLog)
	}
	a.cmd("QUIT", `\+OK.*`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := dial(t, env.addr)
		if l := d.expect(`.*`); strings.HasPrefix(l, "+OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not released after QUIT")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOverlongLines(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect(`\+OK.*`)
	// RFC 2449 §4: 255 octets including CRLF is the limit.
	c.cmd("USER "+strings.Repeat("a", 255-len("USER \r\n")), `\+OK.*`)
	c.cmd("USER "+strings.Repeat("a", 256-len("USER \r\n")), `-ERR Command line too long.*`)
	c.cmd("PASS "+strings.Repeat("p", 10000), `-ERR Command line too long.*`)
	c.cmd("CAPA", `\+OK.*`) // the session goes on
	c.multi()
	// A line without end is not buffered: past 64 KiB the session ends.
	c.send(strings.Repeat("z", 100<<10))
	c.expectEOF()
}

func TestAuthFailuresAreLogged(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect(`\+OK.*`)
	c.cmd("USER "+testUser, `\+OK.*`)
	c.cmd("PASS not-the-password", `-ERR \[AUTH\] Authentication failed`)
	log := env.mailLog.String()
	if !regexp.MustCompile(`auth-failed client=127\.0\.0\.1 user=jill@hill\.test proto=POP3\n`).MatchString(log) {
		t.Errorf("mail log lacks the failure:\n%s", log)
	}
	if strings.Contains(log, "not-the-password") {
		t.Errorf("mail log holds the password:\n%s", log)
	}
}

// fakeAuth answers every login with one error.
type fakeAuth struct{ err error }

func (f fakeAuth) Authenticate(context.Context, netip.Addr, string, string) (store.Account, error) {
	return store.Account{}, f.err
}

func TestAuthLimitedAndBroken(t *testing.T) {
	for _, tc := range []struct {
		err   error
		reply string
		log   string
	}{
		{auth.ErrLimited, `-ERR \[SYS/TEMP\] Too many failed logins, try again later`, "reason=limited"},
		{errors.New("database gone"), `-ERR \[SYS/TEMP\] Temporary server error, try again later`, ""},
	} {
		env := newTestEnv(t, testOpts{authWrap: func(Authenticator) Authenticator { return fakeAuth{tc.err} }})
		c := dial(t, env.addr)
		c.expect(`\+OK.*`)
		c.cmd("AUTH PLAIN AGppbGxAaGlsbC50ZXN0AHMzY3JldCBwYXNz", tc.reply)
		c.cmd("NOOP", `-ERR .*`) // still not logged in
		if tc.log != "" && !strings.Contains(env.mailLog.String(), tc.log) {
			t.Errorf("mail log lacks %q:\n%s", tc.log, env.mailLog)
		}
	}
}

func dialRaw(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, clientTimeout) }

func TestShutdownDeadlineCutsOff(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	env := newTestEnv(t, testOpts{wrap: func(s Store) Store {
		return &faultyStore{Store: s, expunge: func() error {
			close(entered)
			<-release // a store call stuck past the deadline
			return errors.New("too late")
		}}
	}})
	c := dial(t, env.addr)
	c.login(testUser)
	c.cmd("DELE 1", `\+OK.*`)
	c.send("QUIT\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := env.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline's error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v past a 200ms deadline", d)
	}
	c.expectEOF() // cut off without +OK: the client knows nothing was confirmed
}

func TestStoreErrorAtLogin(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	env := newTestEnv(t, testOpts{wrap: func(s Store) Store {
		return &faultyStore{Store: s, messages: func() error {
			if fail.Load() {
				return errors.New("database locked")
			}
			return nil
		}}
	}})
	c := dial(t, env.addr)
	c.expect(`\+OK.*`)
	c.cmd("USER "+testUser, `\+OK.*`)
	c.cmd("PASS "+testPassword, `-ERR \[SYS/TEMP\] Temporary server error, try again later`)
	c.cmd("STAT", `-ERR Command not valid in this state`)
	fail.Store(false)
	// The failed login did not keep the maildrop locked.
	c.cmd("USER "+testUser, `\+OK.*`)
	c.cmd("PASS "+testPassword, `\+OK Logged in, 3 messages \(157 octets\)`)
}
