package delivery

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
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

// addedWriter takes content that pail adds, apart from the client's
// (Message.WriteAdded).
type addedWriter interface {
	WriteAdded(p []byte) (int, error)
}

// NewHeaderFixer returns a HeaderFixer writing to w; a Message-ID it adds is
// <id@hostname>. When w is a *Message, the fields it adds go through
// WriteAdded, so the message's duplicate digest is of the client's data
// alone: write to the Message directly, not through another writer.
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
		write := h.w.Write
		if aw, ok := h.w.(addedWriter); ok {
			write = aw.WriteAdded // *Message: not the client's data
		}
		if _, err := write(add.Bytes()); err != nil {
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
// (see fields).
func hasField(header []byte, name string) bool {
	for f := range fields(header) {
		if f.is(name) {
			return true
		}
	}
	return false
}

// field is one header field of a header section, unfolded.
type field struct {
	name  []byte // as written, without the WSP before the colon
	value []byte // after the colon, continuation lines joined without their CRLF
}

// is reports whether the field is named name; field names are
// case-insensitive (RFC 5322 §1.2.2).
func (f field) is(name string) bool { return bytes.EqualFold(f.name, []byte(name)) }

// fields yields the fields of a header section, the one reading of it that
// both the author check and the Date/Message-ID check use. A field starts
// at a line that is a field name (printable ASCII but colon, RFC 5322
// §3.6.8), optional WSP, and a colon: the WSP is the obsolete syntax of
// §4.5 (obs-from = "From" *WSP ":" ..., §4.5.2; obs-optional, §4.5.8),
// which relaxed DKIM canonicalization and mail readers accept, so a
// "From : x" must be seen as a From. A line that starts with WSP continues
// the field before it (unfolding, §2.2.3); lines end in LF with an
// optional CR before it. Any other line (no colon, a space inside the
// name) is no field and ends the one before it.
func fields(header []byte) iter.Seq[field] {
	return func(yield func(field) bool) {
		var cur field
		have := false
		for len(header) > 0 {
			line := header
			if i := bytes.IndexByte(header, '\n'); i >= 0 {
				line, header = header[:i], header[i+1:]
			} else {
				header = nil
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
				if have {
					cur.value = append(cur.value, line...)
				}
				continue
			}
			if have && !yield(cur) {
				return
			}
			cur, have = parseFieldLine(line)
		}
		if have {
			yield(cur)
		}
	}
}

// parseFieldLine splits the first line of a field into its name and value.
func parseFieldLine(line []byte) (field, bool) {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if i == 0 || j == len(line) || line[j] != ':' {
		return field{}, false
	}
	// The value is copied: continuation lines are appended to it.
	return field{name: line[:i], value: append([]byte(nil), line[j+1:]...)}, true
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
	for f := range fields(header) {
		if f.is(name) {
			out = append(out, string(f.value))
		}
	}
	return out
}
