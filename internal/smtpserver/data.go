package smtpserver

import (
	"bufio"
	"bytes"
	"io"
)

// dotReader reads DATA content (RFC 5321 §4.1.1.4) up to the end of data,
// CRLF "." CRLF, removing dot-stuffing (§4.5.2: a line's leading period is
// dropped when more characters follow it). Only a period right after CRLF
// starts a line; a bare LF or CR is passed on as content, for the session
// to judge. It returns what the connection has buffered rather than wait
// to fill p, so that a client is answered as soon as its data ends, and it
// works on the buffered bytes in bulk: one IndexByte per line.
type dotReader struct {
	br    *bufio.Reader
	state dotState
	limit int64 // content bytes still allowed; < 0: none
	n     int64 // content bytes returned
	err   error // sticky: io.EOF at the end of data, or the read error
}

type dotState uint8

const (
	dotBegin dotState = iota // at the start of a line (after CRLF); the initial state
	dotMid                   // inside a line
	dotCR                    // inside a line, after a CR
	dotDot                   // after a period that starts a line
	dotDotCR                 // after "." CR at the start of a line
)

func newDotReader(br *bufio.Reader, limit int64) *dotReader {
	return &dotReader{br: br, limit: limit}
}

func (r *dotReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(p) {
		if r.br.Buffered() == 0 && n > 0 {
			break // give the caller what we have before blocking
		}
		buf, err := r.br.Peek(max(1, r.br.Buffered()))
		if len(buf) == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			break
		}
		used, out, done := r.scan(buf, p[n:])
		r.br.Discard(used)
		n += out
		if done {
			r.err = io.EOF
			break
		}
	}
	r.n += int64(n)
	if r.limit >= 0 && r.n > r.limit {
		// Over the bound: refused, whether or not the end of data came
		// with these bytes (then r.err stays io.EOF for the drain).
		if r.err == nil {
			r.err = ErrTooLarge
		}
		return 0, ErrTooLarge
	}
	if n > 0 {
		return n, nil
	}
	return 0, r.err
}

// scan moves content from in to out; it returns the bytes of in used, of
// out written, and whether the end of data was reached.
func (r *dotReader) scan(in, out []byte) (used, written int, done bool) {
	for used < len(in) && written < len(out) {
		c := in[used]
		switch r.state {
		case dotBegin:
			if c == '.' {
				r.state = dotDot
				used++
				continue
			}
			r.state = dotMid
		case dotDot:
			if c == '\r' {
				r.state = dotDotCR
				used++
				continue
			}
			r.state = dotMid // the period was stuffing: dropped
		case dotDotCR:
			if c == '\n' {
				return used + 1, written, true
			}
			// "." CR and more: the period was stuffing, the CR is content.
			out[written] = '\r'
			written++
			r.state = dotCR
			continue
		case dotCR:
			out[written] = c
			written++
			used++
			switch c {
			case '\n':
				r.state = dotBegin
			case '\r':
			default:
				r.state = dotMid
			}
			continue
		}
		// dotMid: copy up to and including the next LF in one go.
		src := in[used:]
		if len(src) > len(out)-written {
			src = src[:len(out)-written]
		}
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			written += copy(out[written:], src)
			used += len(src)
			if src[len(src)-1] == '\r' {
				r.state = dotCR
			}
			continue
		}
		written += copy(out[written:], src[:i+1])
		used += i + 1
		if (i > 0 && src[i-1] == '\r') || (i == 0 && r.state == dotCR) {
			r.state = dotBegin
		} else {
			r.state = dotMid
		}
	}
	return used, written, false
}

// bdatReader reads a message sent in BDAT chunks (RFC 3030): the chunk
// of the BDAT command that started it, then, between chunks, the next
// commands (each BDAT after the first is acknowledged 250 and its chunk
// read on), up to the LAST chunk.
type bdatReader struct {
	c     *Conn
	left  int64 // bytes of the current chunk still to read
	last  bool  // the current chunk is the last
	total int64 // bytes of all chunks announced so far
	err   error // sticky
}

func (r *bdatReader) Read(p []byte) (int, error) {
	for r.left == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.last {
			r.err = io.EOF
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			r.err = err
			return 0, err
		}
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	// Give back what is buffered rather than wait for the whole of p.
	if b := r.c.br.Buffered(); b > 0 && b < len(p) {
		p = p[:b]
	}
	n, err := r.c.br.Read(p)
	r.left -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
	}
	return n, err
}

// next acknowledges the chunk just read and reads commands up to the next
// BDAT. Commands that end the transfer (RSET, QUIT, EHLO, HELO) are left
// for the loop, which runs them once Data returns; NOOP is answered; any
// other command is refused 503 and the transfer goes on (RFC 3030 §2
// allows only BDAT, RSET and QUIT inside a chunked message).
func (r *bdatReader) next() error {
	c := r.c
	c.reply(250, "2.0.0", "Chunk received")
	for {
		line, err := c.readCommand()
		if err != nil {
			return err
		}
		cmd := parseCommand(line)
		switch cmd.verb {
		case "BDAT":
			size, last, ok := parseBDAT(cmd.arg)
			if !ok {
				if c.refuse(errBdatSyntax) {
					return ErrDataReset
				}
				continue
			}
			if c.cfg.MaxMessageBytes > 0 && r.total+size > c.cfg.MaxMessageBytes {
				c.discard(size)
				return ErrTooLarge
			}
			r.total += size
			r.left, r.last = size, last
			return nil
		case "NOOP":
			c.reply(250, "2.0.0", "OK")
		case "RSET", "QUIT", "EHLO", "HELO":
			c.pending = cmd
			return ErrDataReset
		default:
			if c.refuse(errInChunks) {
				return ErrDataReset
			}
		}
	}
}
