package delivery

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"pail/internal/mailheader"
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
// (see mailheader.Fields).
func hasField(header []byte, name string) bool {
	for f := range mailheader.Fields(header) {
		if f.Is(name) {
			return true
		}
	}
	return false
}

// checkAuthors applies MayAuthor to every address in every From and Sender
// field (RFC 5322 §3.6.2) of header.
func (h *HeaderFixer) checkAuthors(header []byte) error {
	for _, name := range []string{"From", "Sender"} {
		for _, v := range mailheader.Values(header, name) {
			list, err := mailheader.ParseAddressList(string(v))
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
