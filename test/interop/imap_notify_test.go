//go:build interop

package interop

import (
	"strings"
	"testing"
	"time"
)

// imaplibNotifyScript drives NOTIFY (RFC 5465) from Python's imaplib,
// which has no NOTIFY method: the command goes through _simple_command
// and the notifications, which come while the client sends nothing (no
// IDLE), are read off its socket as a client's reader would.
const imaplibNotifyScript = `
import imaplib, socket, ssl, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
imaplib.Commands['NOTIFY'] = ('AUTH', 'SELECTED')
def session():
    M = imaplib.IMAP4(host, port)
    M.starttls(ssl_context=ssl._create_unverified_context())
    M.login(user, pw)
    return M
A, B = session(), session()
if b'NOTIFY' not in A.capabilities and 'NOTIFY' not in A.capabilities: sys.exit('NOTIFY not advertised: %r' % (A.capabilities,))
typ, data = A._simple_command('NOTIFY', 'SET', 'STATUS', '(INBOXES (MessageNew MessageExpunge))', '(PERSONAL (MailboxName))')
if typ != 'OK': sys.exit('NOTIFY SET: %s %r' % (typ, data))
typ, st = A._untagged_response(typ, data, 'STATUS')
if not st or not st[0].startswith(b'INBOX (MESSAGES 0 '): sys.exit('SET STATUS: %r' % (st,))
A.sock.settimeout(10)
B.append('INBOX', None, None, b'From: a@b.c\r\nSubject: n\r\n\r\nhi\r\n')
line = A.readline()
if not line.startswith(b'* STATUS INBOX (MESSAGES 1 UIDNEXT 2 '): sys.exit('after APPEND: %r' % line)
B.create('Fresh')
line = A.readline()
if line != b'* LIST (\\Subscribed) "/" Fresh\r\n': sys.exit('after CREATE: %r' % line)
B.rename('Fresh', 'Stale')
line = A.readline()
if line != b'* LIST (\\Subscribed) "/" Stale ("OLDNAME" (Fresh))\r\n': sys.exit('after RENAME: %r' % line)
typ, data = A._simple_command('NOTIFY', 'NONE')
if typ != 'OK': sys.exit('NOTIFY NONE: %s %r' % (typ, data))
B.append('INBOX', None, None, b'From: a@b.c\r\nSubject: n\r\n\r\nhi\r\n')
A.sock.settimeout(1)
try:
    sys.exit('after NOTIFY NONE: %r' % A.readline())
except (socket.timeout, TimeoutError):
    pass
B.logout()
print('ALL OK')
`

// TestIMAPImaplibNotify: Python's imaplib hears of new mail and of
// mailbox names under NOTIFY while idle between commands, and of nothing
// after NOTIFY NONE.
func TestIMAPImaplibNotify(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	out := runPeer(t, 30*time.Second, "", "python3", "-c", imaplibNotifyScript, host, port, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
}
