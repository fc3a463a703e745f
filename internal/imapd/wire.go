package imapd

import (
	"mime"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"pail/internal/imapwire"
)

// This file turns the data go-imap's MIME helpers extract (ENVELOPE,
// BODYSTRUCTURE) into imapwire's forms, until pail computes them itself.

// envelopeDate is the Date of an ENVELOPE (RFC 5322 §3.3).
const envelopeDate = "Mon, 02 Jan 2006 15:04:05 -0700"

// toEnvelope converts an envelope (RFC 9051 §7.5.2: Sender and Reply-To
// default to From).
func toEnvelope(e *imap.Envelope) *imapwire.Envelope {
	out := &imapwire.Envelope{
		Subject: mime.QEncoding.Encode("utf-8", e.Subject),
		From:    toAddresses(e.From), Sender: toAddresses(e.Sender), ReplyTo: toAddresses(e.ReplyTo),
		To: toAddresses(e.To), Cc: toAddresses(e.Cc), Bcc: toAddresses(e.Bcc),
	}
	if !e.Date.IsZero() {
		out.Date = e.Date.Format(envelopeDate)
	}
	if len(out.Sender) == 0 {
		out.Sender = out.From
	}
	if len(out.ReplyTo) == 0 {
		out.ReplyTo = out.From
	}
	if len(e.InReplyTo) > 0 {
		out.InReplyTo = "<" + strings.Join(e.InReplyTo, "> <") + ">"
	}
	if e.MessageID != "" {
		out.MessageID = "<" + e.MessageID + ">"
	}
	return out
}

func toAddresses(l []imap.Address) []imapwire.Address {
	if len(l) == 0 {
		return nil
	}
	out := make([]imapwire.Address, len(l))
	for i, a := range l {
		out[i] = imapwire.Address{Name: mime.QEncoding.Encode("utf-8", a.Name), Mailbox: a.Mailbox, Host: a.Host}
	}
	return out
}

// Value shorthands.
func vStr(s string) imapwire.Value { return imapwire.Value{Kind: imapwire.VString, Str: s} }
func vNum(n int64) imapwire.Value {
	return imapwire.Value{Kind: imapwire.VNumber, Num: uint64(max(n, 0))}
}
func vList(l ...imapwire.Value) imapwire.Value {
	return imapwire.Value{Kind: imapwire.VList, List: l}
}

var vNil = imapwire.Value{Kind: imapwire.VNil}

func vNString(s string) imapwire.Value {
	if s == "" {
		return vNil
	}
	return vStr(s)
}

// appendBodyStructure appends BODYSTRUCTURE (extended) or BODY (RFC 9051
// §7.5.2, §9 body).
func appendBodyStructure(b []byte, bs imap.BodyStructure, extended, utf8OK bool) []byte {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		b = append(b, '(')
		for _, c := range bs.Children {
			// body-type-mpart: no SP between the parts.
			b = appendBodyStructure(b, c, extended, utf8OK)
		}
		b = append(b, ' ')
		b = vStr(bs.Subtype).AppendTo(b, utf8OK)
		if extended {
			ext := bs.Extended
			if ext == nil {
				ext = &imap.BodyStructureMultiPartExt{}
			}
			for _, v := range []imapwire.Value{params(ext.Params), disposition(ext.Disposition), language(ext.Language), vNString(ext.Location)} {
				b = append(b, ' ')
				b = v.AppendTo(b, utf8OK)
			}
		}
		return append(b, ')')
	case *imap.BodyStructureSinglePart:
		enc := strings.ToLower(bs.Encoding) // Outlook for iOS wants lower case
		if enc == "" {
			enc = "7bit"
		}
		b = append(b, '(')
		fields := []imapwire.Value{vStr(bs.Type), vStr(bs.Subtype), params(bs.Params), vNString(bs.ID), vNString(bs.Description), vStr(enc), vNum(int64(bs.Size))}
		for i, v := range fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = v.AppendTo(b, utf8OK)
		}
		if msg := bs.MessageRFC822; msg != nil {
			b = append(b, ' ')
			b = toEnvelope(msg.Envelope).AppendTo(b, utf8OK)
			b = append(b, ' ')
			b = appendBodyStructure(b, msg.BodyStructure, extended, utf8OK)
			b = append(b, ' ')
			b = vNum(msg.NumLines).AppendTo(b, utf8OK)
		} else if t := bs.Text; t != nil {
			b = append(b, ' ')
			b = vNum(t.NumLines).AppendTo(b, utf8OK)
		}
		if extended {
			ext := bs.Extended
			if ext == nil {
				ext = &imap.BodyStructureSinglePartExt{}
			}
			for _, v := range []imapwire.Value{vNil, disposition(ext.Disposition), language(ext.Language), vNString(ext.Location)} {
				b = append(b, ' ')
				b = v.AppendTo(b, utf8OK)
			}
		}
		return append(b, ')')
	}
	return append(b, "NIL"...)
}

func params(m map[string]string) imapwire.Value {
	if len(m) == 0 {
		return vNil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var l []imapwire.Value
	for _, k := range keys {
		l = append(l, vStr(k), vStr(m[k]))
	}
	return vList(l...)
}

func disposition(d *imap.BodyStructureDisposition) imapwire.Value {
	if d == nil {
		return vNil
	}
	return vList(vStr(d.Value), params(d.Params))
}

func language(l []string) imapwire.Value {
	if len(l) == 0 {
		return vNil
	}
	var out []imapwire.Value
	for _, s := range l {
		out = append(out, vStr(s))
	}
	return vList(out...)
}

// bodySection converts a FETCH item's section for go-imap's extractor.
func bodySection(it *imapwire.FetchItem) *imap.FetchItemBodySection {
	bs := &imap.FetchItemBodySection{Peek: it.Peek}
	switch it.Name {
	case "RFC822.HEADER":
		bs.Specifier = imap.PartSpecifierHeader
	case "RFC822.TEXT":
		bs.Specifier = imap.PartSpecifierText
	}
	if s := it.Section; s != nil {
		for _, p := range s.Part {
			bs.Part = append(bs.Part, int(p))
		}
		switch s.Specifier {
		case "HEADER":
			bs.Specifier = imap.PartSpecifierHeader
		case "HEADER.FIELDS":
			bs.Specifier, bs.HeaderFields = imap.PartSpecifierHeader, s.Fields
		case "HEADER.FIELDS.NOT":
			bs.Specifier, bs.HeaderFieldsNot = imap.PartSpecifierHeader, s.Fields
		case "TEXT":
			bs.Specifier = imap.PartSpecifierText
		case "MIME":
			bs.Specifier = imap.PartSpecifierMIME
		}
	}
	if p := it.Partial; p != nil {
		bs.Partial = &imap.SectionPartial{Offset: int64(p.Offset), Size: int64(p.Count)}
	}
	return bs
}

// parts converts a BINARY section's part numbers.
func parts(it *imapwire.FetchItem) []int {
	var out []int
	if it.Section != nil {
		for _, p := range it.Section.Part {
			out = append(out, int(p))
		}
	}
	return out
}
