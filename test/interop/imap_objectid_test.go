//go:build interop

package interop

import (
	"strings"
	"testing"
	"time"
)

// imaplibObjectIDScript drives OBJECTID (RFC 8474), SAVEDATE (RFC 8514),
// PREVIEW (RFC 8970), WITHIN (RFC 5032) and STATUS DELETED/SIZE with
// Python's imaplib, a real client whose response parser must take them.
const imaplibObjectIDScript = `
import imaplib, re, ssl, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
M = imaplib.IMAP4(host, port)
M.starttls(ssl_context=ssl._create_unverified_context())
M.login(user, pw)
typ, caps = M.capability()
for c in (b'OBJECTID', b'SAVEDATE', b'PREVIEW', b'WITHIN'):
    if c not in caps[0].split(): sys.exit('capability %s missing: %r' % (c, caps))
typ, data = M.create('Obj')
m = re.search(rb'\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]', data[0])
if typ != 'OK' or not m: sys.exit('CREATE: %s %r' % (typ, data))
mbid = m.group(1)
msg = b'From: Jack <jack@town.test>\r\nSubject: hi\r\nMessage-ID: <1@town.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCaf\xc3\xa9   au\r\n  lait.\r\n'
typ, data = M.append('Obj', '(\\Deleted)', imaplib.Time2Internaldate(time.time() - 7200), msg)
if typ != 'OK': sys.exit('APPEND: %s %r' % (typ, data))
typ, data = M.select('Obj')
if typ != 'OK' or M.response('MAILBOXID')[1] != [b'(' + mbid + b')']: sys.exit('SELECT MAILBOXID: %r' % (M.response('MAILBOXID'),))
typ, data = M.fetch('1', '(EMAILID THREADID SAVEDATE PREVIEW)')
flat = b''.join(x if isinstance(x, bytes) else b''.join(x) for x in data)
em = re.search(rb'EMAILID \(([A-Za-z0-9_-]+)\)', flat)
if typ != 'OK' or not em or not re.search(rb'THREADID \([A-Za-z0-9_-]+\)', flat) or b'SAVEDATE "' not in flat:
    sys.exit('FETCH: %s %r' % (typ, data))
if 'Café au lait.'.encode() not in flat: sys.exit('PREVIEW: %r' % (data,))
def uids(crit):
    typ, data = M.uid('SEARCH', *crit.split(' '))
    if typ != 'OK': sys.exit('SEARCH %s: %s %r' % (crit, typ, data))
    return data[0].split()
if uids('EMAILID ' + em.group(1).decode()) != [b'1']: sys.exit('SEARCH EMAILID')
if uids('OLDER 3600') != [b'1'] or uids('YOUNGER 3600') != []: sys.exit('SEARCH WITHIN')
if uids('SAVEDSINCE ' + time.strftime('%d-%b-%Y')) != [b'1']: sys.exit('SEARCH SAVEDSINCE')
M.unselect() # CLOSE would expunge the \\Deleted message
typ, data = M.status('Obj', '(MAILBOXID MESSAGES DELETED SIZE)')
if typ != 'OK' or (b'MAILBOXID (' + mbid + b')') not in data[0] or b'DELETED 1' not in data[0] or (b'SIZE %d' % len(msg)) not in data[0]:
    sys.exit('STATUS: %s %r' % (typ, data))
M.logout()
print('ALL OK')
`

// TestIMAPImaplibObjectID: Python's imaplib reads MAILBOXID, EMAILID,
// THREADID, SAVEDATE and PREVIEW and searches with the new keys.
func TestIMAPImaplibObjectID(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	out := runPeer(t, 20*time.Second, "", "python3", "-c", imaplibObjectIDScript, host, port, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
}
