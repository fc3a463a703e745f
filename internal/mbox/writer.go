package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Writer writes messages to an mbox file in the mboxrd variant. It buffers
// its output: call Flush after the last message.
type Writer struct {
	bw *bufio.Writer
	br *bufio.Reader // reused to read each message line by line
}

// NewWriter returns a Writer that writes an mbox file to w.
func NewWriter(w io.Writer) *Writer {
	return newWriterSize(w, bufSize)
}

// newWriterSize is NewWriter with buffers of the given size, so that tests
// can reach the code for lines longer than a buffer with small inputs.
func newWriterSize(w io.Writer, size int) *Writer {
	return &Writer{
		bw: bufio.NewWriterSize(w, size),
		br: bufio.NewReaderSize(nil, size),
	}
}

// WriteMessage appends one message, read from r, to the mbox file.
//
// It writes the separator line "From <from> <date>" with date in UTC in
// asctime format (RFC 4155 Appendix A); an empty from, the null sender, is
// written as MAILER-DAEMON, and spaces and control characters in from become
// '_'. Then it copies the message converting CRLF line endings to LF and
// quoting lines that match `^>*From ` with one more '>' (mboxrd), adds a
// final newline if the message lacks one, and ends with one empty line.
//
// The message is streamed: memory use does not depend on its size or on the
// length of its lines. If reading r fails, the message written so far is
// still terminated so that the file stays readable, and the error is
// returned.
func (w *Writer) WriteMessage(from string, date time.Time, r io.Reader) error {
	sep := separatorPrefix + separatorSender(from) + " " + date.UTC().Format(dateLayout) + "\n"
	if _, err := w.bw.WriteString(sep); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	w.br.Reset(r)
	defer w.br.Reset(nil) // do not keep the caller's reader alive

	midLine, rerr := w.copyBody()
	// End the last line if need be, then the empty line ending the message.
	end := "\n"
	if midLine {
		end = "\n\n"
	}
	if _, err := w.bw.WriteString(end); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	return rerr
}

// copyBody copies the message from w.br to w.bw line by line. midLine
// reports whether the output ends inside a line, that is without '\n'.
// Write errors and read errors other than io.EOF are returned.
func (w *Writer) copyBody() (midLine bool, err error) {
	for {
		midLine, err = w.copyLine()
		if err == io.EOF {
			return midLine, nil
		}
		if err != nil {
			return midLine, err
		}
	}
}

// copyLine copies one line, or what is left of the message if it ends
// without a newline, in which case it returns io.EOF.
func (w *Writer) copyLine() (midLine bool, err error) {
	// mboxrd: count the leading '>' (without buffering them: the run may be
	// longer than any buffer), then quote if "From " follows.
	quotes := 0
	for {
		b, err := w.br.ReadByte()
		if err != nil {
			if werr := w.writeQuotes(quotes); werr != nil {
				return false, werr
			}
			return quotes > 0, readErr(err)
		}
		if b != '>' {
			_ = w.br.UnreadByte() // cannot fail right after ReadByte
			break
		}
		quotes++
	}
	if p, _ := w.br.Peek(len(separatorPrefix)); string(p) == separatorPrefix {
		quotes++
	}
	if err := w.writeQuotes(quotes); err != nil {
		return false, err
	}
	midLine = quotes > 0

	// The rest of the line, in pieces of at most the buffer size. A run of '\r' is
	// held back as a count until we know whether the line ends right after
	// it, so that a CRLF split across pieces is still recognised.
	crs := 0
	for {
		chunk, err := w.br.ReadSlice('\n')
		complete := err == nil
		if complete {
			chunk = chunk[:len(chunk)-1]
		}
		text := bytes.TrimRight(chunk, "\r")
		if len(text) > 0 {
			if err := w.writeCRs(crs); err != nil {
				return false, err
			}
			crs = 0
			if _, err := w.bw.Write(text); err != nil {
				return false, fmt.Errorf("mbox: %w", err)
			}
			midLine = true
		}
		crs += len(chunk) - len(text)
		switch {
		case complete:
			// CRLF becomes LF: drop the one '\r' before the '\n'.
			if err := w.writeCRs(crs - 1); err != nil {
				return false, err
			}
			if err := w.bw.WriteByte('\n'); err != nil {
				return false, fmt.Errorf("mbox: %w", err)
			}
			return false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			// End of input (or a read error) inside the line: keep every
			// '\r'; WriteMessage adds the missing newline.
			if err := w.writeCRs(crs); err != nil {
				return false, err
			}
			return midLine || crs > 0, readErr(err)
		}
	}
}

// writeQuotes writes n '>' characters.
func (w *Writer) writeQuotes(n int) error {
	return w.writeRun('>', n)
}

// writeCRs writes n '\r' characters; n may be negative, meaning none.
func (w *Writer) writeCRs(n int) error {
	return w.writeRun('\r', n)
}

func (w *Writer) writeRun(c byte, n int) error {
	for ; n > 0; n-- {
		if err := w.bw.WriteByte(c); err != nil {
			return fmt.Errorf("mbox: %w", err)
		}
	}
	return nil
}

// readErr wraps an error from reading the message; io.EOF passes unchanged.
func readErr(err error) error {
	if err == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("mbox: reading message: %w", err)
}

// Flush writes any buffered data to the underlying io.Writer.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	return nil
}
