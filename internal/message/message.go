// Package message owns pail's view of Internet messages (RFC 5322) and MIME
// (RFC 2045–2049): reading a message's header and body structure for
// display, describing a message once for the store (ReadInfo: the IMAP
// ENVELOPE and BODYSTRUCTURE, the RFC 8970 preview), decoding encoded words
// (RFC 2047) and charsets, the text a full-text index keeps of a message
// and the i;unicode-casemap fold (RFC 5051) that searching and sorting
// compare strings by (Casemap, FoldSearch), and composing new MIME
// messages with attachments. Parsing sits on
// github.com/emersion/go-message; composition uses only the standard
// library so that its output is simple to check byte for byte.
package message

import (
	"io"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers charset decoders (ISO-8859-*, Windows-125x, ...)
	"github.com/emersion/go-message/mail"
)

// Bounds on what a parse may cost; a hostile message cannot make the
// reader use more than this.
const (
	// maxHeaderBytes bounds one header block (go-message's default is 1 MiB).
	maxHeaderBytes = 256 << 10
	// maxParts bounds how many MIME parts are looked at.
	maxParts = 200
	// maxDepth bounds how deeply multiparts may nest.
	maxDepth = 16
	// maxTextBytes bounds each text body kept for display.
	maxTextBytes = 4 << 20
)

// Address is one mailbox from an address header: an optional display name
// (decoded from RFC 2047) and the address.
type Address struct {
	Name    string
	Address string
}

// String returns the address for display: `Name <addr>` or `addr`.
func (a Address) String() string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// Short is the display name, or the address when there is none.
func (a Address) Short() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Address
}

// Summary is what a message list shows of a message: its header fields,
// decoded, read without the body.
type Summary struct {
	From       []Address
	To         []Address
	Cc         []Address
	ReplyTo    []Address
	Subject    string
	Date       time.Time // zero when missing or unparseable
	MessageID  string    // without angle brackets
	InReplyTo  []string
	References []string
	// Multipart is set when the top-level type is multipart/mixed (or
	// related), the usual sign of an attachment.
	Multipart bool
}

// ReadSummary reads the header of the message in r.
func ReadSummary(r io.Reader) (Summary, error) {
	e, err := gomessage.ReadWithOptions(r, &gomessage.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if e == nil {
		return Summary{}, err
	}
	return summarize(e.Header), nil
}

// summarize decodes the header fields a Summary holds. Malformed fields are
// shown as well as they can be rather than failing the whole message.
func summarize(h gomessage.Header) Summary {
	mh := mail.Header{Header: h}
	var s Summary
	s.From = addresses(mh, "From")
	s.To = addresses(mh, "To")
	s.Cc = addresses(mh, "Cc")
	s.ReplyTo = addresses(mh, "Reply-To")
	s.Subject, _ = mh.Subject()
	s.Subject = strings.TrimSpace(s.Subject)
	s.Date, _ = mh.Date()
	s.MessageID, _ = mh.MessageID()
	s.InReplyTo, _ = mh.MsgIDList("In-Reply-To")
	s.References, _ = mh.MsgIDList("References")
	t, _, _ := h.ContentType()
	s.Multipart = t == "multipart/mixed" || t == "multipart/related"
	return s
}

// addresses parses an address list; when it is not valid RFC 5322 the raw
// decoded text is kept as one address so the reader still sees something.
func addresses(h mail.Header, key string) []Address {
	list, err := h.AddressList(key)
	return addressesOf(h, key, list, err)
}

// addressesOf is addresses of the field key, which parsed as list (or
// failed with err).
func addressesOf(h mail.Header, key string, list []*mail.Address, err error) []Address {
	if err != nil || len(list) == 0 {
		raw, _ := h.Text(key)
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return nil
		}
		return []Address{{Address: raw}}
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, Address{Name: a.Name, Address: a.Address})
	}
	return out
}
