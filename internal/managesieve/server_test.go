package managesieve

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/store"
	"pail/internal/tlsconf"
)

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// start runs a server on a loopback port over a real store with the
// account jill@hill.test; loopback may log in without TLS unless
// tlsOnly.
func start(t *testing.T, tlsOnly bool) (string, *store.Store, store.Account) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, _ := auth.HashPassword("secret")
	acct, err := st.AddAccount(ctx, "jill@hill.test", hash, false)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := tlsconf.Load("", "", dir, []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(st)
	authn.Sleep = func(context.Context, time.Duration) {}
	srv := New(Config{Hostname: "mx.hill.test", TLS: tlsCfg, Limits: store.SieveLimits{MaxScripts: 2, MaxBytes: 1000}, MaxRedirects: 4},
		Deps{Store: st, Auth: authn})
	if tlsOnly {
		srv.plaintextOK = func(netip.Addr) bool { return false }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), st, acct
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.until()
	return c
}

// until reads lines up to the final OK, NO or BYE and returns them all.
func (c *client) until() []string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v after %q", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		for _, k := range []string{"OK", "NO", "BYE"} {
			if l == k || strings.HasPrefix(l, k+" ") {
				return lines
			}
		}
	}
}

func (c *client) cmd(line string) []string {
	c.t.Helper()
	fmt.Fprintf(c.conn, "%s\r\n", line)
	return c.until()
}

func last(lines []string) string { return lines[len(lines)-1] }

func plain(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
}

func TestManageSieveSession(t *testing.T) {
	addr, st, acct := start(t, false)
	c := dial(t, addr)
	caps := strings.Join(c.cmd("CAPABILITY"), "\n")
	for _, want := range []string{`"IMPLEMENTATION" "pail"`, `"SASL" "PLAIN"`, `"STARTTLS"`, `"MAXREDIRECTS" "4"`, `"VERSION" "1.0"`, "vacation", "fileinto"} {
		if !strings.Contains(caps, want) {
			t.Errorf("capabilities lack %s:\n%s", want, caps)
		}
	}
	if got := last(c.cmd("LISTSCRIPTS")); !strings.HasPrefix(got, "NO") {
		t.Errorf("before login: %s", got)
	}
	if got := last(c.cmd(`AUTHENTICATE "PLAIN" "` + plain("jill@hill.test", "wrong") + `"`)); !strings.HasPrefix(got, "NO") {
		t.Errorf("bad password: %s", got)
	}
	// Continuation form: an empty challenge, then the response.
	fmt.Fprintf(c.conn, "AUTHENTICATE \"PLAIN\"\r\n")
	if l, _ := c.r.ReadString('\n'); l != "\"\"\r\n" {
		t.Fatalf("challenge %q", l)
	}
	if got := last(c.cmd(`"` + plain("jill@hill.test", "secret") + `"`)); !strings.HasPrefix(got, "OK") {
		t.Fatalf("login: %s", got)
	}
	script := "require \"fileinto\";\r\nfileinto \"Lists\";\r\n"
	if got := last(c.cmd(fmt.Sprintf("PUTSCRIPT \"lists\" {%d+}\r\n%s", len(script), script))); got != "OK" {
		t.Fatalf("putscript: %s", got)
	}
	bad := "fileinto \"x\";"
	if got := last(c.cmd(fmt.Sprintf("PUTSCRIPT \"bad\" {%d}\r\n%s", len(bad), bad))); !strings.HasPrefix(got, "NO") || !strings.Contains(got, "line 1, column 1") {
		t.Errorf("bad script: %s", got)
	}
	if got := last(c.cmd(fmt.Sprintf("CHECKSCRIPT {%d+}\r\n%s", len(bad), bad))); !strings.HasPrefix(got, "NO") {
		t.Errorf("checkscript: %s", got)
	}
	if got := last(c.cmd(`HAVESPACE "other" 5000`)); !strings.HasPrefix(got, "NO (QUOTA/MAXSIZE)") {
		t.Errorf("havespace large: %s", got)
	}
	if got := last(c.cmd(`HAVESPACE "other" 50`)); got != "OK" {
		t.Errorf("havespace: %s", got)
	}
	if got := last(c.cmd(`PUTSCRIPT "two" "keep;"`)); got != "OK" {
		t.Errorf("second: %s", got)
	}
	if got := last(c.cmd(`PUTSCRIPT "three" "keep;"`)); !strings.HasPrefix(got, "NO (QUOTA/MAXSCRIPTS)") {
		t.Errorf("third: %s", got)
	}
	if got := last(c.cmd(`SETACTIVE "nope"`)); !strings.HasPrefix(got, "NO (NONEXISTENT)") {
		t.Errorf("setactive missing: %s", got)
	}
	if got := last(c.cmd(`SETACTIVE "lists"`)); got != "OK" {
		t.Errorf("setactive: %s", got)
	}
	if got := c.cmd("LISTSCRIPTS"); strings.Join(got, "\n") != "\"lists\" ACTIVE\n\"two\"\nOK" {
		t.Errorf("listscripts: %q", got)
	}
	got := c.cmd(`GETSCRIPT "lists"`)
	if strings.Join(got, "\n") != fmt.Sprintf("{%d}\nrequire \"fileinto\";\nfileinto \"Lists\";\n\nOK", len(script)) {
		t.Errorf("getscript: %q", got)
	}
	if got := last(c.cmd(`DELETESCRIPT "lists"`)); !strings.HasPrefix(got, "NO (ACTIVE)") {
		t.Errorf("delete active: %s", got)
	}
	if got := last(c.cmd(`RENAMESCRIPT "two" "lists"`)); !strings.HasPrefix(got, "NO (ALREADYEXISTS)") {
		t.Errorf("rename onto existing: %s", got)
	}
	if got := last(c.cmd(`RENAMESCRIPT "two" "deux"`)); got != "OK" {
		t.Errorf("rename: %s", got)
	}
	if got := last(c.cmd(`DELETESCRIPT "deux"`)); got != "OK" {
		t.Errorf("delete: %s", got)
	}
	if got := last(c.cmd(`NOOP "t1"`)); got != `OK (TAG "t1") "Done"` {
		t.Errorf("noop: %s", got)
	}
	if act, _ := st.ActiveSieveScripts(context.Background(), []int64{acct.ID}); act[acct.ID].Name != "lists" {
		t.Errorf("store: %+v", act)
	}
	if got := last(c.cmd("UNAUTHENTICATE")); got != "OK" {
		t.Errorf("unauthenticate: %s", got)
	}
	if got := last(c.cmd("LISTSCRIPTS")); !strings.HasPrefix(got, "NO") {
		t.Errorf("after unauthenticate: %s", got)
	}
	// A literal past the bound ends the session.
	if got := last(c.cmd("PUTSCRIPT \"x\" {99999999+}")); !strings.HasPrefix(got, "BYE") {
		t.Errorf("huge literal: %s", got)
	}
}

func TestManageSieveTLSOnly(t *testing.T) {
	addr, _, _ := start(t, true)
	c := dial(t, addr)
	if caps := strings.Join(c.cmd("CAPABILITY"), "\n"); !strings.Contains(caps, `"SASL" ""`) {
		t.Errorf("PLAIN offered without TLS:\n%s", caps)
	}
	if got := last(c.cmd(`AUTHENTICATE "PLAIN" "` + plain("jill@hill.test", "secret") + `"`)); !strings.HasPrefix(got, "NO (ENCRYPT-NEEDED)") {
		t.Errorf("login without TLS: %s", got)
	}
	if got := last(c.cmd("STARTTLS")); got != `OK "Begin TLS negotiation"` {
		t.Fatalf("starttls: %s", got)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	caps := strings.Join(c.until(), "\n")
	if !strings.Contains(caps, `"SASL" "PLAIN"`) || strings.Contains(caps, "STARTTLS") {
		t.Errorf("capabilities after TLS:\n%s", caps)
	}
	if got := last(c.cmd(`AUTHENTICATE "PLAIN" "` + plain("jill@hill.test", "secret") + `"`)); !strings.HasPrefix(got, "OK") {
		t.Errorf("login over TLS: %s", got)
	}
	if got := last(c.cmd("LOGOUT")); !strings.HasPrefix(got, "OK") {
		t.Errorf("logout: %s", got)
	}
}
