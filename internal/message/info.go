package message

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"

	"pail/internal/imapmsg"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Bounds on the structure ReadInfo describes. Past them a hostile message
// costs no more: what is deeper or later is described as one opaque part.
const (
	// maxStructureDepth bounds how deeply multiparts and message/rfc822
	// parts are descended into (real mail nests a handful of levels).
	maxStructureDepth = 32
	// maxStructureParts bounds how many parts one message's structure
	// lists; later parts of a multipart are dropped.
	maxStructureParts = 2000
	// maxPreviewInput bounds how much decoded text is read for the
	// preview; RFC 8970 previews are at most 256 characters.
	maxPreviewInput = 8 << 10
	// maxIMAPInput bounds the message that is held in memory at delivery
	// to compute its IMAP wire forms (imapmsg works on the bytes); larger
	// ones get none, and FETCH reads their file as before.
	maxIMAPInput = 32 << 20
)

// Info is what a message says about itself, read in one pass over its
// bytes when it is stored: the header fields a message list, SEARCH, SORT
// and THREAD use (Summary, decoded), the IMAP ENVELOPE and BODYSTRUCTURE,
// sizes, whether it has attachments, and its preview text. The store keeps
// it with the message so that readers need not open the file.
type Info struct {
	Summary
	// Envelope is the IMAP ENVELOPE (RFC 9051 §7.5.2).
	Envelope Envelope
	// Structure is the IMAP BODYSTRUCTURE tree (RFC 9051 §7.5.2).
	Structure *BodyPart
	// Size is the message's size in octets as stored; HeaderSize the
	// size of its header, including the blank line that ends it.
	Size, HeaderSize int64
	// HasAttachment is set when a part is an attachment: its disposition
	// says so, it has a file name, or it is a message/* part inside the
	// message.
	HasAttachment bool
	// Preview is the RFC 8970 preview text (see preview.go).
	Preview string
	// Bounded is set when the message exceeded the structure bounds
	// (maxStructureDepth, maxStructureParts) and Structure is cut there.
	Bounded bool
	// IMAPEnvelope is the ENVELOPE as imapd sends it (imapmsg: header
	// fields as written, groups kept), nil for a message over
	// maxIMAPInput or described before pail kept it. Envelope above is
	// the decoded form for SEARCH, SORT and the webmail.
	IMAPEnvelope *imapmsg.Wire `json:",omitempty"`
}

// Envelope is the IMAP ENVELOPE of a message, each field as RFC 9051
// §7.5.2 defines it: the Date, Subject (decoded from RFC 2047), the six
// address lists and the message identifiers without angle brackets.
type Envelope struct {
	Date      time.Time // zero when missing or unparseable
	Subject   string
	From      []EnvelopeAddress
	Sender    []EnvelopeAddress
	ReplyTo   []EnvelopeAddress
	To        []EnvelopeAddress
	Cc        []EnvelopeAddress
	Bcc       []EnvelopeAddress
	InReplyTo []string
	MessageID string
}

// EnvelopeAddress is one address structure of an ENVELOPE. RFC 9051 §7.5.2
// (RFC 3501 §7.4.2): RFC 5322 group syntax is a start-of-group marker (Host
// empty, Mailbox the group's display name) and an end-of-group marker
// (Mailbox and Host empty) around the group's members.
type EnvelopeAddress struct {
	Name    string `json:",omitempty"` // display name, decoded
	Mailbox string `json:",omitempty"` // local part, or the group's name
	Host    string `json:",omitempty"` // domain; empty for group markers
}

// IsGroupStart reports whether a is a start-of-group marker.
func (a EnvelopeAddress) IsGroupStart() bool { return a.Host == "" && a.Mailbox != "" }

// IsGroupEnd reports whether a is an end-of-group marker.
func (a EnvelopeAddress) IsGroupEnd() bool { return a.Host == "" && a.Mailbox == "" }

// BodyPart is one node of a BODYSTRUCTURE (RFC 9051 §7.5.2). A multipart
// (Type "multipart") has Children (none when its boundary is missing or
// never appears: an encoder must cope) and its own Params; a leaf has the body
// fields; a message/rfc822 or message/global leaf also has the enclosed
// message's Envelope and Child structure.
type BodyPart struct {
	Type, Subtype string
	Params        map[string]string `json:",omitempty"`
	// Children are the parts of a multipart.
	Children []*BodyPart `json:",omitempty"`
	// The body fields of a leaf: Content-ID, Content-Description and
	// Content-Transfer-Encoding as written, the body's size in octets
	// and, for text/* and message/rfc822, its lines.
	ID          string `json:",omitempty"`
	Description string `json:",omitempty"`
	Encoding    string `json:",omitempty"`
	Size        uint32 `json:",omitempty"`
	Lines       int64  `json:",omitempty"`
	// Envelope and Child describe the message inside a message/rfc822
	// (or message/global) part.
	Envelope *Envelope `json:",omitempty"`
	Child    *BodyPart `json:",omitempty"`
	// The extension fields: Content-Disposition with its parameters,
	// Content-Language, Content-Location.
	Disposition       string            `json:",omitempty"`
	DispositionParams map[string]string `json:",omitempty"`
	Language          []string          `json:",omitempty"`
	Location          string            `json:",omitempty"`
	// IMAPBodyStructure and IMAPBody are, on the root part only, the
	// BODYSTRUCTURE and BODY as imapd sends them (imapmsg), nil where
	// IMAPEnvelope is nil. They live in the structure so that a FETCH of
	// ENVELOPE alone does not decode them.
	IMAPBodyStructure *imapmsg.Wire `json:",omitempty"`
	IMAPBody          *imapmsg.Wire `json:",omitempty"`
}

// IsMultipart reports whether p is a multipart with children.
func (p *BodyPart) IsMultipart() bool { return p.Type == "multipart" }

// ReadInfo reads a whole message once and describes it. It never fails on
// a malformed message: what cannot be parsed is described as well as it
// can be (the same way IMAP servers describe such mail); only the header
// of a message without one comes back empty.
func ReadInfo(r io.Reader) *Info {
	return ReadInfoSize(r, 0)
}

// ReadInfoSize is ReadInfo for a message whose size is known to be size
// octets (0 if not known): the copy the IMAP wire forms are computed from
// is made that large at once instead of growing as it is read.
func ReadInfoSize(r io.Reader, size int64) *Info {
	keep := &capped{max: maxIMAPInput}
	if size > 0 && size <= maxIMAPInput {
		keep.b = make([]byte, 0, size)
	}
	cr := &countReader{r: io.TeeReader(r, keep)}
	br := bufio.NewReader(cr)
	h, _ := textproto.ReadHeader(br)
	info := &Info{}
	info.Summary, info.Envelope = headerInfo(h)
	info.HeaderSize = cr.n - int64(br.Buffered())
	w := &walker{info: info}
	info.Structure = w.part(h, br, 0, true)
	io.Copy(io.Discard, br)
	info.Size = cr.n
	info.Preview = makePreview(w.plain, w.html)
	if !keep.over {
		d := imapmsg.Describe(keep.b)
		info.IMAPEnvelope = d.Envelope
		info.Structure.IMAPBodyStructure, info.Structure.IMAPBody = d.BodyStructure, d.Body
	}
	return info
}

// capped keeps what is written to it up to max bytes; past that it keeps
// nothing and says so.
type capped struct {
	b    []byte
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if !c.over {
		if len(c.b)+len(p) > c.max {
			c.over, c.b = true, nil
		} else {
			if len(c.b)+len(p) > cap(c.b) {
				// Double: append grows a large slice by a quarter, which
				// copies a big message many times over.
				nb := make([]byte, len(c.b), max(2*cap(c.b), len(c.b)+len(p), 4<<10))
				copy(nb, c.b)
				c.b = nb
			}
			c.b = append(c.b, p...)
		}
	}
	return len(p), nil
}

// walker carries the state of one ReadInfo pass.
type walker struct {
	info        *Info
	parts       int
	plain, html []byte // the first displayable text bodies, decoded, bounded
}

// part describes the entity with header h whose body is r, reading r to its
// end. top is set outside any enclosed message (message/rfc822), where the
// preview and attachments are looked for, bounded in depth and parts.
func (w *walker) part(rawHeader textproto.Header, r io.Reader, depth int, top bool) *BodyPart {
	w.parts++
	header := gomessage.Header{Header: rawHeader}
	mediaType, typeParams, _ := header.ContentType()
	primary, sub, _ := strings.Cut(mediaType, "/")
	bounded := depth >= maxStructureDepth || w.parts > maxStructureParts
	if bounded {
		w.info.Bounded = true
	}
	disp, dispParams := disposition(header)
	p := &BodyPart{
		Disposition:       disp,
		DispositionParams: dispParams,
		Language:          language(header),
		Location:          header.Get("Content-Location"),
	}
	if primary == "multipart" && !bounded {
		p.Type, p.Subtype, p.Params = primary, sub, typeParams
		mr := textproto.NewMultipartReader(r, typeParams["boundary"])
		for {
			child, _ := mr.NextPart()
			if child == nil {
				break
			}
			if w.parts >= maxStructureParts {
				w.info.Bounded = true
				io.Copy(io.Discard, child)
				continue
			}
			p.Children = append(p.Children, w.part(child.Header, child, depth+1, top))
		}
		return p
	}
	if bounded && primary == "multipart" {
		// Past the bounds a multipart is one opaque part.
		primary, sub, typeParams = "application", "octet-stream", nil
	}
	p.Type, p.Subtype, p.Params = primary, sub, typeParams
	p.ID = header.Get("Content-Id")
	p.Description = header.Get("Content-Description")
	p.Encoding = header.Get("Content-Transfer-Encoding")
	cr := &countReader{r: r}
	isMessage := (mediaType == "message/rfc822" || mediaType == "message/global") && !bounded
	if top && (disp == "attachment" || dispParams["filename"] != "" || typeParams["name"] != "" || depth > 0 && primary == "message") {
		w.info.HasAttachment = true
	}
	switch {
	case isMessage:
		br := bufio.NewReader(cr)
		childHeader, _ := textproto.ReadHeader(br)
		env := envelope(childHeader)
		p.Envelope = &env
		p.Child = w.part(childHeader, br, depth+1, false)
		io.Copy(io.Discard, br)
	case top && primary == "text" && disp != "attachment" && (sub == "plain" && w.plain == nil || sub == "html" && w.html == nil):
		// The first text body is decoded for the preview as it is read.
		body := io.Reader(cr)
		if e, err := gomessage.New(header, cr); e != nil && (err == nil || isSoftError(err)) {
			body = e.Body
		}
		b, _ := io.ReadAll(io.LimitReader(body, maxPreviewInput))
		if b == nil {
			b = []byte{}
		}
		if sub == "plain" {
			w.plain = b
		} else {
			w.html = b
		}
		io.Copy(io.Discard, cr)
	default:
		io.Copy(io.Discard, cr)
	}
	p.Size = uint32(cr.n)
	if isMessage || primary == "text" {
		p.Lines = cr.lines
	}
	return p
}

// headerInfo reads the Summary and the ENVELOPE of a header, each field
// parsed once for both: the result is summarize's and envelope's.
func headerInfo(h textproto.Header) (Summary, Envelope) {
	mh := mail.Header{Header: gomessage.Header{Header: h}}
	var e Envelope
	var s Summary
	list := func(key string) ([]Address, []EnvelopeAddress) {
		v := mh.Get(key)
		if v == "" {
			return nil, nil
		}
		flat, err := mail.ParseAddressList(v)
		return addressesOf(mh, key, flat, err), envelopeOf(v, flat, err)
	}
	s.From, e.From = list("From")
	s.To, e.To = list("To")
	s.Cc, e.Cc = list("Cc")
	s.ReplyTo, e.ReplyTo = list("Reply-To")
	e.Sender = envelopeAddresses(mh, "Sender")
	e.Bcc = envelopeAddresses(mh, "Bcc")
	e.Subject, _ = mh.Subject()
	s.Subject = strings.TrimSpace(e.Subject)
	e.Date, _ = mh.Date()
	s.Date = e.Date
	e.MessageID, _ = mh.MessageID()
	s.MessageID = e.MessageID
	e.InReplyTo, _ = mh.MsgIDList("In-Reply-To")
	s.InReplyTo = e.InReplyTo
	s.References, _ = mh.MsgIDList("References")
	t, _, _ := mh.ContentType()
	s.Multipart = t == "multipart/mixed" || t == "multipart/related"
	return s, e
}

// envelope reads the ENVELOPE fields of a header.
func envelope(h textproto.Header) Envelope {
	mh := mail.Header{Header: gomessage.Header{Header: h}}
	var e Envelope
	e.Date, _ = mh.Date()
	e.Subject, _ = mh.Subject()
	e.From = envelopeAddresses(mh, "From")
	e.Sender = envelopeAddresses(mh, "Sender")
	e.ReplyTo = envelopeAddresses(mh, "Reply-To")
	e.To = envelopeAddresses(mh, "To")
	e.Cc = envelopeAddresses(mh, "Cc")
	e.Bcc = envelopeAddresses(mh, "Bcc")
	e.InReplyTo, _ = mh.MsgIDList("In-Reply-To")
	e.MessageID, _ = mh.MessageID()
	return e
}

func disposition(h gomessage.Header) (string, map[string]string) {
	disp, params, _ := h.ContentDisposition()
	if disp == "" {
		return "", nil
	}
	return disp, params
}

// language splits Content-Language (RFC 3282) at its commas.
func language(h gomessage.Header) []string {
	v := h.Get("Content-Language")
	if v == "" {
		return nil
	}
	l := strings.Split(v, ",")
	for i, lang := range l {
		l[i] = strings.TrimSpace(lang)
	}
	return l
}

// countReader counts the octets and line feeds read through it.
type countReader struct {
	r     io.Reader
	n     int64
	lines int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
	return n, err
}
