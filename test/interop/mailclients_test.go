//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// mailServer is a test server with IMAP, IMAPS, POP3 and POP3S on, and
// two accounts, bob@hill.test and jill@hill.test. Clients trust its
// self-signed certificate through caFile, which names localhost and
// 127.0.0.1.
type mailServer struct {
	*server
	imap, imaps, pop3s string // addresses
	port               map[string]string
	caFile             string
}

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	s := &mailServer{server: newServer(t, serverOptions{}), imap: testnet.Addr(t), imaps: testnet.Addr(t), pop3s: testnet.Addr(t)}
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	if strings.Count(cfg, "[listen]\n") != 1 {
		t.Fatalf("harness config has changed:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "[listen]\n", fmt.Sprintf("[listen]\nimap = %q\nimaps = %q\npop3s = %q\n", s.imap, s.imaps, s.pop3s), 1)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.addUser("bob@" + testDomain)
	s.addUser("jill@" + testDomain)
	s.start()
	deadline := time.Now().Add(startTimeout)
	s.port = map[string]string{}
	for _, a := range []string{s.imap, s.imaps, s.pop3s} {
		if err := waitListening(a, s.proc, deadline); err != nil {
			t.Fatalf("not listening on %s: %v", a, err)
		}
		_, s.port[a], _ = strings.Cut(a, ":")
	}
	s.caFile = filepath.Join(s.dataDir, "tls", "cert.pem")
	return s
}

// imapScript runs a python3 imaplib script against the server's plain
// IMAP port as user: argv[1:] are host, port, user, password.
func (s *mailServer) imapScript(t *testing.T, user, script string) string {
	t.Helper()
	host, port, _ := strings.Cut(s.imap, ":")
	prelude := "import imaplib, sys\nM = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); M.login(sys.argv[3], sys.argv[4])\n"
	return runPeer(t, 20*time.Second, "", "python3", "-c", prelude+script+"\nM.logout()\n", host, port, user, passwordFor(user))
}

// readableTempDir is a temporary directory a delivery process that runs
// as another user (getmail refuses to deliver as root) can reach.
func readableTempDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestIMAPOfflineimap syncs a populated INBOX to a local Maildir with
// Debian's offlineimap3 over IMAPS (checking pail's certificate), then a
// flag change and a new message on each side, and syncs again: both
// sides end with the same four messages and flags.
func TestIMAPOfflineimap(t *testing.T) {
	needPeer(t, "offlineimap")
	s := startMailServer(t)
	user := "bob@" + testDomain
	s.imapScript(t, user, `
for i in range(2):
    M.append('INBOX', None, None, b'From: jack@town.test\r\nSubject: server %d\r\nMessage-ID: <s%d@hill.test>\r\n\r\nfrom the server %d\r\n' % (i, i, i))`)

	dir := t.TempDir()
	mail := filepath.Join(dir, "mail")
	rc := filepath.Join(dir, "offlineimaprc")
	text := fmt.Sprintf(`[general]
accounts = pail
metadata = %s/meta
ui = basic

[Account pail]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = %s
ssl = yes
sslcacertfile = %s
remoteuser = %s
remotepass = %s
folderfilter = lambda f: f == 'INBOX'
`, dir, mail, s.port[s.imaps], s.caFile, user, passwordFor(user))
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(mail, 0o700); err != nil {
		t.Fatal(err)
	}
	sync := func() string {
		t.Helper()
		out := runPeer(t, 60*time.Second, "", "offlineimap", "-c", rc, "-o")
		if strings.Contains(out, "ERROR") {
			t.Fatalf("offlineimap reported an error:\n%s", out)
		}
		return out
	}
	sync()
	inbox := filepath.Join(mail, "INBOX")
	files := listMaildir(t, inbox)
	if len(files) != 2 {
		t.Fatalf("after the first sync the Maildir has %d messages, want 2: %v", len(files), files)
	}

	// Local: the message with UID 1 is read, and a new one is written.
	var first string
	for _, f := range files {
		if strings.Contains(filepath.Base(f), ",U=1,") {
			first = f
		}
	}
	if first == "" {
		t.Fatalf("no message with UID 1 in %v", files)
	}
	base := strings.SplitN(filepath.Base(first), ":", 2)[0]
	if err := os.Rename(first, filepath.Join(inbox, "cur", base+":2,S")); err != nil {
		t.Fatal(err)
	}
	local := "From: bob@hill.test\r\nSubject: local one\r\nMessage-ID: <l1@hill.test>\r\n\r\nfrom the client\r\n"
	if err := os.WriteFile(filepath.Join(inbox, "new", "1700000000.local.host"), []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	// Server: UID 2 is flagged, and a new message arrives.
	s.imapScript(t, user, `
M.select('INBOX')
M.uid('STORE', '2', '+FLAGS', '(\\Flagged)')
M.append('INBOX', None, None, b'From: jack@town.test\r\nSubject: server new\r\nMessage-ID: <s3@hill.test>\r\n\r\nnew on the server\r\n')`)
	sync()

	out := s.imapScript(t, user, `
M.select('INBOX')
for uid in M.uid('SEARCH', 'ALL')[1][0].split():
    typ, d = M.uid('FETCH', uid, '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    print('MSG', d[0][0].decode(), d[0][1].decode().strip())`)
	for _, want := range []string{
		`(UID 1 FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] {21} Subject: server 0`,
		`(UID 2 FLAGS (\Flagged) BODY[HEADER.FIELDS (SUBJECT)] {21} Subject: server 1`,
		`Subject: server new`,
		`Subject: local one`,
	} {
		if !strings.Contains(strings.ReplaceAll(out, "\r\n", " "), want) && !strings.Contains(out, want) {
			t.Errorf("server after the sync lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "MSG "); n != 4 {
		t.Errorf("server holds %d messages after the sync, want 4:\n%s", n, out)
	}
	files = listMaildir(t, inbox)
	if len(files) != 4 {
		t.Errorf("Maildir holds %d messages after the sync, want 4: %v", len(files), files)
	}
	flagged := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "Subject: server 1") {
			_, info, _ := strings.Cut(filepath.Base(f), ":2,")
			flagged = strings.Contains(info, "F")
		}
	}
	if !flagged {
		t.Errorf("the message flagged on the server is not flagged (F) in the Maildir: %v", files)
	}
	// A third sync finds nothing to do.
	if out := sync(); strings.Contains(out, "Copy message") || strings.Contains(out, "flag") {
		t.Errorf("the third sync still changed something:\n%s", out)
	}
}

// TestGetmail retrieves an INBOX with Debian's getmail6: the IMAP
// retriever over IMAPS into a Maildir, and the POP3 retriever over POP3S
// into an mbox, each checking pail's certificate; a CA that did not
// issue it is refused.
func TestGetmail(t *testing.T) {
	needPeer(t, "getmail")
	s := startMailServer(t)
	user := "jill@" + testDomain
	subjects := []string{"getmail one", "getmail two", "getmail three"}
	for _, subj := range subjects {
		s.imapScript(t, user, fmt.Sprintf(`
M.append('INBOX', None, None, b'From: jack@town.test\r\nTo: jill@hill.test\r\nSubject: %s\r\n\r\nbody of %s\r\n')`, subj, subj))
	}
	dir := readableTempDir(t, "pail-getmail-")
	maildir := filepath.Join(dir, "Maildir")
	mbox := filepath.Join(dir, "mbox")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(mbox, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// getmail refuses to deliver as root: as root, it delivers as
	// nobody, who then owns the destinations.
	deliverAs := ""
	if os.Geteuid() == 0 {
		deliverAs = "user = nobody\n"
		for _, p := range []string{maildir, filepath.Join(maildir, "cur"), filepath.Join(maildir, "new"), filepath.Join(maildir, "tmp"), mbox} {
			if err := os.Chown(p, serviceUID, serviceGID); err != nil {
				t.Fatal(err)
			}
		}
	}
	// writeRC writes a getmail rc file; retriever ends with the lines
	// of the retriever's own, dest is the destination.
	writeRC := func(name, retriever, ca, dest string) string {
		rc := filepath.Join(dir, name)
		text := fmt.Sprintf(`[retriever]
server = localhost
username = %s
password = %s
ca_certs = %s
%s
[destination]
%s%s
[options]
read_all = true
delete = false
verbose = 2
`, user, passwordFor(user), ca, retriever, dest, deliverAs)
		if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return rc
	}
	getmail := func(rc string) string {
		t.Helper()
		return runPeer(t, 60*time.Second, "", "getmail", "--getmaildir", dir, "-r", rc)
	}

	imapRetriever := "type = SimpleIMAPSSLRetriever\nport = " + s.port[s.imaps] + "\nmailboxes = (\"INBOX\",)\n"
	toMaildir := "type = Maildir\npath = " + maildir + "/\n"
	imapRC := writeRC("imaprc", imapRetriever, s.caFile, toMaildir)
	out := getmail(imapRC)
	if !strings.Contains(out, "3 messages") || strings.Contains(out, "error (") {
		t.Errorf("getmail over IMAPS:\n%s", out)
	}
	got := ""
	for _, f := range listMaildir(t, maildir) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got += string(b)
	}
	for _, subj := range subjects {
		if !strings.Contains(got, "Subject: "+subj+"\n") || !strings.Contains(got, "body of "+subj) {
			t.Errorf("the Maildir lacks %q:\n%s", subj, got)
		}
	}
	if n := len(listMaildir(t, maildir)); n != 3 {
		t.Errorf("the Maildir holds %d messages, want 3", n)
	}

	popRC := writeRC("poprc", "type = SimplePOP3SSLRetriever\nport = "+s.port[s.pop3s]+"\n", s.caFile, "type = Mboxrd\npath = "+mbox+"\n")
	out = getmail(popRC)
	if !strings.Contains(out, "3 messages") || strings.Contains(out, "error (") {
		t.Errorf("getmail over POP3S:\n%s", out)
	}
	b, err := os.ReadFile(mbox)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count("\n"+string(b), "\nFrom "); n != 3 {
		t.Errorf("the mbox holds %d messages, want 3:\n%s", n, b)
	}
	for _, subj := range subjects {
		if !strings.Contains(string(b), "Subject: "+subj+"\n") {
			t.Errorf("the mbox lacks %q:\n%s", subj, b)
		}
	}

	// The check is real: with the system's CAs pail's certificate is
	// refused.
	badRC := writeRC("badrc", imapRetriever, "/etc/ssl/certs/ca-certificates.crt", toMaildir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bad, err := exec.CommandContext(ctx, needPeer(t, "getmail"), "--getmaildir", dir, "-r", badRC).CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "CERTIFICATE_VERIFY_FAILED") {
		t.Errorf("getmail trusted pail's certificate without its CA file (%v):\n%s", err, bad)
	}
}

// TestNeomutt drives Debian's neomutt: in batch mode it sends a message
// through pail sendmail, and in a terminal (tmux) it opens bob's INBOX
// over IMAPS with pail's certificate as its CA, shows the message and
// copies it to Archive.
func TestNeomutt(t *testing.T) {
	neomutt := needPeer(t, "neomutt")
	tmux := needPeer(t, "tmux")
	s := startMailServer(t)
	bob := "bob@" + testDomain
	dir := t.TempDir()
	rc := filepath.Join(dir, "neomuttrc")
	text := fmt.Sprintf(`set folder = "imaps://%s@localhost:%s/"
set imap_user = "%s"
set imap_pass = "%s"
set ssl_ca_certificates_file = "%s"
set certificate_file = "%s/certificates"
set ssl_force_tls = yes
set spoolfile = "+INBOX"
set from = "%s"
set use_from = yes
set sendmail = "%s sendmail -c %s"
set record = ""
set quit = yes
set confirmappend = no
set mail_check_stats = no
set header_cache = ""
set message_cachedir = ""
`, strings.ReplaceAll(bob, "@", "%40"), s.port[s.imaps], bob, passwordFor(bob), s.caFile, dir, bob, pailBin, s.config)
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+dir, "TERM=xterm")

	// Batch mode: the body on stdin, to bob himself through pail
	// sendmail (local delivery).
	cmd := exec.Command(neomutt, "-n", "-F", rc, "-s", "from neomutt", bob)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdin = strings.NewReader("sent by neomutt in batch mode\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("neomutt batch send: %v\n%s", err, out)
	}

	// In a terminal: the index over IMAPS, the message, a copy.
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tmux, append([]string{"-S", sock}, args...)...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-x", "120", "-y", "30", "-c", dir, neomutt, "-n", "-F", rc)
	defer exec.Command(tmux, "-S", sock, "kill-server").Run()
	waitScreen := func(want string) string {
		t.Helper()
		var screen string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if screen = tm("capture-pane", "-p"); strings.Contains(screen, want) {
				return screen
			}
		}
		t.Fatalf("neomutt: %q not on the screen:\n%s", want, screen)
		return ""
	}
	waitScreen("from neomutt")
	waitScreen("+INBOX [Msgs:1")
	tm("send-keys", "Enter")
	waitScreen("sent by neomutt in batch mode")
	tm("send-keys", "q")
	waitScreen("+INBOX [Msgs:1")
	tm("send-keys", "C")
	waitScreen("Copy")
	tm("send-keys", "-l", "=Archive")
	tm("send-keys", "Enter")
	time.Sleep(time.Second)
	tm("send-keys", "q")

	out := s.imapScript(t, bob, `
M.select('Archive')
typ, d = M.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])')
print(d)`)
	for _, want := range []string{"Subject: from neomutt", "sent by neomutt in batch mode"} {
		if !strings.Contains(out, want) {
			t.Errorf("Archive after neomutt's copy lacks %q:\n%s", want, out)
		}
	}
}
