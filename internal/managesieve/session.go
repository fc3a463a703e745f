package managesieve

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"pail/internal/store"
)

// Bounds of what a client sends, each with its reason.
const (
	// maxLine bounds a command's text outside literals: names and
	// quoted strings (RFC 5804 §4: a quoted string is at most 1024
	// octets), a SASL response.
	maxLine = 16 << 10
	// maxQuoted is RFC 5804 §4's bound on a quoted string.
	maxQuoted = 1024
	// maxArgs bounds a command's arguments (RENAMESCRIPT has two; a
	// PUTSCRIPT two).
	maxArgs = 4
	// maxErrors ends a session that keeps sending bad commands.
	maxErrors = 20
)

// session is one client connection.
type session struct {
	srv   *Server
	raw   net.Conn
	conn  net.Conn // raw, or TLS over it
	r     *bufio.Reader
	w     *bufio.Writer
	ip    netip.Addr
	tls   bool
	acct  *store.Account
	log   *slog.Logger
	fails int
}

func newSession(srv *Server, nc net.Conn, ip netip.Addr) *session {
	s := &session{srv: srv, raw: nc, ip: ip, log: srv.deps.Log.With("client", ip.String())}
	s.setConn(&deadlineConn{Conn: nc})
	return s
}

func (s *session) setConn(c net.Conn) {
	s.conn = c
	s.r = bufio.NewReaderSize(c, 4096)
	s.w = bufio.NewWriterSize(c, 4096)
}

// deadlineConn gives every write a fresh deadline.
type deadlineConn struct{ net.Conn }

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.Conn.Write(p)
}

// response is a reply that ends a command: OK, NO or BYE (RFC 5804
// §1.3) with an optional response code and text.
type response struct {
	kind, code, text string
}

func (r *response) Error() string { return r.kind + " " + r.code + " " + r.text }

func no(code, format string, args ...any) *response {
	return &response{kind: "NO", code: code, text: fmt.Sprintf(format, args...)}
}

func (s *session) serve() {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("managesieve panic", "panic", p)
			s.send(&response{kind: "BYE", text: "Internal error"})
		}
		s.w.Flush()
		s.raw.Close()
	}()
	// RFC 5804 §1.7: the greeting is the capability list and OK.
	s.capabilities()
	s.send(&response{kind: "OK", text: s.srv.cfg.Hostname + " ManageSieve ready"})
	for !s.srv.group.Draining() {
		if err := s.w.Flush(); err != nil {
			return
		}
		s.raw.SetReadDeadline(time.Now().Add(s.srv.cfg.IdleTimeout))
		words, err := s.readCommand()
		if err != nil {
			var re *response
			if errors.As(err, &re) {
				s.send(re)
				if re.kind == "BYE" {
					return
				}
				if s.fails++; s.fails > maxErrors {
					s.send(&response{kind: "BYE", text: "Too many errors"})
					return
				}
				continue
			}
			return
		}
		name := strings.ToUpper(words[0])
		err = s.exec(name, words[1:])
		if err == nil {
			continue
		}
		var re *response
		switch {
		case errors.As(err, &re):
			s.send(re)
			if re.kind == "BYE" {
				return
			}
			if re.kind == "NO" {
				if s.fails++; s.fails > maxErrors {
					s.send(&response{kind: "BYE", text: "Too many errors"})
					return
				}
			}
		case errors.Is(err, errHangUp):
			return
		default:
			s.log.Error("managesieve command", "cmd", name, "err", err)
			s.send(&response{kind: "NO", code: "TRYLATER", text: "Server error, try again later"})
		}
	}
	s.send(&response{kind: "BYE", text: "Server shutting down"})
}

// send writes a final response.
func (s *session) send(r *response) {
	s.w.WriteString(r.kind)
	if r.code != "" {
		s.w.WriteString(" (" + r.code + ")")
	}
	if r.text != "" {
		s.w.WriteString(" " + quote(r.text))
	}
	s.w.WriteString("\r\n")
}

// quote returns s as a quoted string (RFC 5804 §4), or a literal when it
// cannot be one.
func quote(s string) string {
	if len(s) > maxQuoted || strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Sprintf("{%d}\r\n%s", len(s), s)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// errLine is the answer to a command past the bounds: the rest of the
// stream cannot be trusted to be in step, so the session ends.
var errLine = &response{kind: "BYE", text: "Command too long"}

// readCommand reads one command: its name and its string arguments
// (quoted strings, literals {n} and {n+}, atoms such as numbers) as
// sent, up to
// the CRLF. Text outside literals is bounded by maxLine, each literal by
// the script size limit.
func (s *session) readCommand() ([]string, error) {
	budget := maxLine
	var words []string
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if budget--; budget < 0 {
			return nil, errLine
		}
		switch {
		case c == ' ':
		case c == '\r':
			if c, err = s.r.ReadByte(); err != nil {
				return nil, err
			}
			if c != '\n' {
				return nil, no("", "Expected CRLF")
			}
			fallthrough
		case c == '\n':
			if len(words) == 0 {
				return nil, no("", "Empty command")
			}
			return words, nil
		case len(words) > maxArgs:
			return nil, errLine
		case c == '"':
			w, err := s.readQuoted(&budget)
			if err != nil {
				return nil, err
			}
			words = append(words, w)
		case c == '{':
			w, err := s.readLiteral(&budget)
			if err != nil {
				return nil, err
			}
			words = append(words, w)
		default:
			var b strings.Builder
			b.WriteByte(c)
			for {
				c, err := s.r.ReadByte()
				if err != nil {
					return nil, err
				}
				if c == ' ' || c == '\r' || c == '\n' {
					s.r.UnreadByte()
					break
				}
				if budget--; budget < 0 {
					return nil, errLine
				}
				b.WriteByte(c)
			}
			words = append(words, b.String())
		}
	}
}

// readQuoted reads a quoted string after its opening quote.
func (s *session) readQuoted(budget *int) (string, error) {
	var b strings.Builder
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return "", err
		}
		if *budget--; *budget < 0 || b.Len() > maxQuoted {
			return "", errLine
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if c, err = s.r.ReadByte(); err != nil {
				return "", err
			}
			b.WriteByte(c)
		case '\r', '\n':
			return "", &response{kind: "BYE", text: "Line break in a quoted string"}
		default:
			b.WriteByte(c)
		}
	}
}

// readLiteral reads {n}CRLF or {n+}CRLF and the n octets after it (RFC
// 5804 §4: literal-c2s; the synchronising form is taken alike, with no
// continuation to wait for).
func (s *session) readLiteral(budget *int) (string, error) {
	var num strings.Builder
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return "", err
		}
		if *budget--; *budget < 0 || num.Len() > 10 {
			return "", errLine
		}
		if c == '}' {
			break
		}
		num.WriteByte(c)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(num.String(), "+"))
	if err != nil || n < 0 {
		return "", &response{kind: "BYE", text: "Bad literal"}
	}
	if c1, _ := s.r.ReadByte(); c1 != '\r' {
		return "", &response{kind: "BYE", text: "Bad literal"}
	}
	if c2, _ := s.r.ReadByte(); c2 != '\n' {
		return "", &response{kind: "BYE", text: "Bad literal"}
	}
	// A script may be at most the size limit; a few octets more than
	// that are allowed so that PUTSCRIPT can answer QUOTA/MAXSIZE.
	limit := s.srv.cfg.Options.Limits.MaxScriptBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	if n > limit+maxLine {
		return "", &response{kind: "BYE", code: "QUOTA/MAXSIZE", text: "Literal too large"}
	}
	s.raw.SetReadDeadline(time.Now().Add(literalTimeout))
	buf := make([]byte, n)
	if _, err := io.ReadFull(s.r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

// startTLS runs the server's half of the TLS handshake.
func (s *session) startTLS() error {
	tc := tls.Server(&deadlineConn{Conn: s.raw}, s.srv.cfg.TLS)
	s.raw.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.HandshakeContext(s.srv.ctx); err != nil {
		return err
	}
	s.raw.SetDeadline(time.Time{})
	s.tls = true
	s.setConn(tc)
	return nil
}
