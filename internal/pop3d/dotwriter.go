package pop3d

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// dotWriter writes the body of a multi-line response (RFC 1939 §3): a line
// that starts with "." gets another "." in front (byte-stuffing), a bare LF
// goes out as CRLF, and Close ends the body with CRLF if the message did
// not, then the terminating ".". It streams: nothing is held beyond the
// bufio.Writer below it.
//
// Write passes its input on in as few pieces as it can: it looks at each
// LF only to see whether a CR must go before it or a "." after it, and
// copies the octets between such places in one call. A stored message has
// CRLF line endings and few lines that start with ".", so most messages go
// out in one piece.
type dotWriter struct {
	w   *bufio.Writer
	bol bool // the next octet starts a line
	cr  bool // the last octet written was CR
}

func newDotWriter(w *bufio.Writer) dotWriter { return dotWriter{w: w, bol: true} }

func (d *dotWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if d.bol && p[0] == '.' {
		d.w.WriteByte('.')
	}
	from := 0 // p[from:] is not written yet
	for i := 0; ; i++ {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if i > 0 && p[i-1] != '\r' || i == 0 && !d.cr {
			// A bare LF: write up to it, then CRLF for it.
			d.w.Write(p[from:i])
			d.w.WriteString("\r\n")
			from = i + 1
		}
		if i+1 < len(p) && p[i+1] == '.' {
			// RFC 1939 §3: a line beginning with "." is stuffed. A
			// line starting in the next Write is stuffed there.
			d.w.Write(p[from : i+1])
			d.w.WriteByte('.')
			from = i + 1
		}
	}
	d.w.Write(p[from:])
	last := p[len(p)-1]
	d.bol, d.cr = last == '\n', last == '\r'
	// bufio.Writer's errors are sticky: the last call reports any.
	if _, err := d.w.Write(nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the response.
func (d *dotWriter) Close() error {
	if !d.bol {
		if !d.cr {
			d.w.WriteByte('\r')
		}
		d.w.WriteByte('\n')
	}
	_, err := d.w.WriteString(".\r\n")
	d.bol, d.cr = true, false
	return err
}

// copyTop copies a message's header, the empty line after it and at most
// bodyLines lines of its body (RFC 1939 §7 TOP). A message with fewer
// lines is copied whole.
func copyTop(dst io.Writer, src io.Reader, bodyLines int) error {
	br := bufio.NewReaderSize(src, 32<<10)
	inHeader, bol, n := true, true, 0
	for {
		if !inHeader && bol && n >= bodyLines {
			return nil
		}
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			endsLine := chunk[len(chunk)-1] == '\n'
			blank := bol && endsLine && (len(chunk) == 1 || len(chunk) == 2 && chunk[0] == '\r')
			if _, werr := dst.Write(chunk); werr != nil {
				return werr
			}
			switch {
			case inHeader && blank:
				inHeader = false
			case !inHeader && endsLine:
				n++
			}
			bol = endsLine
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}
