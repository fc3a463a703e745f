//go:build interop

package interop

import (
	"strings"
	"testing"
	"time"
)

// imaplibCompressScript runs COMPRESS=DEFLATE (RFC 4978) with python3's
// imaplib over a real zlib peer: raw DEFLATE both ways
// (compressobj/decompressobj with wbits -15, a Z_PARTIAL_FLUSH after
// every command on plain IMAP, a Z_SYNC_FLUSH after STARTTLS and on
// implicit TLS); LOGIN,
// APPEND of a 300 KiB message, SELECT, FETCH of it whole and of flags,
// a second COMPRESS (NO [COMPRESSIONACTIVE]) and LOGOUT, all compressed.
const imaplibCompressScript = `
import imaplib, ssl, sys, zlib
imaplib.Commands['COMPRESS'] = ('AUTH', 'SELECTED')
host, port, sport, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]

class Inflater:
    """The server's side of the stream, inflated, as imaplib reads it."""
    def __init__(self, sock):
        self.sock, self.d, self.buf = sock, zlib.decompressobj(-15), b''
    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('server closed the compressed stream')
        self.buf += self.d.decompress(data)
    def readline(self, limit=-1):
        while b'\n' not in self.buf:
            self._fill()
        i = self.buf.index(b'\n') + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line
    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data
    def close(self):
        pass

def compressing(base, flush):
    class C(base):
        def compress(self):
            typ, data = self._simple_command('COMPRESS', 'DEFLATE')
            if typ == 'OK':
                self.z = zlib.compressobj(6, zlib.DEFLATED, -15)
                self.file = Inflater(self.sock)
            return typ, data
        def send(self, data):
            if getattr(self, 'z', None) is not None:
                data = self.z.compress(data) + self.z.flush(flush)
            self.sock.sendall(data)
    return C

def ok(r, what):
    typ, data = r
    if typ != 'OK':
        sys.exit('%s: %s %r' % (what, typ, data))
    return data

ctx = ssl._create_unverified_context()
body = b''.join(b'line %06d of a long message, to span many deflate blocks\r\n' % i for i in range(5000))
for mode in ('plain', 'starttls', 'implicit'):
    if mode == 'implicit':
        M = compressing(imaplib.IMAP4_SSL, zlib.Z_SYNC_FLUSH)(host, sport, ssl_context=ctx)
    else:
        # Plain: Z_PARTIAL_FLUSH, as mbsync sends (an empty fixed block
        # ends each command, not byte-aligned).
        M = compressing(imaplib.IMAP4, zlib.Z_PARTIAL_FLUSH if mode == 'plain' else zlib.Z_SYNC_FLUSH)(host, port)
        if mode == 'starttls':
            ok(M.starttls(ssl_context=ctx), 'STARTTLS')
    if 'COMPRESS=DEFLATE' not in M.capabilities:
        sys.exit('%s: COMPRESS=DEFLATE not advertised: %r' % (mode, M.capabilities))
    ok(M.login(user, pw), mode + ' LOGIN')
    ok(M.compress(), mode + ' COMPRESS')
    msg = b'From: jack@town.test\r\nTo: bob@hill.test\r\nSubject: compressed ' + mode.encode() + b'\r\n\r\n' + body
    ok(M.append('INBOX', None, None, msg), mode + ' APPEND')
    n = int(ok(M.select('INBOX'), mode + ' SELECT')[0])
    f = ok(M.fetch(str(n), '(BODY.PEEK[])'), mode + ' FETCH BODY[]')
    if f[0][1] != msg:
        sys.exit('%s: FETCH BODY[] gave %d bytes, not the %d appended' % (mode, len(f[0][1]), len(msg)))
    f = ok(M.fetch('1:*', '(FLAGS UID)'), mode + ' FETCH FLAGS')
    if len([x for x in f if b'UID' in x]) != n:
        sys.exit('%s: FETCH 1:* %r' % (mode, f))
    ok(M.noop(), mode + ' NOOP')
    typ, data = M.compress()
    if typ != 'NO' or b'COMPRESSIONACTIVE' not in data[0]:
        sys.exit('%s: second COMPRESS: %s %r' % (mode, typ, data))
    typ, data = M.logout()
    if typ != 'BYE':
        sys.exit('%s: LOGOUT: %s %r' % (mode, typ, data))
    print(mode, 'ok')
print('ALL OK')
`

// TestIMAPCompressImaplib: COMPRESS=DEFLATE against a real deflate peer,
// Python's zlib, through imaplib (see imaplibCompressScript).
func TestIMAPCompressImaplib(t *testing.T) {
	s := startIMAPServer(t)
	user := "bob@" + testDomain
	host, port, _ := strings.Cut(s.imapAddr, ":")
	_, sport, _ := strings.Cut(s.imapsAddr, ":")
	out := runPeer(t, 30*time.Second, "", "python3", "-c", imaplibCompressScript, host, port, sport, user, passwordFor(user))
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("imaplib with COMPRESS: %s", out)
	}
}
