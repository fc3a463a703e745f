package smtpd

import (
	"bytes"
	"crypto/tls"
	"slices"
	"strings"

	"pail/internal/admit"
	"pail/internal/maillog"
	"pail/internal/smtpserver"
)

// A client that speaks HTTP to an SMTP port is never a mail client: it is
// a browser or a proxy that an attacker aimed at us, whose request body is
// an SMTP dialogue (cross-protocol attacks; ALPACA over TLS). Like
// Postfix's smtpd_forbidden_commands, the guard ends the session at the
// first command line that is an HTTP request line or header field. The
// protocol engine hands it every command line, in clear, after STARTTLS
// and on implicit TLS alike, and never message content or SASL
// responses.

// errHTTP is the whole reply; RFC 5321 §3.8 lets a server close after a
// 554 it sends unprompted.
var errHTTP = &smtpserver.Error{Code: 554, Enhanced: "5.7.0", Message: "Non-SMTP command (an HTTP request?); closing connection", Close: true}

// guard is the engine's Config.Guard: an HTTP line is refused, logged and
// ends the session.
func (s *Server) guard(pc *smtpserver.Conn, line []byte) *smtpserver.Error {
	if !isHTTPLine(line) {
		return nil
	}
	s.deps.MailLog.Log(maillog.Rejected, "client", admit.RemoteIP(pc.RemoteAddr()).String(), "reason", "HTTP command")
	return errHTTP
}

// The handshake is guarded too: a man in the middle can speak the
// plaintext SMTP and STARTTLS himself, then relay a browser's TLS
// handshake, meant for an HTTPS site whose certificate ours matches
// (ALPACA); refuseHTTPALPN stops that handshake before any command.

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
