package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	gomessage "github.com/emersion/go-message"
)

// Part is one leaf MIME part of a message that is not its displayed text:
// an attachment or an inline image.
type Part struct {
	// Index numbers the leaf parts of the message in order, from 0; it
	// names the part in Extract.
	Index int
	// Name is the file name from Content-Disposition or Content-Type
	// (RFC 2183, RFC 2231, and RFC 2047 words as many mailers write them).
	Name string
	// ContentType is the media type in lower case, without parameters.
	ContentType string
	// Size is the decoded size in octets.
	Size int64
	// ContentID is the Content-ID without angle brackets (RFC 2392), for
	// cid: references from HTML.
	ContentID string
	// Inline is set for parts the sender meant to be shown in the text,
	// such as images of an HTML body.
	Inline bool
	// Data holds the decoded bytes of small inline images (for cid: URLs);
	// nil otherwise.
	Data []byte
}

// Parsed is a message prepared for display.
type Parsed struct {
	Summary
	// Text is the first text/plain body (decoded to UTF-8), followed by
	// further inline text/plain parts.
	Text string
	// HTML is the first text/html body, decoded to UTF-8 but NOT
	// sanitized: never show it without sanitizing.
	HTML string
	// Parts are the attachments and inline images.
	Parts []Part
	// Truncated is set when a text body was cut at the display bound.
	Truncated bool
}

// maxInlineData bounds the inline image bytes one message may keep in
// memory for cid: URLs.
const maxInlineData = 8 << 20

// ErrNoPart means Extract found no part with the given index.
var ErrNoPart = errors.New("message: no such part")

// Parse reads a whole message for display.
func Parse(r io.Reader) (*Parsed, error) {
	e, err := readEntity(r)
	if err != nil {
		return nil, err
	}
	p := &Parsed{Summary: summarize(e.Header)}
	inlineBudget := int64(maxInlineData)
	err = walk(e, func(info Part, disp string, body io.Reader) error {
		isBody := disp != "attachment" && info.Name == "" || disp == "inline" && strings.HasPrefix(info.ContentType, "text/")
		switch {
		case isBody && info.ContentType == "text/plain":
			text, n, trunc, err := readText(body)
			if err != nil {
				return err
			}
			p.Truncated = p.Truncated || trunc
			if p.Text == "" {
				p.Text = text
				return nil
			}
			if n > 0 {
				p.Text += "\n\n" + text
			}
			return nil
		case isBody && info.ContentType == "text/html" && p.HTML == "":
			text, _, trunc, err := readText(body)
			if err != nil {
				return err
			}
			p.Truncated = p.Truncated || trunc
			p.HTML = text
			return nil
		}
		info.Inline = disp == "inline" || disp == "" && info.ContentID != ""
		if info.Inline && info.ContentID != "" && strings.HasPrefix(info.ContentType, "image/") {
			var buf bytes.Buffer
			n, err := io.Copy(&buf, io.LimitReader(body, inlineBudget+1))
			if err != nil {
				return err
			}
			if n <= inlineBudget {
				info.Data = buf.Bytes()
				inlineBudget -= n
			}
			rest, err := io.Copy(io.Discard, body)
			info.Size = n + rest
			if err != nil {
				return err
			}
		} else {
			n, err := io.Copy(io.Discard, body)
			if err != nil {
				return err
			}
			info.Size = n
		}
		p.Parts = append(p.Parts, info)
		return nil
	})
	return p, err
}

// readText reads a text body up to the display bound, replacing invalid
// UTF-8, and reports how many bytes it held and whether it was cut.
func readText(r io.Reader) (string, int, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxTextBytes+1))
	if err != nil && !isSoftError(err) {
		return "", 0, false, err
	}
	trunc := len(b) > maxTextBytes
	if trunc {
		b = b[:maxTextBytes]
		io.Copy(io.Discard, r)
	}
	s := strings.ToValidUTF8(strings.ReplaceAll(string(b), "\r\n", "\n"), "\uFFFD")
	return s, len(strings.TrimSpace(s)), trunc, nil
}

// Extract finds the leaf part with the given index, copies its decoded
// bytes to w and returns its description.
func Extract(r io.Reader, index int, w io.Writer) (Part, error) {
	e, err := readEntity(r)
	if err != nil {
		return Part{}, err
	}
	var found *Part
	err = walk(e, func(info Part, _ string, body io.Reader) error {
		if info.Index != index {
			return nil
		}
		n, err := io.Copy(w, body)
		info.Size = n
		found = &info
		if err != nil {
			return err
		}
		return errStop
	})
	if found != nil {
		return *found, nil
	}
	if err != nil {
		return Part{}, err
	}
	return Part{}, ErrNoPart
}

var errStop = errors.New("stop")

func readEntity(r io.Reader) (*gomessage.Entity, error) {
	e, err := gomessage.ReadWithOptions(r, &gomessage.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if e == nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return e, nil
}

// isSoftError reports errors after which the part can still be shown: an
// unknown charset or transfer encoding (shown undecoded).
func isSoftError(err error) bool {
	return gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err)
}

// walk calls visit for every leaf part in order, with its description, its
// Content-Disposition and its decoded body. message/rfc822 parts are leaves
// (attachments), not descended into. Malformed multiparts end the walk
// quietly: what was seen so far is shown.
func walk(e *gomessage.Entity, visit func(info Part, disp string, body io.Reader) error) error {
	index := 0
	var rec func(e *gomessage.Entity, depth int) error
	rec = func(e *gomessage.Entity, depth int) error {
		if mr := e.MultipartReader(); mr != nil && depth < maxDepth {
			for index < maxParts {
				part, err := mr.NextPart()
				if err == io.EOF {
					return nil
				}
				if part == nil || err != nil && !isSoftError(err) {
					return nil // malformed: keep what was seen
				}
				if err := rec(part, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if index >= maxParts {
			return nil
		}
		info := describe(e.Header)
		info.Index = index
		index++
		disp, _, _ := e.Header.ContentDisposition()
		err := visit(info, strings.ToLower(disp), e.Body)
		if err != nil && !errors.Is(err, errStop) && isSoftError(err) {
			return nil
		}
		return err
	}
	err := rec(e, 0)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// describe reads a part's type, name and Content-ID.
func describe(h gomessage.Header) Part {
	var p Part
	t, params, err := h.ContentType()
	if err != nil || t == "" {
		t = "text/plain" // RFC 2045 §5.2 default
	}
	p.ContentType = strings.ToLower(t)
	_, dparams, _ := h.ContentDisposition()
	p.Name = dparams["filename"]
	if p.Name == "" {
		p.Name = params["name"]
	}
	if strings.Contains(p.Name, "=?") {
		dec := mime.WordDecoder{CharsetReader: func(cs string, in io.Reader) (io.Reader, error) {
			if gomessage.CharsetReader == nil {
				return nil, fmt.Errorf("charset %s", cs)
			}
			return gomessage.CharsetReader(cs, in)
		}}
		if s, err := dec.DecodeHeader(p.Name); err == nil {
			p.Name = s
		}
	}
	p.Name = cleanName(p.Name)
	cid := strings.TrimSpace(h.Get("Content-Id"))
	p.ContentID = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
	return p
}

// cleanName keeps only the last path element of a file name and drops
// control characters, so a name is safe to show and to offer for saving.
func cleanName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
