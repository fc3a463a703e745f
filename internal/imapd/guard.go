package imapd

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The guard. go-imap v2.0.0-beta.8's command parser mishandles three
// kinds of client input, and pail cannot fix them above it because none
// of them reaches the session:
//
//   - A literal over its 4096-byte bound for a buffered argument (LOGIN's,
//     a mailbox name, a search string) is refused without a reply, and
//     the parser then waits for more input: a synchronizing literal hangs
//     until the command timeout, a non-synchronizing one's data is read
//     as commands. APPEND before login reads the whole literal before it
//     checks the state, and a command may carry any number of literals.
//   - A decoder error that is not a syntax error (a mailbox name that is
//     not modified UTF-7 or holds a control character, a bad sequence
//     set, a line over its 50 KiB bound) is answered NO [SERVERBUG].
//   - Its STARTTLS wraps the connection in TLS itself, so nothing pail
//     owns would see the commands after it.
//
// So every connection reaches go-imap through a guard: above TLS, below
// the library. It reads the command stream just far enough to find
// command lines, their tag and name, and the literals announced at their
// ends (RFC 9051 §4.3: "{" number ["+"] "}" CRLF), skipping literal data
// unread, and it hands the library one command line per Read, so that
// when it reads a line every earlier command has been answered. It
//
//   - bounds literals and commands (maxLoginCommand before login;
//     maxBufferedLiteral and maxCommand after, APPEND's message by the
//     message size limit, which go-imap checks for synchronizing literals
//     itself) and answers one over its bound with BAD and BYE and closes
//     (RFC 7888 §4: the server may reject a non-synchronizing literal it
//     will not take and close the connection);
//   - rewrites go-imap's tagged NO [SERVERBUG] into the BAD the client's
//     input deserves (clientBugReply, the one place): pail's own session
//     code never returns an error without an IMAP reply (storeErr,
//     internalErr), so that line only comes from the library's decoder;
//     each rewrite is logged at warn, so a server error would show;
//   - performs STARTTLS itself (RFC 9051 §6.2.1): it answers OK, drops
//     whatever the client sent after the command in cleartext, and hands
//     a new guard over TLS to the server instance for TLS sessions, whose
//     greeting it swallows (none is sent after STARTTLS). Should go-imap
//     ever begin TLS itself, the guard closes the connection: it never
//     passes on what it cannot read.
//
// All of it rests on the guard knowing the tag and name of each command
// go-imap reads, so it refuses a tag that is not one (RFC 9051 §9: tag =
// 1*<any ASTRING-CHAR except "+">) or is longer than maxTag, and it tells
// a command from a line that answers go-imap's continuation request ("+",
// AUTHENTICATE's response, IDLE's DONE), which carries no tag.

// Bounds on what a client may send, and the reasons for them.
const (
	// maxLoginCommand bounds a command before login, literals included:
	// LOGIN's two strings and an AUTHENTICATE line need far less
	// (Dovecot's login process has an 8 KiB line bound too).
	maxLoginCommand = 8 << 10
	// maxBufferedLiteral is go-imap's own bound on a literal it keeps in
	// memory (every literal but APPEND's message).
	maxBufferedLiteral = 4096
	// maxCommand bounds a command after login, its literals included but
	// APPEND's message, below go-imap's own 50 KiB bound (past which its
	// parser loses its place in the stream).
	maxCommand = 48 << 10
	// maxTag bounds a command's tag. RFC 9051 sets none; clients use a
	// few characters ("A0001", "1.2"). It keeps the tag and the name
	// inside head, so the guard knows both for every command go-imap runs.
	maxTag = 64
	// headBytes is how much of a command's first line is kept to find
	// its tag and name: the longest tag, "UID", the longest name
	// (UNAUTHENTICATE) and the start of the arguments.
	headBytes = 96
	// tailBytes is how much of a line's end is kept to find a literal
	// announcement (20 digits are past any int64).
	tailBytes = 32
	// rejectTimeout bounds the writing of a refusal.
	rejectTimeout = 5 * time.Second
)

// errGuardClosed is what a guard's reads return once it has refused the
// client or handed the connection on after STARTTLS.
var errGuardClosed = errors.New("imapd: connection closed by the input guard")

// guard is the connection as go-imap sees it (see above).
type guard struct {
	net.Conn       // the coalescing conn below, or a *tls.Conn over it
	raw      *conn // the connection below TLS
	srv      *Server
	isTLS    bool

	// Read side, touched only by the reading goroutine.
	held       []byte // input read but not yet given to the library
	rerr       error  // a read error to return once held is given out
	startCmd   bool   // the next line begins a command
	line0      bool   // reading a command's first line
	head, tail []byte
	cmdBytes   int64 // bytes of the current command counted towards its bound
	skip       int64 // literal bytes still to pass unread
	litPending bool  // a literal was announced at the end of the line last given out
	litSize    int64
	litNonSync bool
	litDone    bool // the library has been given a literal's last byte
	dropping   bool // the command was answered: its rest is dropped
	dropped    bool // what scan last read is dropped
	contLine   bool // the next line answers a continuation request, it is no command
	tagOK      bool // the tag of the command being read has been checked

	// closed: refused or handed on; the library's reads fail, its writes
	// and deadlines go nowhere.
	closed atomic.Bool

	// Shared with writers.
	mu        sync.Mutex
	tag, name string // of the command last read
	answered  bool   // a tagged reply to it was written
	cont      bool   // a continuation request was written since the last Read
	loggedIn  bool
	user      string // once logged in, for the log
	dropFirst bool   // swallow the library's next write (a greeting after STARTTLS)
}

func newGuard(s *Server, nc net.Conn, raw *conn, isTLS bool) *guard {
	return &guard{Conn: nc, raw: raw, srv: s, isTLS: isTLS, startCmd: true,
		head: make([]byte, 0, headBytes), tail: make([]byte, 0, tailBytes)}
}

// setLoggedIn raises the bounds once the session has logged in as user.
func (g *guard) setLoggedIn(user string) {
	g.mu.Lock()
	g.loggedIn, g.user = true, user
	g.mu.Unlock()
}

// Read gives the library at most one command line, or the literal data
// it asked for, at a time.
func (g *guard) Read(p []byte) (int, error) {
	if g.closed.Load() {
		return 0, errGuardClosed
	}
	g.mu.Lock()
	answered, loggedIn, cont := g.answered, g.loggedIn, g.cont
	g.cont = false
	g.mu.Unlock()
	switch {
	case g.litPending:
		// A continuation request was for the literal (RFC 9051 §7.5).
	case cont && !answered && g.startCmd:
		// go-imap asked for more of the command and reads the next
		// line itself: AUTHENTICATE's response or IDLE's DONE.
		g.contLine = true
	}
	if g.litPending {
		// The library either reads on into the literal or has
		// answered the command without it: then a synchronizing
		// literal is never sent (RFC 9051 §7.5), and a
		// non-synchronizing one's data, still part of the command
		// (RFC 7888 §4), is dropped with the rest of it.
		g.litPending = false
		switch {
		case !answered:
			g.skip = g.litSize
		case g.litNonSync:
			g.skip, g.dropping = g.litSize, true
		default:
			g.endCommand()
		}
	}
	if g.litDone {
		// A command answered right after a literal (a mailbox name
		// that does not decode, say): go-imap does not read the rest
		// of its line and would take it for the next command.
		g.litDone = false
		g.dropping = answered
	}
	for {
		n, err := g.fill(p)
		if n == 0 {
			return n, err
		}
		k, refusal, starttls := g.scan(p[:n], loggedIn)
		switch {
		case refusal.text != "":
			return 0, g.refuse(refusal)
		case starttls:
			return 0, g.startTLS()
		}
		if k < n {
			g.held = append(append(make([]byte, 0, n-k+len(g.held)), p[k:n]...), g.held...)
		}
		if !g.dropped {
			return k, nil
		}
	}
}

// fill reads held input first, then the connection.
func (g *guard) fill(p []byte) (int, error) {
	if len(g.held) > 0 {
		n := copy(p, g.held)
		g.held = g.held[n:]
		if len(g.held) == 0 {
			g.held = nil
		}
		return n, nil
	}
	if g.rerr != nil {
		return 0, g.rerr
	}
	n, err := g.Conn.Read(p)
	if n > 0 && err != nil {
		g.rerr, err = err, nil
	}
	return n, err
}

// refusal is why the guard ends a session: its BAD's response code and
// text (RFC 9051 §7.1.3), and the BYE's text.
type refusal struct{ code, text, bye string }

// tooBig refuses input over a bound.
func tooBig(format string, args ...any) refusal {
	return refusal{"TOOBIG", fmt.Sprintf(format, args...), "Too much input, closing"}
}

// scan reads the start of b: literal data, or up to the end of one line.
// It says how much of b it read, whether that is dropped rather than
// given to the library, why the client is refused, or that the line is
// STARTTLS.
func (g *guard) scan(b []byte, loggedIn bool) (k int, r refusal, starttls bool) {
	g.dropped = g.dropping
	if g.skip > 0 {
		m := int(min(int64(len(b)), g.skip))
		g.skip -= int64(m)
		g.litDone = g.skip == 0 && !g.dropping
		return m, refusal{}, false
	}
	if g.startCmd {
		g.startCmd = false
		if g.contLine {
			// Part of the command go-imap is running, counted
			// towards its bound; it has no tag.
			g.contLine = false
		} else {
			g.line0, g.tagOK = true, false
			g.cmdBytes = 0
			g.head = g.head[:0]
		}
	}
	j := bytes.IndexByte(b, '\n')
	seg := b
	if j >= 0 {
		seg = b[:j+1]
	}
	g.cmdBytes += int64(len(seg))
	if g.line0 && len(g.head) < headBytes {
		g.head = append(g.head, seg[:min(len(seg), headBytes-len(g.head))]...)
	}
	if g.line0 && !g.tagOK {
		bad, pending := tagProblem(g.head)
		if bad.text != "" {
			g.mu.Lock()
			g.tag, g.name = "", "" // the refusal is untagged
			g.mu.Unlock()
			return 0, bad, false
		}
		g.tagOK = !pending
	}
	if len(seg) >= tailBytes {
		g.tail = append(g.tail[:0], seg[len(seg)-tailBytes:]...)
	} else {
		drop := max(0, len(g.tail)+len(seg)-tailBytes)
		g.tail = append(g.tail[:copy(g.tail, g.tail[drop:])], seg...)
	}
	limit := int64(maxCommand)
	if !loggedIn {
		limit = maxLoginCommand
	}
	if g.cmdBytes > limit {
		if g.line0 {
			g.noteCommand()
		}
		return 0, tooBig("Command over %d bytes", limit), false
	}
	if j < 0 {
		return len(b), refusal{}, false
	}
	k = j + 1
	first := g.line0
	if first {
		g.noteCommand()
		if g.isStartTLS(loggedIn) {
			return 0, refusal{}, true
		}
	}
	size, nonSync, ok := literalAt(g.tail)
	g.tail = g.tail[:0]
	g.line0 = false
	if !ok || (g.dropping && !nonSync) {
		g.endCommand()
		return k, refusal{}, false
	}
	g.mu.Lock()
	name := g.name
	g.mu.Unlock()
	// APPEND's message is any literal but one that is the whole
	// mailbox argument on the first line ("tag APPEND {n}").
	msg := name == "APPEND" && !(first && bytes.HasPrefix(afterName(g.head), []byte("{")))
	switch {
	case size < 0:
		return 0, tooBig("Literal size is not a number"), false
	case !loggedIn:
		if g.cmdBytes+size > maxLoginCommand {
			return 0, tooBig("Literal over %d bytes before login", maxLoginCommand), false
		}
		g.cmdBytes += size
	case msg:
		// go-imap answers a synchronizing literal over the APPEND
		// limit with NO [TOOBIG] itself (RFC 7889).
		if size > g.srv.appendLimit() && nonSync {
			return 0, tooBig("Message over %d bytes", g.srv.appendLimit()), false
		}
	default:
		if size > maxBufferedLiteral || g.cmdBytes+size > maxCommand {
			return 0, tooBig("Literal over %d bytes for this command", maxBufferedLiteral), false
		}
		g.cmdBytes += size
	}
	if g.dropping {
		g.skip = size // the rest of an answered command
	} else {
		g.litPending, g.litSize, g.litNonSync = true, size, nonSync
	}
	return k, refusal{}, false
}

// tagProblem checks the tag at the start of a command's first line, so
// far as head holds it: why it is refused, or whether it may go on past
// head (pending); neither if it is a tag.
func tagProblem(head []byte) (bad refusal, pending bool) {
	const bye = "Invalid command line, closing"
	end := bytes.IndexAny(head, " \r\n")
	switch {
	case end < 0 && len(head) <= maxTag:
		return refusal{}, true
	case end < 0 || end > maxTag:
		return refusal{"TOOBIG", fmt.Sprintf("Tag over %d bytes", maxTag), bye}, false
	case end == 0:
		return refusal{"CLIENTBUG", "Command without a tag", bye}, false
	}
	for _, c := range head[:end] {
		if !isTagChar(c) {
			return refusal{"CLIENTBUG", "Invalid character in the tag (RFC 9051 section 9)", bye}, false
		}
	}
	return refusal{}, false
}

// isTagChar reports whether c may be part of a tag (RFC 9051 §9: any
// ASTRING-CHAR except "+"; CHAR but CTL, SP, "(", ")", "{", "%", "*",
// DQUOTE and "\\"). go-imap reads a subset as the tag (no "]") and ends
// the session on the rest, so what passes here is the tag it answers with.
func isTagChar(c byte) bool {
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', '+':
		return false
	}
	return c > ' ' && c < 0x7f
}

// trimLineEnd strips the end of a line as go-imap reads it: LF, a CR
// before it, and one space before that.
func trimLineEnd(l []byte) []byte {
	l = bytes.TrimSuffix(l, []byte("\n"))
	l = bytes.TrimSuffix(l, []byte("\r"))
	return bytes.TrimSuffix(l, []byte(" "))
}

// literalAt returns the size of the literal announced at the end of a
// line (RFC 9051 §4.3; go-imap also takes a space before CRLF and a bare
// LF), and whether it is non-synchronizing ("{n+}", RFC 7888): size -1 for
// digits that overflow, ok false if there is none.
func literalAt(line []byte) (size int64, nonSync, ok bool) {
	l, found := bytes.CutSuffix(trimLineEnd(line), []byte("}"))
	if !found {
		return 0, false, false
	}
	l, nonSync = bytes.CutSuffix(l, []byte("+"))
	open := bytes.LastIndexByte(l, '{')
	if open < 0 {
		// Digits beyond the kept tail: far too big.
		if len(l) > 0 && len(bytes.Trim(l, "0123456789")) == 0 {
			return -1, nonSync, true
		}
		return 0, false, false
	}
	digits := l[open+1:]
	if len(digits) == 0 || len(bytes.Trim(digits, "0123456789")) != 0 {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return -1, nonSync, true
	}
	return n, nonSync, true
}

// noteCommand records the tag and name of the command whose first line
// is in head (the name after UID for UID commands).
func (g *guard) noteCommand() {
	tag, rest, _ := bytes.Cut(trimLineEnd(g.head), []byte(" "))
	name, rest, _ := bytes.Cut(rest, []byte(" "))
	name = bytes.ToUpper(name)
	if string(name) == "UID" {
		name, _, _ = bytes.Cut(rest, []byte(" "))
		name = bytes.ToUpper(name)
	}
	g.mu.Lock()
	g.tag, g.name, g.answered = string(tag), string(name), false
	if !g.tagOK {
		g.tag = "" // a command over its bound before its tag ended
	}
	g.mu.Unlock()
}

// afterName returns what follows a command's name on its first line.
func afterName(head []byte) []byte {
	_, rest, _ := bytes.Cut(head, []byte(" "))
	_, rest, _ = bytes.Cut(rest, []byte(" "))
	return rest
}

func (g *guard) endCommand() {
	g.startCmd, g.line0, g.dropping = true, false, false
}

// isStartTLS reports whether the line just read is a STARTTLS the guard
// performs: "tag STARTTLS" as go-imap reads it (a space before CRLF and a
// bare LF allowed), before login, in cleartext, with TLS configured.
func (g *guard) isStartTLS(loggedIn bool) bool {
	if g.isTLS || loggedIn || g.srv.cfg.TLS == nil || g.srv.cfg.ImplicitTLS {
		return false
	}
	_, rest, ok := bytes.Cut(trimLineEnd(g.head), []byte(" "))
	return ok && bytes.EqualFold(rest, []byte("STARTTLS"))
}

// refuse answers BAD and BYE to the command being read and closes. The
// library has answered every command before it.
func (g *guard) refuse(r refusal) error {
	g.mu.Lock()
	tag := g.tag
	g.closed.Store(true)
	g.mu.Unlock()
	if tag == "" {
		tag = "*" // RFC 9051 §7.1.3: the command cannot be determined
	}
	g.Conn.SetWriteDeadline(time.Now().Add(rejectTimeout))
	fmt.Fprintf(g.Conn, "%s BAD [%s] %s\r\n* BYE %s\r\n", tag, r.code, r.text, r.bye)
	g.Conn.Close()
	g.srv.deps.Log.Info("client input refused", "proto", "imap", "client", g.RemoteAddr().String(), "reason", r.text)
	return errGuardClosed
}

// startTLS performs STARTTLS (RFC 9051 §6.2.1): OK, then this guard and
// its library session end (nothing the client sent after STARTTLS in
// cleartext is kept), and a new guard over TLS goes to the server
// instance for TLS sessions.
func (g *guard) startTLS() error {
	g.mu.Lock()
	tag := g.tag
	g.closed.Store(true)
	g.mu.Unlock()
	g.held, g.rerr = nil, nil
	// Sent with the library's pending output when the handshake reads.
	if _, err := fmt.Fprintf(g.raw, "%s OK Begin TLS negotiation now\r\n", tag); err != nil {
		g.raw.Close()
		return errGuardClosed
	}
	ng := newGuard(g.srv, tls.Server(g.raw, g.srv.cfg.TLS), g.raw, true)
	ng.dropFirst = true
	go g.srv.handOver(ng)
	return errGuardClosed
}

// Write passes the library's output on, noting tagged replies to the
// command last read and continuation requests, and rewriting its NO
// [SERVERBUG]. go-imap writes each response line with one Write (it
// flushes at every CRLF), so a reply starts a Write.
func (g *guard) Write(p []byte) (int, error) {
	if g.closed.Load() {
		return 0, net.ErrClosed
	}
	g.mu.Lock()
	if g.dropFirst {
		g.dropFirst = false
		g.mu.Unlock()
		return len(p), nil
	}
	out := p
	var rewritten, ownTLS bool
	tag, name, user := g.tag, g.name, g.user
	switch {
	case tag != "" && len(p) > len(tag) && string(p[:len(tag)]) == tag && p[len(tag)] == ' ':
		// A tagged reply to the command being run.
		pending := !g.answered
		g.answered = true
		switch rest := p[len(tag):]; {
		case bytes.Equal(rest, serverBug):
			out, rewritten = clientBugReply(tag, name), true
		case pending && name == "STARTTLS" && bytes.Equal(rest, tlsBegun):
			ownTLS = true
		}
	case bytes.HasPrefix(p, []byte("+ ")):
		g.cont = true // RFC 9051 §7.5
	}
	if ownTLS {
		g.closed.Store(true)
	}
	g.mu.Unlock()
	if ownTLS {
		// go-imap is about to begin TLS on a STARTTLS the guard did
		// not perform: the guard could not read the session, so it
		// ends it instead.
		g.srv.deps.Log.Warn("STARTTLS begun by go-imap, not the input guard: closing", g.logAttrs(user, name)...)
		g.Conn.Close()
		return 0, errGuardClosed
	}
	if rewritten {
		// Nearly always a client's bad input (see clientBugReply); if
		// not, go-imap's log line "handling ... command" says why.
		g.srv.deps.Log.Warn("go-imap answered NO [SERVERBUG], sent BAD [CLIENTBUG] instead", g.logAttrs(user, name)...)
	}
	if _, err := g.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// logAttrs are the connection's attributes for the log.
func (g *guard) logAttrs(user, command string) []any {
	attrs := []any{slog.String("proto", "imap"), slog.String("client", g.RemoteAddr().String())}
	if user != "" {
		attrs = append(attrs, slog.String("user", user))
	}
	return append(attrs, slog.String("command", command))
}

// Close closes the connection, unless the guard has already closed it or
// handed it on.
func (g *guard) Close() error {
	if g.closed.Load() {
		return nil
	}
	return g.Conn.Close()
}

// SetDeadline and the two below leave a connection handed on alone.
func (g *guard) SetDeadline(t time.Time) error {
	if g.closed.Load() {
		return nil
	}
	return g.Conn.SetDeadline(t)
}

func (g *guard) SetReadDeadline(t time.Time) error {
	if g.closed.Load() {
		return nil
	}
	return g.Conn.SetReadDeadline(t)
}

func (g *guard) SetWriteDeadline(t time.Time) error {
	if g.closed.Load() {
		return nil
	}
	return g.Conn.SetWriteDeadline(t)
}

// tlsBegun is go-imap's reply to a STARTTLS it performs itself, after the
// tag.
var tlsBegun = []byte(" OK Begin TLS negotiation now\r\n")

// serverBug is go-imap's reply to an error it has no reply for, after the
// tag.
var serverBug = []byte(" NO [SERVERBUG] Internal server error\r\n")

// mailboxCommands are the commands whose arguments go-imap decodes as
// mailbox names (RFC 9051 §5.1: UTF-8 or modified UTF-7, §5.1.3).
var mailboxCommands = map[string]bool{
	"CREATE": true, "DELETE": true, "RENAME": true, "SUBSCRIBE": true, "UNSUBSCRIBE": true,
	"SELECT": true, "EXAMINE": true, "STATUS": true, "LIST": true, "LSUB": true,
	"APPEND": true, "COPY": true, "MOVE": true,
}

// clientBugReply is the reply to client input go-imap's decoder rejected
// with an error it answers NO [SERVERBUG]: a mailbox name that is neither
// UTF-8 nor modified UTF-7 or holds a control character, a sequence set
// or date that does not parse, a line over the library's bound.
func clientBugReply(tag, name string) []byte {
	text := "Syntax error in the arguments"
	if mailboxCommands[name] {
		text = "Invalid mailbox name: UTF-8 or modified UTF-7 without control characters (RFC 9051 section 5.1.3)"
	}
	return fmt.Appendf(nil, "%s BAD [CLIENTBUG] %s\r\n", tag, text)
}
