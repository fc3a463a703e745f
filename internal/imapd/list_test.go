package imapd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/store"
)

// lxPassword is the password of the account listTestServer makes.
const lxPassword = "up the hill"

// lxConn is a raw IMAP client over a loopback socket.
type lxConn struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	n    int
	addr string
}

// listTestServer starts a store and an IMAP server on 127.0.0.1:0 and
// returns a client logged in as jack@hill.com.
func listTestServer(t *testing.T) *lxConn {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, _ := auth.HashPassword(lxPassword)
	if _, err := st.AddAccount(ctx, "jack@hill.com", hash, false); err != nil {
		t.Fatal(err)
	}
	authn := auth.New(st)
	authn.Sleep = func(context.Context, time.Duration) {}
	srv := New(Config{Hostname: "mx.hill.com", MaxMessageBytes: 1 << 20, MaxConnections: 10, MaxConnectionsPerIP: 10}, Deps{Store: st, Auth: authn})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	x := lxDial(t, ln.Addr().String())
	// Only INBOX, for the examples: the account's special-use mailboxes
	// go, with their subscriptions.
	for _, n := range []string{"Archive", "Drafts", "Junk", "Sent", "Trash"} {
		x.ok("UNSUBSCRIBE "+n, "DELETE "+n)
	}
	return x
}

// lxDial opens another logged-in connection to the server at addr.
func lxDial(t *testing.T, addr string) *lxConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	x := &lxConn{t: t, c: c, br: bufio.NewReader(c), addr: addr}
	x.line()
	if got := x.cmd(`LOGIN jack@hill.com "` + lxPassword + `"`); !strings.HasPrefix(got[len(got)-1], "OK") {
		t.Fatalf("LOGIN: %q", got)
	}
	return x
}

func (x *lxConn) line() string {
	x.t.Helper()
	x.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := x.br.ReadString('\n')
	if err != nil {
		x.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command and returns its lines up to the tagged reply,
// which is last.
func (x *lxConn) cmd(line string) []string {
	x.t.Helper()
	x.n++
	tag := fmt.Sprintf("x%d", x.n)
	fmt.Fprintf(x.c, "%s %s\r\n", tag, line)
	var out []string
	for {
		l := x.line()
		if strings.HasPrefix(l, tag+" ") {
			return append(out, strings.TrimPrefix(l, tag+" "))
		}
		out = append(out, l)
	}
}

// ok runs commands that must succeed.
func (x *lxConn) ok(lines ...string) {
	x.t.Helper()
	for _, l := range lines {
		if got := x.cmd(l); !strings.HasPrefix(got[len(got)-1], "OK") {
			x.t.Fatalf("%s: %q", l, got)
		}
	}
}

// rfc5258Setup makes the mailboxes and subscriptions of RFC 5258 §5's
// examples: Fruit, Fruit/Apple, Fruit/Banana, Tofu, Vegetable,
// Vegetable/Broccoli, Vegetable/Corn; subscribed INBOX, Fruit/Banana,
// Fruit/Peach (deleted), Vegetable, Vegetable/Broccoli; and, for
// RECURSIVEMATCH, Foo/Bar and Foo/Baz subscribed under an unsubscribed
// Foo, Moo subscribed with an unsubscribed child.
func rfc5258Setup(x *lxConn) {
	x.ok("CREATE Fruit/Apple", "CREATE Fruit/Banana", "CREATE Fruit/Peach", "CREATE Tofu",
		"CREATE Vegetable/Broccoli", "CREATE Vegetable/Corn", "CREATE Foo/Bar", "CREATE Foo/Baz", "CREATE Moo/Cow")
	// Created mailboxes start subscribed: leave only the examples'.
	for _, n := range []string{"Fruit", "Fruit/Apple", "Tofu", "Vegetable/Corn", "Foo", "Moo/Cow"} {
		x.ok("UNSUBSCRIBE " + n)
	}
	x.ok("DELETE Fruit/Peach")
}

// TestListExtended runs RFC 5258 §5's examples (and RFC 3501 §6.3.9's
// LSUB rule) as a table over a raw socket.
func TestListExtended(t *testing.T) {
	x := listTestServer(t)
	rfc5258Setup(x)
	tests := []struct {
		cmd  string
		want []string
	}{
		{`LIST "" "*" RETURN (SUBSCRIBED)`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasChildren) "/" Foo`,
			`* LIST (\HasNoChildren \Subscribed) "/" Foo/Bar`,
			`* LIST (\HasNoChildren \Subscribed) "/" Foo/Baz`,
			`* LIST (\HasChildren) "/" Fruit`,
			`* LIST (\HasNoChildren) "/" Fruit/Apple`,
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Banana`,
			`* LIST (\HasChildren \Subscribed) "/" Moo`,
			`* LIST (\HasNoChildren) "/" Moo/Cow`,
			`* LIST (\HasNoChildren) "/" Tofu`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable`,
			`* LIST (\HasNoChildren \Subscribed) "/" Vegetable/Broccoli`,
			`* LIST (\HasNoChildren) "/" Vegetable/Corn`,
		}},
		{`LIST (SUBSCRIBED) "" "*"`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasNoChildren \Subscribed) "/" Foo/Bar`,
			`* LIST (\HasNoChildren \Subscribed) "/" Foo/Baz`,
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Banana`,
			`* LIST (\NonExistent \HasNoChildren \Subscribed) "/" Fruit/Peach`,
			`* LIST (\HasChildren \Subscribed) "/" Moo`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable`,
			`* LIST (\HasNoChildren \Subscribed) "/" Vegetable/Broccoli`,
		}},
		{`LIST (SUBSCRIBED) "" "Fruit/%" RETURN (CHILDREN)`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Banana`,
			`* LIST (\NonExistent \HasNoChildren \Subscribed) "/" Fruit/Peach`,
		}},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasChildren) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))`,
			`* LIST (\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))`,
			`* LIST (\HasChildren \Subscribed) "/" Moo`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable ("CHILDINFO" ("SUBSCRIBED"))`,
		}},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasNoChildren \Subscribed) "/" Foo/Bar`,
			`* LIST (\HasNoChildren \Subscribed) "/" Foo/Baz`,
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Banana`,
			`* LIST (\NonExistent \HasNoChildren \Subscribed) "/" Fruit/Peach`,
			`* LIST (\HasChildren \Subscribed) "/" Moo`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable`,
			`* LIST (\HasNoChildren \Subscribed) "/" Vegetable/Broccoli`,
		}},
		{`LIST "" "%"`, []string{
			`* LIST (\HasNoChildren) "/" INBOX`,
			`* LIST (\HasChildren) "/" Foo`,
			`* LIST (\HasChildren) "/" Fruit`,
			`* LIST (\HasChildren) "/" Moo`,
			`* LIST (\HasNoChildren) "/" Tofu`,
			`* LIST (\HasChildren) "/" Vegetable`,
		}},
		{`LIST "Fruit/" "%"`, []string{
			`* LIST (\HasNoChildren) "/" Fruit/Apple`,
			`* LIST (\HasNoChildren) "/" Fruit/Banana`,
		}},
		{`LIST "" ("Tofu" "Vegetable/%") RETURN (SUBSCRIBED)`, []string{
			`* LIST (\HasNoChildren) "/" Tofu`,
			`* LIST (\HasNoChildren \Subscribed) "/" Vegetable/Broccoli`,
			`* LIST (\HasNoChildren) "/" Vegetable/Corn`,
		}},
		// RFC 3501 §6.3.9: Foo is not subscribed but Foo/Bar is; "%"
		// stops at Foo, which LSUB lists as \Noselect.
		{`LSUB "" "%"`, []string{
			`* LSUB () "/" INBOX`,
			`* LSUB (\Noselect) "/" Foo`,
			`* LSUB (\Noselect) "/" Fruit`,
			`* LSUB () "/" Moo`,
			`* LSUB () "/" Vegetable`,
		}},
		{`LSUB "" "Fruit/*"`, []string{
			`* LSUB () "/" Fruit/Banana`,
			`* LSUB (\Noselect) "/" Fruit/Peach`,
		}},
		{`LIST (RECURSIVEMATCH) "" "*"`, []string{`BAD`}},
		{`LIST (REMOTE RECURSIVEMATCH) "" "*"`, []string{`BAD`}},
		{`LIST (BOGUS) "" "*"`, []string{`BAD`}},
		{`LIST "" "*" RETURN (BOGUS)`, []string{`BAD`}},
	}
	for _, tt := range tests {
		got := x.cmd(tt.cmd)
		last := got[len(got)-1]
		if tt.want[0] == "BAD" {
			if !strings.HasPrefix(last, "BAD") {
				t.Errorf("%s: %q, want BAD", tt.cmd, got)
			}
			continue
		}
		if !strings.HasPrefix(last, "OK") {
			t.Errorf("%s: %q", tt.cmd, got)
			continue
		}
		if g, w := strings.Join(got[:len(got)-1], "\n"), strings.Join(tt.want, "\n"); g != w {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tt.cmd, g, w)
		}
	}
}

// TestListReturnStatus: RETURN (STATUS ...) gives a STATUS after each
// selectable mailbox's LIST and none after a \NonExistent one (RFC 5819
// §2), SIZE included (RFC 8438); with SPECIAL-USE selection only the
// special-use mailboxes (RFC 6154 §5.1).
func TestListReturnStatus(t *testing.T) {
	x := listTestServer(t)
	x.ok("CREATE Sent (USE (\\Sent))", "CREATE Gone", "DELETE Gone", "APPEND INBOX {4+}\r\nHi\r\n")
	got := x.cmd(`LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES SIZE) SPECIAL-USE CHILDREN)`)
	want := []string{
		`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
		`* STATUS INBOX (MESSAGES 1 SIZE 4)`,
		`* LIST (\NonExistent \HasNoChildren \Subscribed) "/" Gone`,
		`* LIST (\HasNoChildren \Subscribed \Sent) "/" Sent`,
		`* STATUS Sent (MESSAGES 0 SIZE 0)`,
	}
	if g, w := strings.Join(got[:len(got)-1], "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("got:\n%s\nwant:\n%s", g, w)
	}
	got = x.cmd(`LIST (SPECIAL-USE) "" "*"`)
	if len(got) != 2 || got[0] != `* LIST (\HasNoChildren \Sent) "/" Sent` {
		t.Errorf("SPECIAL-USE selection: %q", got)
	}
	if got := x.cmd(`CREATE Bin (USE (\Bogus))`); !strings.HasPrefix(got[len(got)-1], "NO [USEATTR]") {
		t.Errorf("unknown use: %q", got)
	}
	got = x.cmd("STATUS INBOX (SIZE MESSAGES)")
	if got[0] != `* STATUS INBOX (SIZE 4 MESSAGES 1)` {
		t.Errorf("STATUS: %q", got)
	}
	got = x.cmd("CAPABILITY")
	for _, c := range []string{"LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "CHILDREN"} {
		if !strings.Contains(got[0]+" ", " "+c+" ") {
			t.Errorf("CAPABILITY lacks %s: %q", c, got[0])
		}
	}
}

// TestBadNamesAnsweredNo: a name that is not modified UTF-7 or holds a
// NUL gets NO with a reason (not BAD, not SERVERBUG) from every command
// that takes a name, LIST's reference included.
func TestBadNamesAnsweredNo(t *testing.T) {
	x := listTestServer(t)
	x.ok("APPEND INBOX {3+}\r\nabc")
	cmds := []string{
		"CREATE %s", "DELETE %s", "RENAME %s Other", "RENAME INBOX %s", "SELECT %s", "EXAMINE %s",
		"STATUS %s (MESSAGES)", "APPEND %s {3+}\r\nabc", "COPY 1 %s", "MOVE 1 %s", "UID COPY 1 %s",
		"SUBSCRIBE %s", "UNSUBSCRIBE %s", `LIST %s "*"`,
	}
	names := []string{`"a&b"`, `"&Jjo"`, "{3+}\r\na\x00b"}
	for _, c := range cmds {
		for _, n := range names {
			x.ok("SELECT INBOX")
			line := fmt.Sprintf(c, n)
			got := x.cmd(line)
			last := got[len(got)-1]
			if !strings.HasPrefix(last, "NO ") || strings.Contains(last, "SERVERBUG") || len(last) < 10 {
				t.Errorf("%q: %q", line, got)
			}
		}
	}
}

// TestRecentWithinExists: after messages arrive and some are expunged by
// another session, the RECENT a session reports never exceeds the EXISTS
// it has told (RFC 3501 §7.3.2, issue 16).
func TestRecentWithinExists(t *testing.T) {
	a := listTestServer(t)
	b := lxDial(t, a.addr)
	a.ok("SELECT INBOX")
	b.ok("APPEND INBOX {1+}\r\nx", "APPEND INBOX {1+}\r\ny", "APPEND INBOX {1+}\r\nz", "EXAMINE INBOX")
	check := func(lines []string) {
		t.Helper()
		var exists, recent int
		for _, l := range lines {
			var n int
			if _, err := fmt.Sscanf(l, "* %d EXISTS", &n); err == nil {
				exists = n
			}
			if _, err := fmt.Sscanf(l, "* %d RECENT", &n); err == nil {
				recent = n
				if recent > exists {
					t.Errorf("RECENT %d over EXISTS %d: %q", recent, exists, lines)
				}
			}
		}
	}
	c := lxDial(t, a.addr)
	c.ok("SELECT INBOX", "STORE 1:2 +FLAGS (\\Deleted)", "EXPUNGE")
	check(a.cmd("NOOP"))
	got := a.cmd("SELECT INBOX")
	check(got)
	if !slices.Contains(got, "* 1 EXISTS") {
		t.Errorf("SELECT: %q", got)
	}
}
