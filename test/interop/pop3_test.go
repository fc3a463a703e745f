//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// popMaxMessageBytes lifts the harness's message size limit so that the
// large message of the POP3 tests (about 2 MB) gets in.
const popMaxMessageBytes = 8 << 20

// popServer is a test server with the pop3 and pop3s listeners on as well.
type popServer struct {
	*server
	pop3Addr  string
	pop3sAddr string
}

// startPOP3Server starts a server whose config also lists pop3 and pop3s
// on free loopback ports. The harness writes the config; this adds the two
// listeners to its [listen] table and raises max_message_bytes.
func startPOP3Server(t *testing.T) *popServer {
	t.Helper()
	s := &popServer{server: newServer(t, serverOptions{}), pop3Addr: testnet.Addr(t), pop3sAddr: testnet.Addr(t)}
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for old, repl := range map[string]string{
		"[listen]\n": fmt.Sprintf("[listen]\npop3 = %q\npop3s = %q\n", s.pop3Addr, s.pop3sAddr),
		fmt.Sprintf("max_message_bytes = %d\n", maxMsgBytes): fmt.Sprintf("max_message_bytes = %d\n", popMaxMessageBytes),
	} {
		if strings.Count(cfg, old) != 1 {
			t.Fatalf("harness config has changed: cannot find %q once in\n%s", old, cfg)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("config with the POP3 listeners:\n%s", cfg)
		}
	})
	s.start()
	return s
}

// start starts the server and waits for the POP3 ports as well.
func (s *popServer) start() {
	s.t.Helper()
	s.server.start()
	deadline := time.Now().Add(startTimeout)
	for _, addr := range []string{s.pop3Addr, s.pop3sAddr} {
		if err := waitListening(addr, s.proc, deadline); err != nil {
			s.t.Fatalf("pail serve did not come up on %s: %v", addr, err)
		}
	}
}

// popUser is the account the POP3 tests read.
const popUser = "jill@hill.test"

// mixedMessages is a mailbox that exercises a POP3 download: 8-bit UTF-8
// text, a message of about 2 MB, a multipart message with a base64
// attachment, and lines that start with "." (byte-stuffed on the wire) or
// with "From " (quoted in an mbox). Messages use LF; SMTP sends CRLF.
func mixedMessages() []string {
	rng := mathrand.New(mathrand.NewPCG(4, 2))
	var large strings.Builder
	large.WriteString("From: jack@town.test\nTo: jill@hill.test\nSubject: pop3 large\n\n")
	for i := 0; large.Len() < 2<<20; i++ {
		if i%97 == 0 {
			large.WriteString(".line starting with a dot\n")
			continue
		}
		line := make([]byte, 57)
		for j := range line {
			line[j] = byte(rng.Uint32())
		}
		large.WriteString(base64.StdEncoding.EncodeToString(line) + "\n")
	}
	attachment := make([]byte, 150<<10)
	rand.Read(attachment)
	enc := base64.StdEncoding.EncodeToString(attachment)
	var att strings.Builder
	for len(enc) > 76 {
		att.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	att.WriteString(enc + "\n")
	return []string{
		"From: jack@town.test\nTo: jill@hill.test\nSubject: pop3 8bit\nMIME-Version: 1.0\n" +
			"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" +
			"Grüße vom Hügel – ½ Eimer Wasser für Jill ✓\nŻółć, 水, Ωμέγα.\n",
		large.String(),
		"From: jack@town.test\nTo: jill@hill.test\nSubject: pop3 attachment\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/mixed; boundary=\"b-42\"\n\nThis is a MIME message.\n\n" +
			"--b-42\nContent-Type: text/plain; charset=utf-8\n\nThe picture is attached.\n\n" +
			"--b-42\nContent-Type: application/octet-stream; name=\"hill.bin\"\n" +
			"Content-Disposition: attachment; filename=\"hill.bin\"\nContent-Transfer-Encoding: base64\n\n" +
			att.String() + "\n--b-42--\n",
		"From: jack@town.test\nTo: jill@hill.test\nSubject: pop3 dots\n\n" +
			".\n..\n.leading dot\n...three\nFrom the top of the hill\n>From quoted\ntrailing spaces   \n\ttab\nend\n",
	}
}

// deliverMixed sends mixedMessages to popUser over SMTP and returns the
// messages as stored, with LF line endings, read back with `pail export`.
func deliverMixed(t *testing.T, s *popServer) []string {
	t.Helper()
	sent := mixedMessages()
	for _, m := range sent {
		sendMail(t, s.smtpAddr, "jack@town.test", []string{popUser}, m)
	}
	msgs := s.export(popUser)
	if len(msgs) != len(sent) {
		t.Fatalf("INBOX holds %d messages after delivery, want %d: %s", len(msgs), len(sent), summary(msgs))
	}
	stored := make([]string, len(msgs))
	for i, m := range msgs {
		stored[i] = string(m.Raw)
		// Delivery prepends Return-Path and Received and changes nothing
		// else.
		if !strings.HasSuffix(stored[i], sent[i]) {
			t.Fatalf("stored message %d does not end with what was sent", i+1)
		}
	}
	return stored
}

// crlf turns LF line endings into CRLF, as the store keeps messages.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// poplibScript is run as `python3 script.py PORT PORT_SSL USER PASSWORD
// EXPECTED.json`. It prints "ok: ..." per check and exits non-zero with
// "FAIL: ..." on the first failure.
const poplibScript = `
import base64
import json
import poplib
import socket
import ssl
import sys
import time

port, port_ssl = int(sys.argv[1]), int(sys.argv[2])
user, password = sys.argv[3], sys.argv[4]
with open(sys.argv[5]) as f:
    expected = [base64.b64decode(m) for m in json.load(f)]
total = sum(len(m) for m in expected)


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def listing(p):
    _, lines, _ = p.list()
    return {int(n): int(s) for n, s in (l.split() for l in lines)}


def uidls(p):
    _, lines, _ = p.uidl()
    return {int(n): u.decode() for n, u in (l.split() for l in lines)}


# 1. Plain USER/PASS, allowed because the client is on loopback.
p = poplib.POP3("127.0.0.1", port, timeout=30)
check(p.getwelcome().startswith(b"+OK mx.hill.test"), "greeting: %r" % p.getwelcome())
caps = p.capa()
for c in ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "USER", "STLS", "SASL"]:
    check(c in caps, "CAPA lists %s (%r)" % (c, caps))
check(caps["SASL"] == ["PLAIN"], "SASL PLAIN offered")
try:
    p.user(user)
    p.pass_("wrong password")
    check(False, "a wrong password is refused")
except poplib.error_proto as e:
    check(e.args[0] == b"-ERR [AUTH] Authentication failed", "wrong password: %r" % e.args[0])
p.user(user)
p.pass_(password)
check(p.stat() == (len(expected), total), "STAT %r == %r" % (p.stat(), (len(expected), total)))
check(listing(p) == {i + 1: len(m) for i, m in enumerate(expected)}, "LIST sizes are the stored octets")
check(p.list(2) == b"+OK 2 %d" % len(expected[1]), "LIST 2: %r" % p.list(2))
first = uidls(p)
check(len(set(first.values())) == len(expected), "UIDL ids are unique: %r" % first)
for i, m in enumerate(expected):
    _, lines, octets = p.retr(i + 1)
    check(joined(lines) == m, "RETR %d returns the stored bytes (%d octets)" % (i + 1, len(m)))
head = expected[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
check(joined(p.top(1, 0)[1]) == head, "TOP 1 0 is the header and the empty line")
dots = expected[3]
body = dots.split(b"\r\n\r\n", 1)[1]
check(joined(p.top(4, 3)[1]) == dots.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + b"".join(body.split(b"\r\n")[i] + b"\r\n" for i in range(3)),
      "TOP 4 3 unstuffs the dot lines")
p.dele(1)
check(p.stat()[0] == len(expected) - 1, "DELE 1 hides message 1")
try:
    p.retr(1)
    check(False, "RETR of a deleted message fails")
except poplib.error_proto as e:
    check(e.args[0].startswith(b"-ERR"), "RETR of a deleted message: %r" % e.args[0])
p.rset()
check(p.stat() == (len(expected), total), "RSET restores message 1")
p.dele(1)

# The maildrop is locked while this session holds it.
q = poplib.POP3("127.0.0.1", port, timeout=30)
q.user(user)
try:
    q.pass_(password)
    check(False, "a second session is refused")
except poplib.error_proto as e:
    check(e.args[0].startswith(b"-ERR [IN-USE]"), "second session: %r" % e.args[0])
q.quit()

# A session that ends without QUIT removes nothing.
p.sock.shutdown(socket.SHUT_RDWR)
p.sock.close()

# 2. STLS.
p = poplib.POP3("127.0.0.1", port, timeout=30)
check(p.stls(context=unverified()).startswith(b"+OK"), "STLS")
caps = p.capa()
check("STLS" not in caps and "USER" in caps, "CAPA after STLS: %r" % caps)
p.user(user)
for attempt in range(100):
    try:
        p.pass_(password)
        break
    except poplib.error_proto as e:
        # The dropped session may still hold the lock for a moment.
        if not e.args[0].startswith(b"-ERR [IN-USE]") or attempt == 99:
            check(False, "login after STLS: %r" % e.args[0])
        time.sleep(0.05)
        p.user(user)
check(p.stat() == (len(expected), total), "the dropped session removed nothing")
check(uidls(p) == first, "UIDL is stable across sessions")
check(joined(p.retr(2)[1]) == expected[1], "RETR 2 over STLS")
check(p.quit().startswith(b"+OK"), "QUIT without DELE")

# 3. POP3S (implicit TLS): DELE and QUIT, which removes.
p = poplib.POP3_SSL("127.0.0.1", port_ssl, context=unverified(), timeout=30)
check("STLS" not in p.capa(), "no STLS on pop3s")
p.user(user)
p.pass_(password)
check(uidls(p) == first, "UIDL is the same on pop3s")
check(joined(p.retr(3)[1]) == expected[2], "RETR 3 over POP3S")
p.dele(1)
p.dele(3)
resp = p.quit()
check(resp.startswith(b"+OK"), "QUIT after DELE: %r" % resp)

p = poplib.POP3_SSL("127.0.0.1", port_ssl, context=unverified(), timeout=30)
p.user(user)
p.pass_(password)
left = [expected[1], expected[3]]
check(p.stat() == (2, sum(len(m) for m in left)), "QUIT removed messages 1 and 3: %r" % (p.stat(),))
check(uidls(p) == {1: first[2], 2: first[4]}, "the remaining messages keep their ids")
check(joined(p.retr(2)[1]) == expected[3], "RETR of the dots message after renumbering")
p.quit()
print("ok: done")
`

// TestPOP3Python drives the POP3 service with python3's poplib: plain
// USER/PASS from loopback, STLS and POP3S with an unverified context,
// STAT/LIST/UIDL/RETR/TOP/DELE/RSET/QUIT, [AUTH] and [IN-USE].
func TestPOP3Python(t *testing.T) {
	python := needPeer(t, "python3")
	s := startPOP3Server(t)
	s.addUser(popUser)
	stored := deliverMixed(t, s)

	dir := t.TempDir()
	expected := make([]string, len(stored))
	for i, m := range stored {
		expected[i] = base64.StdEncoding.EncodeToString([]byte(crlf(m)))
	}
	js, _ := json.Marshal(expected)
	expPath := filepath.Join(dir, "expected.json")
	script := filepath.Join(dir, "poplib_check.py")
	if err := os.WriteFile(expPath, js, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(poplibScript), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.pop3Addr)
	_, portSSL, _ := net.SplitHostPort(s.pop3sAddr)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, port, portSSL, popUser, passwordFor(popUser), expPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("poplib check: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("poplib:\n%s", stdout.Bytes())

	msgs := s.export(popUser)
	if len(msgs) != 2 || string(msgs[0].Raw) != stored[1] || string(msgs[1].Raw) != stored[3] {
		t.Fatalf("after DELE 1, DELE 3, QUIT the INBOX holds %s, want messages 2 and 4", summary(msgs))
	}
}

// fetchmailRC is a fetchmail run control file; fields: port, TLS lines,
// user, password, local user, keep or no keep, output file.
const fetchmailRC = `set no syslog
set invisible
poll 127.0.0.1 service %s protocol POP3 auth password
  user %q password %q is %q here
  %s
  %s
  fetchall
  no rewrite
  mda "/bin/sh -c 'cat >> %s'"
`

// runFetchmail runs fetchmail once with its own home directory and
// returns its exit status and output.
func runFetchmail(t *testing.T, fetchmail, home, rc string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, fetchmail, "-f", rc, "--sslproto", "", "-v", "--nosyslog")
	cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("fetchmail: %v\n%s", err, out)
		return -1, ""
	}
}

// writeFetchmailRC writes a 0600 rc file (fetchmail refuses any other
// mode) and returns its path.
func writeFetchmailRC(t *testing.T, dir, name, port string, tlsLines, keep, out string) string {
	t.Helper()
	local := "root"
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	if strings.ContainsAny(out, `'"\`) {
		t.Fatalf("output path %q cannot be quoted in an mda line", out)
	}
	rc := filepath.Join(dir, name)
	text := fmt.Sprintf(fetchmailRC, port, popUser, passwordFor(popUser), local, tlsLines, keep, out)
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestPOP3Fetchmail downloads a mailbox of mixed messages with fetchmail,
// byte for byte, first keeping them on the server (plain POP3 from
// loopback), then deleting them (POP3S); then the mailbox is empty.
func TestPOP3Fetchmail(t *testing.T) {
	fetchmail := needPeer(t, "fetchmail")
	s := startPOP3Server(t)
	s.addUser(popUser)
	stored := deliverMixed(t, s)
	// fetchmail hands each message to the MDA with LF line endings, as
	// `pail export` writes them; "cat >>" concatenates them.
	want := strings.Join(stored, "")

	home := t.TempDir()
	_, port, _ := net.SplitHostPort(s.pop3Addr)
	_, portSSL, _ := net.SplitHostPort(s.pop3sAddr)

	kept := filepath.Join(home, "kept.mbox")
	rc := writeFetchmailRC(t, home, "keep.rc", port, "", "keep", kept)
	code, out := runFetchmail(t, fetchmail, home, rc)
	if code != 0 {
		t.Fatalf("fetchmail (keep) exited %d:\n%s", code, out)
	}
	checkFetched(t, kept, want, out)
	if msgs := s.export(popUser); len(msgs) != len(stored) {
		t.Fatalf("after fetchmail with keep the INBOX holds %d messages, want %d", len(msgs), len(stored))
	}

	fetched := filepath.Join(home, "fetched.mbox")
	rc = writeFetchmailRC(t, home, "nokeep.rc", portSSL, "ssl\n  no sslcertck", "no keep", fetched)
	code, out = runFetchmail(t, fetchmail, home, rc)
	if code != 0 {
		t.Fatalf("fetchmail (no keep, pop3s) exited %d:\n%s", code, out)
	}
	checkFetched(t, fetched, want, out)
	if msgs := s.export(popUser); len(msgs) != 0 {
		t.Fatalf("after fetchmail without keep the INBOX holds %s, want nothing", summary(msgs))
	}
	// fetchmail's status 1 means "no mail".
	if code, out = runFetchmail(t, fetchmail, home, rc); code != 1 {
		t.Fatalf("fetchmail on the empty mailbox exited %d, want 1 (no mail):\n%s", code, out)
	}
}

func checkFetched(t *testing.T, path, want, out string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fetchmail wrote nothing: %v\n%s", err, out)
	}
	if got := string(b); got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: %d octets, want %d; first difference at %d: got %q, want %q\nfetchmail output:\n%s",
			path, len(got), len(want), i, clipAt(got, i), clipAt(want, i), clip([]byte(out), 4000))
	}
}

func clipAt(s string, i int) string {
	return s[max(0, i-40):min(len(s), i+40)]
}

// TestPOP3KillBetweenDeleAndQuit: DELE only marks, so a server killed
// before QUIT has removed nothing when it comes back; a QUIT answered +OK
// has removed its messages for good.
func TestPOP3KillBetweenDeleAndQuit(t *testing.T) {
	s := startPOP3Server(t)
	s.addUser(popUser)
	for i := 1; i <= 3; i++ {
		sendMail(t, s.smtpAddr, "jack@town.test", []string{popUser},
			fmt.Sprintf("From: jack@town.test\nSubject: kill %d\n\nmessage %d\n", i, i))
	}
	before := s.export(popUser)

	c := dialPOP3(t, s.pop3Addr)
	c.login(popUser, passwordFor(popUser))
	uidl := c.multiCmd("UIDL")
	for _, n := range []string{"1", "2", "3"} {
		c.cmd("DELE "+n, "+OK")
	}
	c.cmd("STAT", "+OK 0 0")
	s.kill()
	s.start()

	after := s.export(popUser)
	if len(after) != len(before) {
		t.Fatalf("after SIGKILL between DELE and QUIT the INBOX holds %s, want all %d messages", summary(after), len(before))
	}
	for i := range before {
		if !bytes.Equal(after[i].Raw, before[i].Raw) {
			t.Fatalf("message %d changed across the kill", i+1)
		}
	}
	c = dialPOP3(t, s.pop3Addr)
	c.login(popUser, passwordFor(popUser))
	c.cmd("STAT", "+OK 3 ")
	if got := c.multiCmd("UIDL"); strings.Join(got, "|") != strings.Join(uidl, "|") {
		t.Fatalf("UIDL after restart %q, before %q", got, uidl)
	}
	// A QUIT that was answered +OK survives a kill right after it.
	c.cmd("DELE 2", "+OK")
	c.cmd("QUIT", "+OK")
	s.kill()
	s.start()
	after = s.export(popUser)
	if len(after) != 2 || after[0].header("Subject") != "kill 1" || after[1].header("Subject") != "kill 3" {
		t.Fatalf("after DELE 2, QUIT +OK and SIGKILL the INBOX holds %s, want kill 1 and kill 3", summary(after))
	}
}

// popConn is a raw POP3 client for the tests that need exact control.
type popConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialPOP3 connects and reads the +OK greeting.
func dialPOP3(t *testing.T, addr string) *popConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &popConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if l := c.line(); !strings.HasPrefix(l, "+OK ") {
		t.Fatalf("POP3 greeting %q", l)
	}
	return c
}

func (c *popConn) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("POP3 read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// cmd sends a command and checks that the reply starts with want.
func (c *popConn) cmd(line, want string) string {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatalf("POP3 %s: %v", line, err)
	}
	r := c.line()
	if !strings.HasPrefix(r, want) {
		c.t.Fatalf("POP3 %s: got %q, want %q...", line, r, want)
	}
	return r
}

// multiCmd sends a command with a multi-line answer and returns its lines.
func (c *popConn) multiCmd(line string) []string {
	c.t.Helper()
	c.cmd(line, "+OK")
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, l)
	}
}

func (c *popConn) login(user, password string) {
	c.t.Helper()
	c.cmd("USER "+user, "+OK")
	c.cmd("PASS "+password, "+OK")
}
