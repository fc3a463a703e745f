package delivery

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// maxHeaderScan bounds how much of a submitted message is held back while
// looking for the end of its header section.
const maxHeaderScan = 256 << 10

// HeaderFixer adds the Date and Message-ID fields that a submission server
// must supply when the user agent left them out (RFC 6409 §8.2, §8.3). It
// holds back the header section, then writes any missing fields before it.
// Close it after the last Write.
type HeaderFixer struct {
	w        io.Writer
	hostname string
	id       string
	buf      []byte
	done     bool
}

// NewHeaderFixer returns a HeaderFixer writing to w; a Message-ID it adds is
// <id@hostname>.
func NewHeaderFixer(w io.Writer, hostname, id string) *HeaderFixer {
	return &HeaderFixer{w: w, hostname: hostname, id: id}
}

// Write passes message content on, holding back the header section.

func (h *HeaderFixer) Write(p []byte) (int, error) {
	if h.done {
		return h.w.Write(p)
	}
	h.buf = append(h.buf, p...)
	end := headerEnd(h.buf)
	if end < 0 && len(h.buf) < maxHeaderScan {
		return len(p), nil
	}
	if end < 0 {
		end = len(h.buf)
	}
	if err := h.flush(end); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes what is still held back (a message that is all header).
func (h *HeaderFixer) Close() error {
	if h.done {
		return nil
	}
	return h.flush(len(h.buf))
}

func (h *HeaderFixer) flush(end int) error {
	h.done = true
	header := h.buf[:end]
	var add bytes.Buffer
	if !hasField(header, "Date") {
		fmt.Fprintf(&add, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	if !hasField(header, "Message-ID") {
		fmt.Fprintf(&add, "Message-ID: <%s@%s>\r\n", h.id, h.hostname)
	}
	if add.Len() > 0 {
		if _, err := h.w.Write(add.Bytes()); err != nil {
			return err
		}
	}
	_, err := h.w.Write(h.buf)
	h.buf = nil
	return err
}

// headerEnd returns the length of the header section including the empty
// line that ends it, or -1 if it has not ended yet.
func headerEnd(b []byte) int {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return 0 // no header at all
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// hasField reports whether a header section has a field of that name
// (case-insensitive, RFC 5322 §1.2.2) at the start of a line.
func hasField(header []byte, name string) bool {
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return true
		}
	}
	return false
}
