package smtpd

import (
	"bytes"
	"crypto/tls"
	"slices"
	"strconv"
	"strings"
)

// A client that speaks HTTP to an SMTP port is never a mail client: it is
// a browser or a proxy that an attacker aimed at us, whose request body is
// an SMTP dialogue (cross-protocol attacks; ALPACA over TLS). go-smtp
// answers each HTTP line with a syntax error and then runs the body's
// commands. Like Postfix's smtpd_forbidden_commands, the guard ends the
// session at the first command line that is an HTTP request line or
// header field.
const (
	// errHTTPReply is the whole reply; RFC 5321 §3.8 lets a server close
	// after a 554 it sends unprompted.
	errHTTPReply = "554 5.7.0 Non-SMTP command (an HTTP request?); closing connection\r\n"
	// guardLineMax is how much of a command line the guard keeps: the
	// longest line go-smtp reads (maxLineLength; it ends the session at a
	// longer one), so that a BDAT line is parsed whole, however its size
	// is padded with zeros or spaces.
	guardLineMax = maxLineLength
)

// The guard reads the plaintext of a session until STARTTLS, and all of an
// implicit-TLS session (guardedTLS). After STARTTLS it cannot: go-smtp
// v0.25.1 puts its own tls.Server over the connection it was handed
// (handleStartTLS) and reads the decrypted bytes itself, with no hook
// between the two. There the attack is ALPACA's: a man in the middle
// speaks the plaintext SMTP and STARTTLS himself, then relays a browser's
// TLS handshake, meant for an HTTPS site whose certificate ours matches.
// refuseHTTPALPN stops that handshake instead, as it does on implicit TLS.

// refuseHTTPALPN returns a copy of base that refuses a TLS ClientHello
// whose ALPN list (RFC 7301) offers only HTTP protocols: browsers and other
// HTTP clients send "h2" and "http/1.1", mail clients send no ALPN or a
// mail protocol. The handshake fails with the no_application_protocol
// alert (RFC 7301 §3.2), the countermeasure the ALPACA paper recommends.
// nil stays nil.
func refuseHTTPALPN(base *tls.Config) *tls.Config {
	if base == nil {
		return nil
	}
	cfg := base.Clone()
	// refuse offers one protocol that no HTTP client asks for, so Go's
	// ALPN negotiation finds no common one and sends the alert.
	refuse := base.Clone()
	refuse.NextProtos = []string{alpnSMTP}
	next := base.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if len(hello.SupportedProtos) > 0 && !slices.ContainsFunc(hello.SupportedProtos, func(p string) bool { return !isHTTPALPN(p) }) {
			return refuse, nil
		}
		if next != nil {
			return next(hello)
		}
		return nil, nil
	}
	return cfg
}

// alpnSMTP names SMTP in the refusing configuration; IANA's ALPN registry
// has no SMTP entry, and it is never negotiated (an HTTP-only list cannot
// contain it).
const alpnSMTP = "smtp"

// isHTTPALPN reports whether an ALPN protocol ID is an HTTP one in IANA's
// registry (http/0.9, http/1.0, http/1.1, spdy/1-3, h2, h2c, h3) or an
// h3 draft.
func isHTTPALPN(p string) bool {
	switch p {
	case "http/0.9", "http/1.0", "http/1.1", "h2", "h2c", "h3":
		return true
	}
	return strings.HasPrefix(p, "spdy/") || strings.HasPrefix(p, "h3-")
}

// httpMethods are the request methods of RFC 9110 §9, PATCH (RFC 5789)
// and HTTP/2's connection preface "PRI * HTTP/2.0" (RFC 9113 §3.4), each
// with the space that follows it in a request line. No SMTP command is one.
var httpMethods = [][]byte{
	[]byte("GET "), []byte("HEAD "), []byte("POST "), []byte("PUT "), []byte("DELETE "),
	[]byte("CONNECT "), []byte("OPTIONS "), []byte("TRACE "), []byte("PATCH "), []byte("PRI "),
}

// endOfData is the DATA terminator (RFC 5321 §4.1.1.4), "\r\n" included:
// the first line of content is preceded by the DATA command's own CRLF.
var endOfData = []byte("\r\n.\r\n")

// guardState says what the bytes the guard sees are.
type guardState uint8

const (
	guardCommand guardState = iota // command lines
	guardData                      // DATA content, up to endOfData
	guardChunk                     // a BDAT chunk of chunk more bytes
)

// commandGuard follows the client's byte stream with the framing go-smtp
// uses (lines ending in LF; DATA content up to CRLF.CRLF; BDAT chunks of a
// stated size) and checks only command lines, never message content. It
// can only err towards not checking (a DATA that go-smtp refused leaves it
// waiting for an end of data), never towards checking content, and an HTTP
// client's request line always comes first, where the guard is sure to be
// reading commands. In the data phase it costs one bytes.Index per read.
type commandGuard struct {
	state   guardState
	line    [guardLineMax]byte
	lineLen int    // bytes of the current command line so far (may exceed guardLineMax)
	chunk   uint64 // BDAT bytes still to come
	tail    [4]byte
	tailLen int // the last bytes of content, for an endOfData split across reads
}

// scan follows p, the next bytes from the client, and reports false at a
// command line that is HTTP.
func (g *commandGuard) scan(p []byte) bool {
	for len(p) > 0 {
		switch g.state {
		case guardChunk:
			n := min(uint64(len(p)), g.chunk)
			g.chunk -= n
			p = p[n:]
			if g.chunk == 0 {
				g.state = guardCommand
			}
		case guardData:
			end := g.dataEnd(p)
			if end < 0 {
				return true
			}
			p = p[end:]
			g.state = guardCommand
		case guardCommand:
			i := bytes.IndexByte(p, '\n')
			part := p
			if i >= 0 {
				part = p[:i]
			}
			if g.lineLen < guardLineMax {
				copy(g.line[g.lineLen:], part)
			}
			g.lineLen += len(part)
			if i < 0 {
				return true
			}
			p = p[i+1:]
			line := g.line[:min(g.lineLen, guardLineMax)]
			g.lineLen = 0
			if isHTTPLine(line) {
				return false
			}
			g.command(bytes.TrimRight(line, "\r"))
		}
	}
	return true
}

// command moves the guard into the data phase after a DATA or BDAT line,
// parsed as go-smtp v0.25.1 parses them (parseCmd: "BDAT", a space, the
// arguments; handleBdat: strings.Fields, at most two, the second "LAST" in
// any case, the size strconv.ParseUint(s, 10, 32), so leading zeros and any
// Unicode space between arguments are allowed, a sign or a size over 32 bits
// is not).
func (g *commandGuard) command(line []byte) {
	switch {
	case len(line) == 4 && bytes.EqualFold(line, []byte("DATA")):
		g.state = guardData
		g.tailLen = copy(g.tail[:], "\r\n")
	case len(line) > 5 && bytes.EqualFold(line[:5], []byte("BDAT ")):
		args := bytes.Fields(line[5:])
		if len(args) == 0 || len(args) > 2 || (len(args) == 2 && !bytes.EqualFold(args[1], []byte("LAST"))) {
			return
		}
		size, err := strconv.ParseUint(string(args[0]), 10, 32)
		if err != nil || size == 0 {
			return
		}
		g.state, g.chunk = guardChunk, size
	}
}

// dataEnd returns the offset in p just past the end of data, or -1 if p
// does not end the data; it keeps the last bytes for the next call.
func (g *commandGuard) dataEnd(p []byte) int {
	// A terminator that began in an earlier read ends within p's first 4
	// bytes; one wholly in p is found by bytes.Index.
	var w [8]byte
	n := copy(w[:], g.tail[:g.tailLen])
	m := copy(w[n:], p)
	if i := bytes.Index(w[:n+m], endOfData); i >= 0 {
		return i + len(endOfData) - n
	}
	if i := bytes.Index(p, endOfData); i >= 0 {
		return i + len(endOfData)
	}
	if len(p) >= len(g.tail) {
		g.tailLen = copy(g.tail[:], p[len(p)-len(g.tail):])
	} else {
		seen := w[:n+m]
		g.tailLen = copy(g.tail[:], seen[max(0, len(seen)-len(g.tail)):])
	}
	return -1
}

// isHTTPLine reports whether a command line is an HTTP request line (a
// method and a space) or an HTTP header field (a field name, RFC 9110 §5.1,
// directly followed by a colon; no SMTP command has a colon in its first
// word).
func isHTTPLine(line []byte) bool {
	for _, m := range httpMethods {
		if len(line) >= len(m) && bytes.EqualFold(line[:len(m)], m) {
			return true
		}
	}
	for i, b := range line {
		if b == ':' {
			return i > 0
		}
		if !isTchar(b) {
			return false
		}
	}
	return false
}

// isTchar reports whether b may appear in an HTTP token (RFC 9110 §5.6.2).
func isTchar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
}

// guardedTLS is an implicit-TLS connection as go-smtp sees it: the guard
// reads the decrypted bytes, which the conn below TLS cannot. go-smtp then
// takes it for a plain connection, so the session asks tlsState, not
// go-smtp, whether TLS is on, and the server offers no STARTTLS.
type guardedTLS struct {
	*tls.Conn
	c     *conn
	guard commandGuard
}

func (g *guardedTLS) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 && !g.guard.scan(p[:n]) {
		g.c.refuseHTTP(g.Conn)
		return 0, errHTTP
	}
	return n, err
}
