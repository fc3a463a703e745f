package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits bounds what one command may make the Reader hold. A zero field
// takes its default.
type Limits struct {
	MaxLine    int   // bytes of one line of a command, between literals
	MaxCommand int64 // line bytes plus in-memory literal bytes of one command
	MaxLiteral int64 // one literal read into memory (an argument)
	MaxMessage int64 // one APPEND message or CATENATE TEXT literal (to the Sink)
	MaxDepth   int   // nesting of parentheses (search keys, lists)
	MaxItems   int   // elements of one list, keys of one search
	MaxDiscard int64 // literal bytes skipped to resynchronize after an error
}

// Buffers over these sizes are not kept between commands, so that an
// idle connection holds little.
const (
	keepLine    = 4096
	keepLiteral = 4096
	// keepIdle: the line buffer kept while the connection waits, enough
	// for the command lines of most sessions.
	keepIdle = 256
)

// Default bounds. They are generous for real clients and small for a
// connection: a command without APPEND holds at most defaultMaxCommand.
const (
	// RFC 9051 §4: no line length limit, but RFC 7162 §4 asks servers to
	// take command lines of at least 8192 octets; a UID set of a large
	// mailbox (QRESYNC known-uids, UID FETCH lists) needs more.
	defaultMaxLine    = 64 * 1024
	defaultMaxCommand = 256 * 1024
	// An argument literal (a password, a search string, a mailbox name).
	defaultMaxLiteral = 64 * 1024
	// A message; the server sets its own (limits.max_message_bytes).
	defaultMaxMessage = 64 * 1024 * 1024
	// Nested search keys and BODYSTRUCTURE-like lists of real clients stay
	// far under this; it bounds the parser's recursion.
	defaultMaxDepth = 32
	// Flags, fetch items, search keys, ID pairs of one command.
	defaultMaxItems = 1024
	// Skipping a refused non-synchronizing literal costs reading it; past
	// this the connection is closed instead (RFC 7888 §4 allows either).
	defaultMaxDiscard = 1024 * 1024
	// RFC 7888 §5: under LITERAL- a non-synchronizing literal is at most
	// 4096 octets.
	literalMinusMax = 4096
	// RFC 9051 §9 leaves the tag unbounded; no client needs more.
	maxTag = 256
)

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = defaultMaxLine
	}
	if l.MaxCommand <= 0 {
		l.MaxCommand = defaultMaxCommand
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = defaultMaxLiteral
	}
	if l.MaxMessage <= 0 {
		l.MaxMessage = defaultMaxMessage
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = defaultMaxItems
	}
	if l.MaxDiscard <= 0 {
		l.MaxDiscard = defaultMaxDiscard
	}
	return l
}

// LiteralInfo describes a literal the Reader is about to read.
type LiteralInfo struct {
	Tag     string // the command's tag
	Command string // the command's name ("APPEND", "LOGIN", ...)
	Size    int64  // the announced size in octets
	Sync    bool   // synchronizing: the client waits for "+" (RFC 9051 §7.5)
	Binary  bool   // literal8, "~{N}" (RFC 3516 §4.1)
	Message bool   // an APPEND message or CATENATE TEXT part: goes to the Sink
}

// Options configure a Reader.
type Options struct {
	Limits Limits
	// LiteralPlus: the server advertises LITERAL+ (non-synchronizing
	// literals of any size up to the bounds); otherwise LITERAL- applies.
	LiteralPlus bool
	// UTF8: mailbox names are UTF-8 (IMAP4rev2, or UTF8=ACCEPT enabled,
	// RFC 9051 §5.1, RFC 6855 §3); otherwise modified UTF-7.
	UTF8 bool
	// Continue is called before the bytes of every literal are read,
	// after the Reader's own bounds passed. For a synchronizing literal
	// it must send the continuation request ("+ ...") and flush it before
	// it returns nil. An error refuses the literal: ReadCommand returns
	// an *Error of class ErrRefused wrapping it. Nil: accept all, which
	// only suits tests (no "+" is sent).
	Continue func(LiteralInfo) error
	// Sink gives the writer a message literal is copied to. Nil: a
	// bytes.Buffer. An error refuses the literal like Continue's. When
	// ReadCommand fails after Sink was called (a later message of a
	// MULTIAPPEND is malformed), the writers it handed out are the
	// caller's to discard.
	Sink func(LiteralInfo) (io.Writer, error)
}

// Reader reads IMAP commands from a client. It is not safe for
// concurrent use.
type Reader struct {
	br  *bufio.Reader
	opt Options
	lim Limits

	line    []byte // the current segment, without its CRLF
	pos     int    // next byte of line to parse
	segDone bool   // line's trailing literal (if any) has been consumed
	lit     []byte // the last argument literal's bytes (reused)
	total   int64  // bytes of the current command held so far
	tag     string
	name    string
	depth   int
	track   trackReader // the source of the message literal being copied
}

// NewReader returns a Reader over br.
func NewReader(br *bufio.Reader, opt Options) *Reader {
	return &Reader{br: br, opt: opt, lim: opt.Limits.withDefaults()}
}

// SetUTF8 switches mailbox names to UTF-8 (after ENABLE UTF8=ACCEPT or
// IMAP4rev2) or back to modified UTF-7.
func (r *Reader) SetUTF8(on bool) { r.opt.UTF8 = on }

// SetSource makes the Reader read from br from now on, between commands
// (a connection that gives its buffer back while idle takes one again, or
// switches to TLS after STARTTLS). Input buffered in the old source is
// not carried over. With nil the Reader also drops its line and literal
// buffers but a small one, so that an idle connection holds little.
func (r *Reader) SetSource(br *bufio.Reader) {
	r.br = br
	if br == nil {
		if cap(r.line) > keepIdle {
			r.line = nil
		}
		r.lit = nil
	}
}

// Buffered reports whether input is waiting in the source's buffer.
func (r *Reader) Buffered() bool { return r.br != nil && r.br.Buffered() > 0 }

// SetLimits replaces the bounds (after login, say).
func (r *Reader) SetLimits(l Limits) { r.lim = l.withDefaults() }

// ioErr wraps an error of the underlying reader.
func ioErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("imapwire: reading: %w", err)
}

// readSegment reads the next line segment into r.line. A segment over
// MaxLine is read to its end and discarded; r.line then holds its tail,
// so that resync sees a literal it announces.
func (r *Reader) readSegment() error {
	r.line = r.line[:0]
	r.pos = 0
	r.segDone = false
	tooLong := false
	var dropped int64 // bytes of a line over MaxLine read past
	for {
		chunk, err := r.br.ReadSlice('\n')
		if tooLong {
			// A line is skipped to its end, as a refused literal is, up
			// to MaxDiscard; past that the connection is given up. That
			// bounds the work a compressed line (a deflate bomb) costs
			// like the memory.
			if dropped += int64(len(chunk)); dropped > r.lim.MaxDiscard {
				e := tooBigErr("line over %d bytes not skipped", r.lim.MaxLine+int(r.lim.MaxDiscard))
				e.Fatal = true
				return e
			}
		}
		if !tooLong && len(r.line)+len(chunk) > r.lim.MaxLine+2 {
			tooLong = true
			if r.total == 0 {
				// The command's first line: keep its tag for the reply.
				r.tagOfLongLine(append(r.line, chunk...))
			}
		}
		if tooLong {
			// Keep only a tail long enough for "~{number64+}".
			r.line = append(r.line, chunk...)
			if n := len(r.line); n > 32 {
				copy(r.line, r.line[n-32:])
				r.line = r.line[:32]
			}
		} else {
			r.line = append(r.line, chunk...)
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(r.line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return ioErr(err)
	}
	r.line = trimCRLF(r.line)
	if tooLong {
		return tooBigErr("line over %d bytes", r.lim.MaxLine)
	}
	r.total += int64(len(r.line)) + 2
	if r.total > r.lim.MaxCommand {
		return tooBigErr("command over %d bytes", r.lim.MaxCommand)
	}
	return nil
}

// tagOfLongLine sets r.tag from the start of a line about to be dropped.
func (r *Reader) tagOfLongLine(b []byte) {
	i := 0
	for i < len(b) && i <= maxTag && isTagChar(b[i]) {
		i++
	}
	if i > 0 && i <= maxTag && i < len(b) && b[i] == ' ' {
		r.tag = string(b[:i])
	}
}

// trimCRLF drops the LF and a CR before it. RFC 9051 §2.2 asks for CRLF;
// a bare LF is taken too, as other servers do.
func trimCRLF(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// trailingLiteral finds a literal announcement that ends a segment: RFC
// 9051 §9 literal = "{" number64 ["+"] "}" CRLF, literal8 with "~".
func trailingLiteral(b []byte) (size int64, nonSync, ok bool) {
	if len(b) < 3 || b[len(b)-1] != '}' {
		return 0, false, false
	}
	b = b[:len(b)-1]
	if b[len(b)-1] == '+' {
		nonSync = true
		b = b[:len(b)-1]
	}
	i := len(b)
	for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
		i--
	}
	if i == len(b) || i == 0 || b[i-1] != '{' || len(b)-i > 19 {
		return 0, false, false
	}
	var n int64
	for _, c := range b[i:] {
		n = n*10 + int64(c-'0')
		if n < 0 {
			return 0, false, false
		}
	}
	return n, nonSync, true
}

// discard skips n literal bytes.
func (r *Reader) discard(n int64) error {
	for n > 0 {
		k := n
		if k > 1<<30 {
			k = 1 << 30
		}
		d, err := r.br.Discard(int(k))
		n -= int64(d)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return ioErr(err)
		}
	}
	return nil
}

// resync consumes the rest of a failed command (see the package doc).
// It returns a non-nil error when the stream is lost.
func (r *Reader) resync() error {
	for {
		if r.segDone {
			if err := r.readSegment(); err != nil {
				var e *Error
				if errors.As(err, &e) && e.Class == ErrTooBig {
					// The segment is gone already; its tail is in r.line.
					r.segDone = false
				} else {
					return err
				}
			}
		}
		size, nonSync, ok := trailingLiteral(r.line)
		if !ok || !nonSync {
			// The line ended, or the client waits for a "+" it won't get.
			r.segDone = true
			return nil
		}
		if size > r.lim.MaxDiscard {
			return tooBigErr("literal of %d bytes not skipped", size)
		}
		if err := r.discard(size); err != nil {
			return err
		}
		r.segDone = true
	}
}
