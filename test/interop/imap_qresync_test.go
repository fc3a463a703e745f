//go:build interop

package interop

import (
	"strings"
	"testing"
	"time"
)

// qresyncScript is run as `python3 -c SCRIPT HOST IMAPPORT SMTPPORT USER
// PASSWORD`. It plays the QRESYNC resynchronization of RFC 7162 §3.2.5
// with imaplib: session 1 selects INBOX and records UIDVALIDITY,
// HIGHESTMODSEQ and the UIDs; session 2 flags two messages and expunges
// two; a message is delivered over SMTP; session 1 comes back with SELECT
// INBOX (QRESYNC (...)) and must get exactly the VANISHED (EARLIER) and
// FETCH lines for what changed, in that order, with the MODSEQs the
// messages now have. imaplib records every line it reads (_get_line), so
// the order is checked on the wire, not in imaplib's dictionary. It
// prints "ALL OK" at the end.
const qresyncScript = `
import imaplib, smtplib, sys, re
host, port, smtpport, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]

def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)

class Recording(imaplib.IMAP4):
    """imaplib's client, keeping each line the server sends."""
    def __init__(self, *a):
        self.lines = []
        super().__init__(*a)
    def _get_line(self):
        line = super()._get_line()
        self.lines.append(line.decode())
        return line
    def command(self, line):
        """Sends one command as written; returns its lines, tagged reply last."""
        self.lines = []
        name, args = line.split(' ', 1)
        typ, _ = self._simple_command(name, args)
        if name == 'SELECT' and typ == 'OK':
            self.state = 'SELECTED' # as imaplib's own select() does
        return typ, self.lines

def msg(i):
    return b'From: jack@town.test\r\nSubject: pail %d\r\nMessage-ID: <q%d@town.test>\r\n\r\nwater %d\r\n' % (i, i, i)

M = imaplib.IMAP4(host, port)
M.login(user, pw)
for i in range(1, 7):
    check(M.append('INBOX', None, None, msg(i))[0] == 'OK', 'APPEND %d' % i)
M.logout()

# Session 1: what a client keeps between connections.
S1 = Recording(host, port)
S1.login(user, pw)
check(b'QRESYNC' in S1.capability()[1][0].split(), 'QRESYNC is advertised')
typ, _ = S1.enable('QRESYNC')
data = S1.response('ENABLED')[1]
check(typ == 'OK' and data == [b'QRESYNC'], 'ENABLE QRESYNC answers ENABLED QRESYNC (%r)' % data)
S1.select('INBOX')
uidvalidity = int(S1.response('UIDVALIDITY')[1][0])
modseq = int(S1.response('HIGHESTMODSEQ')[1][0])
uids = S1.uid('SEARCH', 'ALL')[1][0].decode()
check(uids == '1 2 3 4 5 6', 'session 1 knows UIDs 1 to 6 (%r)' % uids)
S1.logout()

# Session 2: flags two, expunges two.
S2 = imaplib.IMAP4(host, port)
S2.login(user, pw)
S2.select('INBOX')
check(S2.uid('STORE', '2', '+FLAGS', '(\\Flagged)')[0] == 'OK', 'session 2 flags UID 2')
check(S2.uid('STORE', '4', '+FLAGS', '(\\Seen)')[0] == 'OK', 'session 2 marks UID 4 seen')
S2.uid('STORE', '3,6', '+FLAGS', '(\\Deleted)')
check(S2.expunge()[0] == 'OK', 'session 2 expunges UIDs 3 and 6')
S2.logout()

# A message is delivered.
s = smtplib.SMTP(host, smtpport, local_hostname='client.town.test', timeout=20)
check(s.sendmail('jack@town.test', [user], msg(7)) == {}, 'a message is delivered over SMTP')
s.quit()

# Session 1 comes back.
S1 = Recording(host, port)
S1.login(user, pw)
S1.enable('QRESYNC')
# The MODSEQs the changed messages have now, from a session of its own.
S3 = imaplib.IMAP4(host, port)
S3.login(user, pw)
S3.select('INBOX', readonly=True)
now = {}
for d in S3.uid('FETCH', '1:*', '(MODSEQ)')[1]:
    m = re.search(rb'UID (\d+) MODSEQ \((\d+)\)|MODSEQ \((\d+)\) UID (\d+)', d)
    if m.group(1):
        now[int(m.group(1))] = int(m.group(2))
    else:
        now[int(m.group(4))] = int(m.group(3))
S3.logout()
check(sorted(now) == [1, 2, 4, 5, 7], 'the mailbox holds UIDs 1, 2, 4, 5, 7 (%r)' % sorted(now))

def resync(params, want, what):
    typ, lines = S1.command('SELECT INBOX (QRESYNC (%s))' % params)
    check(typ == 'OK' and 'OK [READ-WRITE]' in lines[-1], what + ': SELECT is OK [READ-WRITE] (%r)' % lines[-1])
    check('* 5 EXISTS' in lines, what + ': 5 EXISTS')
    check('* OK [UIDNEXT 8] Predicted next UID' in lines, what + ': UIDNEXT 8')
    check(not any(l.endswith(' EXPUNGE') for l in lines), what + ': no EXPUNGE')
    i = next(i for i, l in enumerate(lines) if l.startswith('* OK [HIGHESTMODSEQ '))
    highest = int(re.search(r'HIGHESTMODSEQ (\d+)', lines[i]).group(1))
    check(highest == max(now.values()), what + ': HIGHESTMODSEQ is the highest MODSEQ (%d)' % highest)
    got = lines[i+1:-1]
    check(got == want, what + ': after HIGHESTMODSEQ exactly %r (got %r)' % (want, got))
    S1.unselect()

fetch2 = '* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (%d))' % now[2]
fetch4 = '* 3 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (%d))' % now[4]
check(min(now[2], now[4]) > modseq, 'the changed messages are above the recorded modseq')
# With the UIDs session 1 knows: the expunged two and the changed two.
resync('%d %d %s' % (uidvalidity, modseq, uids.replace(' ', ',')),
       ['* VANISHED (EARLIER) 3,6', fetch2, fetch4], 'with known UIDs')
# Without: the new message too (its \Recent was claimed by the first SELECT).
resync('%d %d' % (uidvalidity, modseq),
       ['* VANISHED (EARLIER) 3,6', fetch2, fetch4, '* 5 FETCH (UID 7 FLAGS () MODSEQ (%d))' % now[7]],
       'without known UIDs')
# Another UIDVALIDITY: nothing to resynchronize from.
resync('%d %d 1:6' % (uidvalidity + 1, modseq), [], 'UIDVALIDITY mismatch')
# UID FETCH (CHANGEDSINCE VANISHED), the same question once selected.
S1.select('INBOX')
typ, lines = S1.command('UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)' % modseq)
check(typ == 'OK' and lines[:3] == ['* VANISHED (EARLIER) 3,6', fetch2, fetch4],
      'UID FETCH (CHANGEDSINCE VANISHED) gives VANISHED (EARLIER) first (%r)' % lines)
S1.logout()
print('ALL OK')
`

// TestIMAPQResyncImaplib: a client that was away resynchronizes INBOX
// with SELECT (QRESYNC (uidvalidity modseq known-uids)) after another
// session's flag changes and expunges and a delivery, and gets exactly
// the VANISHED (EARLIER) and FETCH lines it should (RFC 7162 §3.2.5).
func TestIMAPQResyncImaplib(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	_, smtpPort, _ := strings.Cut(s.smtpAddr, ":")
	out := runPeer(t, 30*time.Second, "", debianPython, "-c", qresyncScript, host, port, smtpPort, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
	t.Logf("imaplib:\n%s", out)
}
