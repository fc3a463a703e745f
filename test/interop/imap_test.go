//go:build interop

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// imaplibScript drives every IMAP command pail offers through python3's
// imaplib, asserting each reply; it prints "ALL OK" at the end.
const imaplibScript = `
import imaplib, ssl, sys, time, socket
host, port, sport, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def ok(r, what):
    typ, data = r
    if typ != 'OK':
        sys.exit('%s: %s %r' % (what, typ, data))
    return data
M = imaplib.IMAP4(host, port)
caps = M.capabilities
for c in ('IMAP4REV1', 'IMAP4REV2', 'UIDPLUS', 'MOVE', 'IDLE', 'NAMESPACE', 'LITERAL+', 'STARTTLS', 'SPECIAL-USE', 'ENABLE', 'UNSELECT'):
    if c not in caps and c not in ('SPECIAL-USE','ENABLE','UNSELECT','UIDPLUS','MOVE','IDLE','NAMESPACE','LITERAL+'):
        sys.exit('missing capability %s in %r' % (c, caps))
ok(M.login(user, pw), 'LOGIN')
caps = tuple(ok(M.capability(), 'CAPABILITY')[0].decode().upper().split())
for c in ('UIDPLUS', 'MOVE', 'IDLE', 'NAMESPACE', 'LITERAL+', 'SPECIAL-USE', 'ENABLE', 'UNSELECT'):
    if c not in caps:
        sys.exit('missing capability %s after login in %r' % (c, caps))
lst = ok(M.list(), 'LIST')
if not any(b'\\Sent' in l and b'Sent' in l for l in lst): sys.exit('no \\Sent in %r' % lst)
ok(M.create('Work/2026'), 'CREATE')
ok(M.rename('Work', 'Jobs'), 'RENAME')
if not any(b'Jobs/2026' in l for l in ok(M.list('""', 'Jobs/*'), 'LIST Jobs')): sys.exit('rename lost child')
ok(M.subscribe('Jobs/2026'), 'SUBSCRIBE')
if not any(b'Jobs/2026' in l for l in ok(M.lsub(), 'LSUB')): sys.exit('LSUB')
ok(M.unsubscribe('Jobs/2026'), 'UNSUBSCRIBE')
ok(M.delete('Jobs/2026'), 'DELETE')
if M.delete('INBOX')[0] == 'OK': sys.exit('deleted INBOX')
ok(M.namespace(), 'NAMESPACE')
typ, data = M._simple_command('ENABLE', 'UTF8=ACCEPT')
if typ != 'OK': sys.exit('ENABLE %r' % data)
msg = b'From: Jack <jack@town.test>\r\nTo: bob@hill.test\r\nSubject: pail\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nup the hill\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n'
r = ok(M.append('INBOX', '(\\Flagged $Work)', '"17-May-2020 10:00:00 +0000"', msg), 'APPEND')
if b'APPENDUID' not in r[0]: sys.exit('no APPENDUID: %r' % r)
typ, r = M.append('NoSuchBox', None, None, msg)
if typ != 'NO' or b'TRYCREATE' not in r[0]: sys.exit('APPEND to missing: %r' % r)
ok(M.append('INBOX', None, None, msg.replace(b'pail', b'water')), 'APPEND 2')
st = ok(M.status('INBOX', '(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)'), 'STATUS')
if b'MESSAGES 2' not in st[0]: sys.exit('STATUS %r' % st)
ok(M.select('INBOX', readonly=True), 'EXAMINE')
if M.store('1', '+FLAGS', '\\Seen')[0] == 'OK': sys.exit('STORE in EXAMINE')
ok(M.close(), 'CLOSE')
n = ok(M.select('INBOX'), 'SELECT')
if n[0] != b'2': sys.exit('SELECT count %r' % n)
f = ok(M.fetch('1', '(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)'), 'FETCH attrs')
s = b''.join(x if isinstance(x, bytes) else b''.join(x) for x in f)
for want in (b'\\Flagged', b'$Work', b'RFC822.SIZE %d' % len(msg), b'"pail"', b'"town.test"', b'"mixed"'):
    if want not in s: sys.exit('FETCH lacks %r in %r' % (want, s))
f = ok(M.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<0.4> BINARY.PEEK[2])'), 'FETCH sections')
parts = [x[1] for x in f if isinstance(x, tuple)]
if b'Subject: pail\r\n\r\n' not in parts or b'From' not in parts or b'\x00\x01\x02' not in parts: sys.exit('sections %r' % f)
if b'\\Seen' in ok(M.fetch('1', '(FLAGS)'), 'FLAGS')[0]: sys.exit('PEEK set \\Seen')
ok(M.fetch('1', '(BODY[1])'), 'FETCH BODY[1]')
if b'\\Seen' not in ok(M.fetch('1', '(FLAGS)'), 'FLAGS')[0]: sys.exit('BODY[] did not set \\Seen')
def search(*crit):
    return ok(M.search(None, *crit), 'SEARCH %r' % (crit,))[0].split()
for crit, want in [(('ALL',), [b'1', b'2']), (('SEEN',), [b'1']), (('UNSEEN',), [b'2']), (('KEYWORD', '$Work'), [b'1']),
                   (('SUBJECT', 'water'), [b'2']), (('HEADER', 'From', 'jack'), [b'1', b'2']), (('BODY', 'hill'), [b'1', b'2']),
                   (('TEXT', 'water'), [b'2']), (('BEFORE', '1-Jan-2025'), [b'1']), (('SENTON', '2-Jan-2006'), [b'1', b'2']),
                   (('LARGER', '10', 'SMALLER', '100000'), [b'1', b'2']), (('OR', 'FLAGGED', 'SUBJECT', 'water'), [b'1', b'2']),
                   (('NOT', 'FLAGGED'), [b'2']), (('UID', '2'), [b'2']), (('2:*',), [b'2'])]:
    got = search(*crit)
    if got != want: sys.exit('SEARCH %r = %r, want %r' % (crit, got, want))
if ok(M.uid('SEARCH', 'FLAGGED'), 'UID SEARCH')[0].split() != [b'1']: sys.exit('UID SEARCH')
ok(M.store('2', '+FLAGS', '(\\Answered)'), 'STORE')
r = ok(M.copy('1:2', 'Archive'), 'COPY')
typ, data = M._simple_command('MOVE', '1', 'Trash')
if typ != 'OK': sys.exit('MOVE %r' % data)
ok(M.store('1', '+FLAGS', '(\\Deleted)'), 'STORE Deleted')
ok(M.expunge(), 'EXPUNGE')
ok(M.select('Archive'), 'SELECT Archive')
ok(M.store('1:2', '+FLAGS', '(\\Deleted)'), 'STORE Deleted 2')
typ, data = M.uid('EXPUNGE', '1')
if typ != 'OK': sys.exit('UID EXPUNGE %r' % data)
if ok(M.search(None, 'ALL'), 'SEARCH after UID EXPUNGE')[0] != b'1': sys.exit('UID EXPUNGE removed wrong')
typ, data = M._simple_command('UNSELECT')
if typ != 'OK': sys.exit('UNSELECT')
# IDLE: another connection appends; the idler hears EXISTS.
ok(M.select('INBOX'), 'SELECT')
tag = M._new_tag()
M.send(tag + b' IDLE\r\n')
if not M.readline().startswith(b'+'): sys.exit('IDLE not accepted')
M2 = imaplib.IMAP4_SSL(host, sport, ssl_context=ssl._create_unverified_context())
ok(M2.login(user, pw), 'LOGIN imaps')
ok(M2.append('INBOX', None, None, msg), 'APPEND from second')
M.sock.settimeout(5)
line = M.readline()
if b'EXISTS' not in line: sys.exit('IDLE got %r' % line)
M.send(b'DONE\r\n')
while not M.readline().startswith(tag): pass
M2.logout()
M.logout()
M3 = imaplib.IMAP4(host, port)
ok(M3.starttls(ssl_context=ssl._create_unverified_context()), 'STARTTLS')
ok(M3.login(user, pw), 'LOGIN after STARTTLS')
M3.logout()
print('ALL OK')
`

func TestIMAPImaplib(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	_, sport, _ := strings.Cut(s.imapsAddr, ":")
	out := runPeer(t, 20*time.Second, "", "python3", "-c", imaplibScript, host, port, sport, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
}

// imaplibBadInputScript sends imaplib's bad mailbox names and an
// oversize literal: each gets NO or BAD at once (never SERVERBUG), the
// session goes on after a bad name, and the server after the literal.
const imaplibBadInputScript = `
import imaplib, ssl, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl._create_unverified_context()
M = imaplib.IMAP4(host, port)
M.starttls(ssl_context=ctx)
M.login(user, pw)
def refused(what, f):
    start = time.time()
    try:
        typ, data = f()
    except imaplib.IMAP4.error as e:
        typ, data = 'BAD', [str(e).encode()]
    if time.time() - start > 2: sys.exit('%s: slow reply' % what)
    if typ not in ('NO', 'BAD') or b'SERVERBUG' in b''.join(d for d in data if isinstance(d, bytes)):
        sys.exit('%s: %s %r' % (what, typ, data))
    if M.noop()[0] != 'OK': sys.exit('%s: session did not go on' % what)
for name in ('a&b', '"a&b"'):
    refused('CREATE ' + name, lambda: M.create(name))
    refused('SELECT ' + name, lambda: M.select(name))
    refused('STATUS ' + name, lambda: M.status(name, '(MESSAGES)'))
    refused('LIST ' + name, lambda: M.list('""', name))
def with_literal(cmd, lit, *args):
    M.literal = lit
    return M._simple_command(cmd, *args)
refused('CREATE NUL', lambda: with_literal('CREATE', b'a\x00b'))
refused('RENAME NUL', lambda: with_literal('RENAME', b'a\x00b', 'INBOX'))
M.logout()
# Before login, a literal over the bound: BAD (imaplib raises) and the
# connection closes; a new one is served.
N = imaplib.IMAP4(host, port)
N.starttls(ssl_context=ctx)
N.literal = b'x' * 20000
start = time.time()
try:
    N._simple_command('LOGIN', user)
    sys.exit('oversize literal accepted')
except (imaplib.IMAP4.error, OSError):
    pass
if time.time() - start > 2: sys.exit('oversize literal: slow reply')
P = imaplib.IMAP4(host, port)
P.starttls(ssl_context=ctx)
P.login(user, pw)
P.logout()
print('ALL OK')
`

func TestIMAPImaplibBadInput(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	out := runPeer(t, 20*time.Second, "", "python3", "-c", imaplibBadInputScript, host, port, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
}

func TestIMAPMbsyncBothWays(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	// Two messages on the server first.
	append := `
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); M.login(sys.argv[3], sys.argv[4])
for i in range(2):
    M.append('INBOX', None, None, b'Subject: server %d\r\nMessage-ID: <s%d@hill.test>\r\n\r\nfrom the server\r\n' % (i, i))
M.logout()`
	runPeer(t, 10*time.Second, "", "python3", "-c", append, host, port, user, passwordFor(user))

	dir := t.TempDir()
	maildir := filepath.Join(dir, "mail")
	rc := fmt.Sprintf(`IMAPAccount pail
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore pail-remote
Account pail

MaildirStore pail-local
Path %s/
Inbox %s/INBOX

Channel pail
Far :pail-remote:
Near :pail-local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
`, host, port, user, passwordFor(user), maildir, maildir)
	if err := os.MkdirAll(maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	rcFile := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	runPeer(t, 20*time.Second, "", "mbsync", "-c", rcFile, "-a")
	cur := listMaildir(t, filepath.Join(maildir, "INBOX"))
	if len(cur) != 2 {
		t.Fatalf("after first sync the maildir has %d messages", len(cur))
	}
	// Local changes: a new message, and one marked seen.
	newMsg := "Subject: local\r\nMessage-ID: <l1@hill.test>\r\n\r\nfrom the client\r\n"
	if err := os.WriteFile(filepath.Join(maildir, "INBOX", "new", "1700000000.local.host"), []byte(newMsg), 0o600); err != nil {
		t.Fatal(err)
	}
	first := cur[0]
	base := filepath.Base(first)
	seen := filepath.Join(maildir, "INBOX", "cur", strings.SplitN(base, ":", 2)[0]+":2,S")
	if err := os.Rename(first, seen); err != nil {
		t.Fatal(err)
	}
	runPeer(t, 20*time.Second, "", "mbsync", "-c", rcFile, "-a")
	check := `
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); M.login(sys.argv[3], sys.argv[4])
M.select('INBOX')
print('COUNT', len(M.search(None, 'ALL')[1][0].split()))
print('SEEN', len(M.search(None, 'SEEN')[1][0].split()))
print('LOCAL', len(M.search(None, 'SUBJECT', 'local')[1][0].split()))
M.logout()`
	out := runPeer(t, 10*time.Second, "", "python3", "-c", check, host, port, user, passwordFor(user))
	for _, want := range []string{"COUNT 3", "SEEN 1", "LOCAL 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("server after sync: want %q in %q", want, out)
		}
	}
	// A third sync changes nothing and both sides hold 3 messages.
	runPeer(t, 20*time.Second, "", "mbsync", "-c", rcFile, "-a")
	if n := len(listMaildir(t, filepath.Join(maildir, "INBOX"))); n != 3 {
		t.Errorf("maildir has %d messages, server 3", n)
	}
}

func listMaildir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, filepath.Join(dir, sub, e.Name()))
		}
	}
	return out
}

func TestIMAPSnail(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	add := `
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); M.login(sys.argv[3], sys.argv[4])
M.append('INBOX', None, None, b'From: jack@town.test\r\nSubject: Snail mail\r\n\r\nslow but sure\r\n')
M.logout()`
	runPeer(t, 10*time.Second, "", "python3", "-c", add, host, port, user, passwordFor(user))
	euser := strings.ReplaceAll(user, "@", "%40")
	args := []string{"-:/", "-#", "-S", "v15-compat", "-S", "password-" + euser + "@" + s.imapAddr + "=" + passwordFor(user),
		"-S", "password-" + user + "@" + s.imapAddr + "=" + passwordFor(user), "-S", "password=" + passwordFor(user),
		"-S", "imap-auth=login", "-f", "imap://" + euser + "@" + s.imapAddr + "/INBOX"}
	out := runPeer(t, 20*time.Second, "headers\nprint 1\nquit\n", "s-nail", args...)
	for _, want := range []string{"Snail mail", "slow but sure"} {
		if !strings.Contains(out, want) {
			t.Errorf("s-nail output lacks %q:\n%s", want, out)
		}
	}
}
