//go:build interop

package interop

import (
	"strings"
	"testing"
	"time"
)

// imaplibContextScript drives CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267
// §4) from Python's imaplib, which has no method for them: the commands
// go through _simple_command and the ESEARCH responses are taken from
// its untagged responses. Session A keeps an updating UID SEARCH and UID
// SORT; session B appends; A's NOOP then carries the ADDTO of each.
const imaplibContextScript = `
import imaplib, re, ssl, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
imaplib.Commands['CANCELUPDATE'] = ('SELECTED',)
def session():
    M = imaplib.IMAP4(host, port)
    M.starttls(ssl_context=ssl._create_unverified_context())
    M.login(user, pw)
    return M
def check(cond, what):
    if not cond:
        sys.exit('FAIL: ' + what)
    print('ok:', what)
def esearch(M, *args):
    typ, data = M._simple_command(*args)
    check(typ == 'OK', '%s: %s %r' % (' '.join(args), typ, data))
    typ, data = M._untagged_response(typ, data, 'ESEARCH')
    return data
def tag_of(line):
    m = re.match(rb'\(TAG "([^"]+)"\) ', line)
    check(m is not None, 'ESEARCH has a TAG: %r' % line)
    return m.group(1).decode()
def msg(subject):
    return ('From: a@b.c\r\nSubject: %s\r\n\r\nhi\r\n' % subject).encode()

A, B = session(), session()
for c in ('CONTEXT=SEARCH', 'CONTEXT=SORT', 'ESORT', 'ESEARCH'):
    check(c in A.capabilities, '%s advertised: %r' % (c, A.capabilities))
B.append('INBOX', None, None, msg('b'))
B.append('INBOX', None, None, msg('d'))
typ, data = A.select('INBOX')
check(typ == 'OK' and data == [b'2'], 'SELECT: %s %r' % (typ, data))
A.untagged_responses.pop('EXISTS', None)

data = esearch(A, 'UID', 'SEARCH', 'RETURN', '(UPDATE)', 'UNSEEN')
check(len(data) == 1 and data[0].endswith(b' UID ALL 1:2'), 'UID SEARCH RETURN (UPDATE): %r' % data)
stag = tag_of(data[0])
data = esearch(A, 'UID', 'SORT', 'RETURN', '(UPDATE COUNT)', '(SUBJECT)', 'UTF-8', 'ALL')
check(len(data) == 1 and data[0].endswith(b' UID COUNT 2'), 'UID SORT RETURN (UPDATE COUNT): %r' % data)
otag = tag_of(data[0])
data = esearch(A, 'UID', 'SEARCH', 'RETURN', '(PARTIAL 2:5)', 'ALL')
check(len(data) == 1 and data[0].endswith(b' UID PARTIAL (2:5 2)'), 'UID SEARCH RETURN (PARTIAL 2:5): %r' % data)

# Another connection appends "c": it joins the SEARCH and goes second
# in the SORT.
typ, data = B.append('INBOX', None, None, msg('c'))
check(typ == 'OK', 'APPEND from B: %s %r' % (typ, data))
typ, data = A.noop()
check(typ == 'OK', 'NOOP')
exists = A.untagged_responses.pop('EXISTS', [])
check(exists == [b'3'], 'EXISTS 3 after the APPEND: %r' % exists)
got = sorted(A.untagged_responses.pop('ESEARCH', []))
want = sorted([('(TAG "%s") UID ADDTO (0 3)' % stag).encode(), ('(TAG "%s") UID ADDTO (2 3)' % otag).encode()])
check(got == want, 'ADDTO after the APPEND: %r, want %r' % (got, want))

# The updates end with CANCELUPDATE.
typ, data = A._simple_command('CANCELUPDATE', '"%s"' % stag, '"%s"' % otag)
check(typ == 'OK', 'CANCELUPDATE: %s %r' % (typ, data))
B.append('INBOX', None, None, msg('e'))
A.noop()
check(A.untagged_responses.pop('EXISTS', []) == [b'4'], 'EXISTS 4 after the second APPEND')
got = A.untagged_responses.pop('ESEARCH', [])
check(got == [], 'no ESEARCH after CANCELUPDATE: %r' % got)
A.logout()
B.logout()
print('ALL OK')
`

// TestIMAPImaplibContext: Python's imaplib keeps an updating UID SEARCH
// and UID SORT (RETURN (UPDATE), RFC 5267 §4.3) and hears, on NOOP, the
// ADDTO of a message another connection APPENDs; PARTIAL pages; after
// CANCELUPDATE nothing more.
func TestIMAPImaplibContext(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	out := runPeer(t, 30*time.Second, "", "python3", "-c", imaplibContextScript, host, port, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
}
