package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotMbox is returned by Reader.Next when the input does not begin with
// a "From " separator line.
var ErrNotMbox = errors.New(`mbox: file does not start with a "From " line`)

// TooLargeError is returned by Reader.Next for a message longer than
// Reader.MaxMessageBytes. The message is skipped: calling Next again
// continues with the message after it.
type TooLargeError struct {
	Number int   // position of the message in the file, from 1
	Limit  int64 // the MaxMessageBytes in force
}

// Error implements error.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("mbox: message %d is larger than %d bytes", e.Number, e.Limit)
}

// Reader reads messages from an mbox file in the mboxrd variant. It accepts
// lines ending in LF or CRLF.
type Reader struct {
	// MaxMessageBytes bounds the size of a message's Body; a longer
	// message makes Next return a *TooLargeError. Zero means no limit.
	MaxMessageBytes int64

	br      *bufio.Reader
	started bool      // the first separator line has been read
	from    string    // sender on the separator of the next message
	date    time.Time // date on the separator of the next message
	num     int       // messages begun so far
	err     error     // sticky: io.EOF after the last message, or a read error
}

// NewReader returns a Reader that reads an mbox file from r.
func NewReader(r io.Reader) *Reader {
	return newReaderSize(r, bufSize)
}

// newReaderSize is NewReader with a buffer of the given size, so that tests
// can reach the code for lines longer than the buffer with small inputs.
func newReaderSize(r io.Reader, size int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, size)}
}

// Next returns the next message, or io.EOF after the last one. Empty input
// holds no messages; other input must begin with a "From " separator line,
// or Next returns ErrNotMbox.
//
// Body is the text between this separator and the next, or the end of the
// input, with one '>' removed from lines matching `^>+From ` (mboxrd), line
// endings converted to CRLF, and the empty line that ends each message in
// the file removed; a message that is not followed by one, such as the last
// one in a file missing its final empty line, keeps all its lines. A last
// line without a newline gets CRLF. Every '\r' just before a newline is
// taken as part of the line ending, so "a\r\r\n" becomes "a\r\n".
//
// A message larger than MaxMessageBytes gives a *TooLargeError, after which
// Next may be called again; other errors are final.
func (r *Reader) Next() (*Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		if err := r.readFirstSeparator(); err != nil {
			r.err = err
			return nil, err
		}
		r.started = true
	}

	r.num++
	msg := &Message{From: r.from, Date: r.date}
	b := body{buf: []byte{}, max: r.MaxMessageBytes}
	for {
		quotes, from, err := r.lineStart()
		if err == io.EOF {
			r.err = io.EOF // after this message
			break
		}
		if err != nil {
			return nil, r.fail(err)
		}
		if quotes == 0 && from {
			if err := r.readSeparator(); err != nil {
				return nil, r.fail(err)
			}
			break
		}
		if quotes > 0 && from {
			quotes-- // mboxrd: undo one level of quoting
		}
		if err := r.readLine(&b, quotes); err != nil {
			return nil, r.fail(err)
		}
	}
	// b.blank, the empty line before the separator or the end, is dropped.
	if b.tooLarge {
		return nil, &TooLargeError{Number: r.num, Limit: r.MaxMessageBytes}
	}
	msg.Body = b.buf
	return msg, nil
}

// fail records a read error as final and returns it, naming the message.
func (r *Reader) fail(err error) error {
	r.err = fmt.Errorf("mbox: reading message %d: %w", r.num, err)
	return r.err
}

// readFirstSeparator checks that the input starts with a separator line and
// reads it. It returns io.EOF for empty input.
func (r *Reader) readFirstSeparator() error {
	quotes, from, err := r.lineStart()
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	if quotes > 0 || !from {
		return ErrNotMbox
	}
	if err := r.readSeparator(); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	return nil
}

// lineStart consumes the '>' characters that begin a line (counting them,
// since the run may exceed any buffer) and reports whether "From " follows
// them. It returns io.EOF only at the end of the input with nothing read.
func (r *Reader) lineStart() (quotes int, from bool, err error) {
	for {
		c, err := r.br.ReadByte()
		if err == io.EOF && quotes > 0 {
			return quotes, false, nil // a last line of only '>'
		}
		if err != nil {
			return 0, false, err
		}
		if c != '>' {
			_ = r.br.UnreadByte() // cannot fail right after ReadByte
			break
		}
		quotes++
	}
	p, err := r.br.Peek(len(separatorPrefix))
	if err != nil && err != io.EOF {
		return 0, false, err
	}
	return quotes, string(p) == separatorPrefix, nil
}

// readSeparator reads the rest of a separator line, whose "From " has been
// seen by lineStart, and records the sender and date it names.
func (r *Reader) readSeparator() error {
	if _, err := r.br.Discard(len(separatorPrefix)); err != nil {
		return err
	}
	var line []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		if room := maxSeparatorBytes - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		break
	}
	r.from, r.date = parseSeparator(line)
	return nil
}

// body accumulates a message's Body, holding back an empty line until the
// next line shows that it is not the one ending the message.
type body struct {
	buf      []byte
	max      int64 // 0 for no limit
	blank    bool  // an empty line was read and not yet added
	tooLarge bool  // buf went past max; it is now discarded
}

// add appends p to the body unless that would exceed the limit.
func (b *body) add(p ...byte) {
	if b.tooLarge {
		return
	}
	if b.max > 0 && int64(len(b.buf))+int64(len(p)) > b.max {
		b.tooLarge = true
		b.buf = nil
		return
	}
	b.buf = append(b.buf, p...)
}

// addRun appends n copies of c.
func (b *body) addRun(c byte, n int) {
	for ; n > 0; n-- {
		b.add(c)
	}
}

// readLine reads the rest of a line, after the '>' counted by lineStart,
// and adds it to b with quotes '>' in front and CRLF at the end.
func (r *Reader) readLine(b *body, quotes int) error {
	started := false // whether anything of this line was added
	begin := func() {
		if !started {
			started = true
			if b.blank {
				b.blank = false
				b.add('\r', '\n')
			}
			b.addRun('>', quotes)
		}
	}
	if quotes > 0 {
		begin()
	}
	// A run of '\r' is held back as a count until we know whether the
	// line ends right after it; trailing '\r' all belong to the line ending.
	crs := 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		complete := err == nil
		if complete {
			chunk = chunk[:len(chunk)-1]
		}
		text := bytes.TrimRight(chunk, "\r")
		if len(text) > 0 {
			begin()
			b.addRun('\r', crs)
			crs = 0
			b.add(text...)
		}
		crs += len(chunk) - len(text)
		switch {
		case complete, err == io.EOF:
			if !started && (complete || crs > 0) {
				// An empty line: it ends the message if a separator or the
				// end of the input comes next.
				if b.blank {
					b.add('\r', '\n')
				}
				b.blank = true
				return nil
			}
			if started {
				b.add('\r', '\n')
			}
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return err
		}
	}
}
