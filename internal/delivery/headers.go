package delivery

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"time"
)

// maxHeaderScan bounds how much of a submitted message is held back while
// looking for the end of its header section.
const maxHeaderScan = 256 << 10

// Errors of a HeaderFixer that checks authors (MayAuthor set).
var (
	// ErrAuthorNotOwned: an address in From or Sender is not one the
	// account may send as.
	ErrAuthorNotOwned = errors.New("delivery: header From or Sender address not owned by the account")
	// ErrAuthorUnreadable: From or Sender has no address that can be read.
	ErrAuthorUnreadable = errors.New("delivery: header From or Sender cannot be read")
	// ErrHeaderTooLarge: the header section is longer than maxHeaderScan,
	// so its From could not be checked.
	ErrHeaderTooLarge = errors.New("delivery: header section too large")
)

// HeaderFixer adds the Date and Message-ID fields that a submission server
// must supply when the user agent left them out (RFC 6409 §8.2, §8.3). It
// holds back the header section, then writes any missing fields before it.
// With MayAuthor set it also checks the authors: every address of every
// From and Sender field must pass MayAuthor (the envelope sender's rule), or
// nothing is written and the error is ErrAuthorNotOwned. A missing From is
// left missing (pail adds none). Close it after the last Write.
type HeaderFixer struct {
	// MayAuthor, when set, says whether the account may use an address in
	// From or Sender.
	MayAuthor func(addr string) (bool, error)

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
		if h.MayAuthor != nil {
			return 0, ErrHeaderTooLarge
		}
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
	if h.MayAuthor != nil {
		if err := h.checkAuthors(header); err != nil {
			return err
		}
	}
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

// lenientWords decodes RFC 2047 words of any charset well enough to find
// the addresses next to them (display names are not used).
var lenientWords = &mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// checkAuthors applies MayAuthor to every address in every From and Sender
// field (RFC 5322 §3.6.2) of header.
func (h *HeaderFixer) checkAuthors(header []byte) error {
	for _, name := range []string{"From", "Sender"} {
		for _, v := range fieldValues(header, name) {
			list, err := lenientWords.ParseList(v)
			if err != nil || len(list) == 0 {
				return fmt.Errorf("%w: %s: %q", ErrAuthorUnreadable, name, v)
			}
			for _, a := range list {
				ok, err := h.MayAuthor(a.Address)
				if err != nil {
					return fmt.Errorf("delivery: author check: %w", err)
				}
				if !ok {
					return fmt.Errorf("%w: %s: %s", ErrAuthorNotOwned, name, a.Address)
				}
			}
		}
	}
	return nil
}

// fieldValues returns the unfolded bodies of every field of that name
// (case-insensitive) in a header section.
func fieldValues(header []byte, name string) []string {
	var out []string
	cur := -1 // index in out of the field being unfolded, or -1
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if cur >= 0 {
				out[cur] += string(line) // RFC 5322 §2.2.3: unfolding
			}
			continue
		}
		cur = -1
		if len(line) > len(name) && line[len(name)] == ':' && bytes.EqualFold(line[:len(name)], []byte(name)) {
			out = append(out, string(line[len(name)+1:]))
			cur = len(out) - 1
		}
	}
	return out
}
