//go:build interop

package interop

import (
	"strings"
	"testing"
	"time"
)

// imaplibSortScript delivers a fixture set over SMTP with smtplib, then
// checks with imaplib the exact answers of SORT, UID SORT, ESORT and
// THREAD (RFC 5256, RFC 5267 §3), worked out by hand from the RFCs'
// rules, and that I18NLEVEL=1 is advertised and SEARCH CHARSET UTF-8
// TEXT "cafe" finds "Café" (RFC 5255 §4); it prints "ALL OK" at the end.
const imaplibSortScript = `
import imaplib, smtplib, sys, time
host, port, smtp_port, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]

# One message a conversation: 1 "Meeting" and its replies 2 and 3 (a
# References chain); 4 and 5 point (References, In-Reply-To) at a missing
# x; 6 has their subject, encoded and with a "(fwd)" trailer, and no
# references; 7 reuses 1's Message-ID; 8 has no Date and references
# itself.
fixture = [
    ('"Carol" <carol@town.test>', 'Meeting', '<a@t>', '', 'Thu, 01 Jan 2026 10:00:00 +0000'),
    ('"Zack" <bill@town.test>', 'Re: Meeting', '<b@t>', 'References: <a@t>', 'Thu, 01 Jan 2026 11:00:00 +0000'),
    ('Alice <alice@town.test>', 'Re: Meeting', '<c@t>', 'References: <a@t> <b@t>', 'Thu, 01 Jan 2026 12:00:00 +0000'),
    ('dave@town.test', 'Lunch', '<e@t>', 'References: <x@t>', 'Fri, 02 Jan 2026 09:00:00 +0000'),
    ('Eve <eve@town.test>', 'Re: Lunch', '<f@t>', 'In-Reply-To: <x@t>', 'Fri, 02 Jan 2026 10:00:00 +0000'),
    ('Zed <zed@town.test>', '=?utf-8?q?LUNCH?= (fwd)', '<g@t>', '', 'Sat, 03 Jan 2026 08:00:00 +0100'),
    ('Bert <bert@town.test>', 'Other', '<a@t>', '', 'Wed, 31 Dec 2025 10:00:00 +0000'),
    ('Frank <frank@town.test>', 'Loop', '<h@t>', 'References: <h@t>', None),
]
s = smtplib.SMTP(host, smtp_port, local_hostname='client.town.test', timeout=20)
s.sendmail('jack@town.test', [user], b'From: jack@town.test\r\nSubject: gone\r\nMessage-ID: <gone@t>\r\n\r\nx\r\n')
for frm, subj, mid, refs, date in fixture:
    h = 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n' % (frm, user, subj, mid)
    if refs: h += refs + '\r\n'
    if date: h += 'Date: %s\r\n' % date
    s.sendmail('jack@town.test', [user], (h + '\r\nbody\r\n').encode())
s.quit()

def ok(r, what):
    typ, data = r
    if typ != 'OK':
        sys.exit('%s: %s %r' % (what, typ, data))
    return data
def want(got, exp, what):
    if got != exp:
        sys.exit('%s: got %r, want %r' % (what, got, exp))
    print('ok:', what)

M = imaplib.IMAP4(host, port)
ok(M.login(user, pw), 'LOGIN')
caps = ok(M.capability(), 'CAPABILITY')[0].decode().upper().split()
for c in ('SORT', 'SORT=DISPLAY', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'ESORT', 'I18NLEVEL=1'):
    if c not in caps: sys.exit('missing capability %s in %r' % (c, caps))
ok(M.select('INBOX'), 'SELECT')
# Expunge the first message, so that UIDs are sequence numbers + 1.
ok(M.store('1', '+FLAGS', '\\Deleted'), 'STORE')
ok(M.expunge(), 'EXPUNGE')

# Sent dates: 7 (31 Dec), 1, 2, 3 (1 Jan), 4, 5 (2 Jan), 6 (3 Jan 07:00
# UTC), 8 (no Date: its arrival, today).
want(ok(M.sort('(DATE)', 'UTF-8', 'ALL'), 'SORT DATE'), [b'7 1 2 3 4 5 6 8'], 'SORT (DATE)')
want(ok(M.sort('(REVERSE DATE)', 'UTF-8', 'ALL'), 'SORT REVERSE DATE'), [b'8 6 5 4 3 2 1 7'], 'SORT (REVERSE DATE)')
want(ok(M.sort('(ARRIVAL)', 'US-ASCII', 'ALL'), 'SORT ARRIVAL'), [b'1 2 3 4 5 6 7 8'], 'SORT (ARRIVAL)')
# Base subjects: LOOP 8; LUNCH 4 5 6; MEETING 1 2 3; OTHER 7; within
# one, mailbox order.
want(ok(M.sort('(SUBJECT)', 'UTF-8', 'ALL'), 'SORT SUBJECT'), [b'8 4 5 6 1 2 3 7'], 'SORT (SUBJECT)')
want(ok(M.sort('(SUBJECT REVERSE DATE)', 'UTF-8', 'ALL'), 'SORT SUBJECT REVERSE DATE'), [b'8 6 5 4 3 2 1 7'], 'SORT (SUBJECT REVERSE DATE)')
# addr-mailbox: alice bert bill carol dave eve frank zed.
want(ok(M.sort('(FROM)', 'UTF-8', 'ALL'), 'SORT FROM'), [b'3 7 2 1 4 5 8 6'], 'SORT (FROM)')
# Display names: Alice Bert Carol dave@town.test Eve Frank Zack Zed.
want(ok(M.sort('(DISPLAYFROM)', 'UTF-8', 'ALL'), 'SORT DISPLAYFROM'), [b'3 7 1 4 5 8 2 6'], 'SORT (DISPLAYFROM)')
want(ok(M.uid('SORT', '(DATE)', 'UTF-8', 'ALL'), 'UID SORT'), [b'8 2 3 4 5 6 7 9'], 'UID SORT (DATE)')
want(ok(M.sort('(DATE)', 'UTF-8', 'SUBJECT', 'lunch'), 'SORT SUBJECT lunch'), [b'4 5 6'], 'SORT (DATE) SUBJECT lunch')
want(ok(M.sort('(DATE)', 'UTF-8', 'FROM', 'carol'), 'SORT FROM carol'), [b'1'], 'SORT (DATE) FROM carol')
typ, data = M._simple_command('SORT', '(DATE)', 'ISO-8859-1', 'ALL')
if typ != 'NO' or b'BADCHARSET' not in data[0]: sys.exit('SORT ISO-8859-1: %s %r' % (typ, data))
print('ok: BADCHARSET')

# ESORT: MIN and MAX are the first and last in the sort order.
ok(M._simple_command('SORT', 'RETURN (MIN MAX COUNT ALL)', '(DATE)', 'UTF-8', 'ALL'), 'ESORT')
es = M.untagged_responses.pop('ESEARCH', [b''])[0]
want(es.split(b') ', 1)[1], b'MIN 7 MAX 8 COUNT 8 ALL 7,1:6,8', 'SORT RETURN (MIN MAX COUNT ALL)')
ok(M._simple_command('UID', 'SORT', 'RETURN (ALL)', '(REVERSE DATE)', 'UTF-8', 'ALL'), 'UID ESORT')
es = M.untagged_responses.pop('ESEARCH', [b''])[0]
want(es.split(b') ', 1)[1], b'UID ALL 9,7,6,5,4,3,2,8', 'UID SORT RETURN (ALL)')

# REFERENCES: 7 alone (a duplicate id); 1 2 3 a chain; the missing x
# a dummy over 4 and 5, and 6 joins it by subject; 8 alone.
want(ok(M.thread('REFERENCES', 'UTF-8', 'ALL'), 'THREAD REFERENCES'), [b'(7)(1 2 3)((4)(5)(6))(8)'], 'THREAD REFERENCES')
want(ok(M.uid('THREAD', 'REFERENCES', 'UTF-8', 'ALL'), 'UID THREAD REFERENCES'), [b'(8)(2 3 4)((5)(6)(7))(9)'], 'UID THREAD REFERENCES')
want(ok(M.thread('REFERENCES', 'UTF-8', 'NOT', 'SUBJECT', 'Re'), 'THREAD REFERENCES NOT SUBJECT Re'), [b'(7)(1)(4 6)(8)'], 'THREAD REFERENCES NOT SUBJECT Re')
want(ok(M.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL'), 'THREAD ORDEREDSUBJECT'), [b'(7)(1 (2)(3))(4 (5)(6))(8)'], 'THREAD ORDEREDSUBJECT')

# I18NLEVEL=1 (RFC 5255 §4): SEARCH matches by i;unicode-casemap, so
# "cafe" finds "Café" (é is E and a combining acute), in an encoded
# subject and a quoted-printable UTF-8 body; message 9 once delivered.
s = smtplib.SMTP(host, smtp_port, local_hostname='client.town.test', timeout=20)
s.sendmail('jack@town.test', [user], ('From: jack@town.test\r\nTo: %s\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\nMIME-Version: 1.0\r\n'
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nUn caf=C3=A9 noir.\r\n' % user).encode())
s.quit()
for i in range(100):
    if len(ok(M.search(None, 'ALL'), 'SEARCH ALL')[0].split()) == 9: break
    time.sleep(0.1)
want(ok(M.search('UTF-8', 'TEXT', 'cafe'), 'SEARCH TEXT cafe'), [b'9'], 'SEARCH CHARSET UTF-8 TEXT cafe')
want(ok(M.search('UTF-8', 'SUBJECT', 'CAFE'), 'SEARCH SUBJECT CAFE'), [b'9'], 'SEARCH CHARSET UTF-8 SUBJECT CAFE')
M.literal = 'CAFÉ NOIR'.encode()
want(ok(M.search('UTF-8', 'BODY'), 'SEARCH BODY literal'), [b'9'], 'SEARCH CHARSET UTF-8 BODY {n} CAFÉ NOIR')
want(ok(M.search('UTF-8', 'TEXT', 'nowhere'), 'SEARCH TEXT nowhere'), [b''], 'SEARCH CHARSET UTF-8 TEXT nowhere')
M.logout()
print('ALL OK')
`

// TestIMAPImaplibSortThread: python3's imaplib SORTs and THREADs a
// fixture set that smtplib delivered, and gets the answers RFC 5256 and
// RFC 5267 give, worked out by hand; it sees I18NLEVEL=1 and SEARCHes
// with i;unicode-casemap (RFC 5255 §4).
func TestIMAPImaplibSortThread(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	_, smtpPort, _ := strings.Cut(s.smtpAddr, ":")
	out := runPeer(t, 30*time.Second, "", "/usr/bin/python3", "-c", imaplibSortScript, host, port, smtpPort, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib: %s", out)
	}
	t.Logf("imaplib:\n%s", out)
}
