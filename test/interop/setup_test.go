//go:build interop

package interop

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/resolve/resolvetest"
	"pail/internal/testnet"
)

// setupIMAPScript is run as `python3 -c SCRIPT SMTP_PORT IMAPS_PORT CA
// PASSWORD`: a message from outside (friend@town.test) to
// postmaster@hill.test over the MX port, then IMAPS with the certificate
// checked against CA for the name mx.hill.test, a login as postmaster with
// the password pail setup printed, and the message in the INBOX. A wrong
// password is refused. It prints "ALL OK" at the end.
const setupIMAPScript = `
import imaplib, smtplib, socket, ssl, sys

smtp_port, imaps_port, ca, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
host = "mx.hill.test"

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)

s = smtplib.SMTP(local_hostname="out.town.test", timeout=20)
code, banner = s.connect("127.0.0.1", smtp_port)
check(code == 220 and banner.split()[0] == host.encode(), "greeting names %s: %r" % (host, banner))
msg = (b"From: Friend <friend@town.test>\r\n"
       b"To: postmaster@hill.test\r\n"
       b"Subject: first from outside\r\n"
       b"Message-ID: <setup-1@town.test>\r\n"
       b"\r\n"
       b"Welcome to the hill.\r\n")
check(s.sendmail("friend@town.test", ["postmaster@hill.test"], msg) == {}, "MX accepts mail for postmaster@hill.test")
s.quit()

ctx = ssl.create_default_context(cafile=ca)

class IMAPS(imaplib.IMAP4_SSL):
    # Connect to 127.0.0.1 but check the certificate for mx.hill.test,
    # the name a mail program is given.
    def _create_socket(self, timeout):
        sock = socket.create_connection(("127.0.0.1", imaps_port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=host)

m = IMAPS(host, imaps_port, ssl_context=ctx, timeout=20)
try:
    m.login("postmaster@hill.test", password + "x")
    check(False, "a wrong password is refused")
except imaplib.IMAP4.error:
    check(True, "a wrong password is refused")
m.logout()

m = IMAPS(host, imaps_port, ssl_context=ctx, timeout=20)
typ, _ = m.login("postmaster@hill.test", password)
check(typ == "OK", "postmaster logs in with the printed password")
typ, data = m.select("INBOX")
check(typ == "OK" and int(data[0]) == 1, "INBOX holds one message (%r)" % data)
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(typ == "OK" and b"first from outside" in data[0][1], "it is the message from outside: %r" % data)
m.logout()
print("ALL OK")
`

// setTOMLKey returns text with the line of key in [table] ("" for the top
// level) set to value, and fails the test unless there is exactly one.
func setTOMLKey(t *testing.T, text, table, key, value string) string {
	t.Helper()
	lines := strings.SplitAfter(text, "\n")
	keyRE := regexp.MustCompile(`^` + regexp.QuoteMeta(key) + `\s*=`)
	current, n := "", 0
	for i, l := range lines {
		if strings.HasPrefix(l, "[") {
			current = strings.Trim(strings.TrimSpace(l), "[]")
			continue
		}
		if current == table && keyRE.MatchString(l) {
			lines[i] = key + " = " + value + "\n"
			n++
		}
	}
	if n != 1 {
		t.Fatalf("pail setup's config has %d lines for %s in [%s], want 1:\n%s", n, key, table, text)
	}
	return strings.Join(lines, "")
}

// TestSetupServes: `pail setup hill.test`, with no input, makes a
// configuration that `pail serve` starts with. The test changes only what
// a test on loopback must: the [listen] addresses become free 127.0.0.1
// ports, [acme] is turned off (Let's Encrypt is not on loopback), and the
// resolver is a test name server on loopback serving the records pail
// setup printed (each of which must parse as a master-file line).
// A message from outside then reaches postmaster@hill.test, who logs in
// over IMAPS with python3's imaplib, the certificate checked for
// mx.hill.test, with the password pail setup printed, and finds it; the
// mail log is in the file the configuration names.
func TestSetupServes(t *testing.T) {
	needPeer(t, "python3")
	dir := filepath.Join(t.TempDir(), "srv")
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pailBin, "setup", "hill.test", "--dir", dir)
	// cmd.Stdin is nil: standard input is /dev/null, as in cron.
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pail setup: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	out := stdout.String()
	m := regexp.MustCompile(`(?m)^password: +(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no password in pail setup's output:\n%s", out)
	}
	password := m[1]

	// The records between the "; DNS records" comment and the blank line
	// after them, as a name server would load them.
	var records []string
	in := false
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "; DNS records for hill.test"):
			in = true
		case in && line == "":
			in = false
		case in && !strings.HasPrefix(line, ";"):
			if _, err := dns.NewRR(line); err != nil {
				t.Fatalf("printed record %q: %v", line, err)
			}
			records = append(records, line)
		}
	}
	if len(records) < 6 {
		t.Fatalf("pail setup printed %d records:\n%s", len(records), out)
	}
	// Whatever pail serve looks up stays on loopback.
	ns := resolvetest.Start(t, append(records, "mx.hill.test. 3600 IN A 127.0.0.1"))

	s := &server{
		t:       t,
		dir:     dir,
		config:  filepath.Join(dir, "pail.toml"),
		dataDir: filepath.Join(dir, "data"),
		log:     &syncBuffer{},
	}
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	addrs := map[string]string{}
	for _, svc := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http", "https", "managesieve"} {
		addrs[svc] = testnet.Addr(t)
		text = setTOMLKey(t, text, "listen", svc, fmt.Sprintf("%q", addrs[svc]))
	}
	text = setTOMLKey(t, text, "acme", "enabled", "false")
	text = fmt.Sprintf("resolver = %q\n", ns.Addr) + text
	if err := os.WriteFile(s.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s.smtpAddr, s.submissionAddr = addrs["smtp"], addrs["submission"]
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("config %s:\n%s", s.config, text)
			t.Logf("pail serve output:\n%s", s.log.tail(maxLogDump))
		}
	})
	s.start()
	deadline := time.Now().Add(startTimeout)
	for _, svc := range []string{"imaps", "imap", "pop3s", "https", "managesieve"} {
		if err := waitListening(addrs[svc], s.proc, deadline); err != nil {
			t.Fatalf("%s not listening on %s: %v", svc, addrs[svc], err)
		}
	}

	port := func(svc string) string { return addrs[svc][strings.LastIndexByte(addrs[svc], ':')+1:] }
	ca := filepath.Join(s.dataDir, "tls", "cert.pem")
	got := runPeer(t, peerTimeout, "", "python3", "-c", setupIMAPScript, port("smtp"), port("imaps"), ca, password)
	if !strings.Contains(got, "ALL OK") {
		t.Fatalf("python3:\n%s", got)
	}
	mailLog, err := os.ReadFile(filepath.Join(dir, "log", "mail.log"))
	if err != nil || !bytes.Contains(mailLog, []byte("postmaster@hill.test")) {
		t.Errorf("mail log %s: %v\n%s", filepath.Join(dir, "log", "mail.log"), err, mailLog)
	}
}

// TestSetupAsRootOnServiceDir: run as root on a directory that belongs to
// the service user (as contrib/pail.service's install steps make it),
// pail setup makes everything as that user, as the admin commands do, and
// says so; root's admin commands then work on the result.
func TestSetupAsRootOnServiceDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("this test runs pail setup as root on a directory of uid %d; run the interop suite as root", serviceUID)
	}
	base, err := os.MkdirTemp("", "pail-setup-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil { // the tests' own temporary directories are root's alone
		t.Fatal(err)
	}
	dir := filepath.Join(base, "srv")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, serviceUID, serviceGID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, pailBin, "setup", "hill.test", "--dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pail setup: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("everything was made as nobody (uid %d), the owner of %s", serviceUID, dir); !bytes.Contains(out, []byte(want)) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != serviceUID || st.Gid != serviceGID {
			t.Errorf("%s belongs to %d:%d, want %d:%d", path, st.Uid, st.Gid, serviceUID, serviceGID)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Errorf("only %d entries under %s", n, dir)
	}
	list, err := exec.CommandContext(ctx, pailBin, "user", "list", "-c", filepath.Join(dir, "pail.toml")).CombinedOutput()
	if err != nil || !bytes.Contains(list, []byte("postmaster@hill.test\tadmin")) {
		t.Errorf("pail user list as root: %v\n%s", err, list)
	}
}
