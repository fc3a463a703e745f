package sieve

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"pail/internal/mailheader"
)

// Bounds on reading a message's MIME structure for the body test.
const (
	// maxBodyParts: more leaf parts than any real message has.
	maxBodyParts = 256
	// maxBodyDepth: multipart inside multipart, message/rfc822 included.
	maxBodyDepth = 10
)

// headerField is one field of the message's header: its name and its
// unfolded, undecoded value.
type headerField struct {
	name, value string
}

// fields reads the header once per run.
func (r *run) fields() []headerField {
	if !r.headerParsed {
		r.headerParsed = true
		for f := range mailheader.Fields(r.in.Message.Header()) {
			r.headerCache = append(r.headerCache, headerField{name: string(f.Name), value: string(f.Value)})
		}
	}
	return r.headerCache
}

// rawHeaderValues returns the values of the fields named name, in
// order, unfolded and trimmed but not decoded.
func (r *run) rawHeaderValues(name string) []string {
	out := []string{}
	for _, f := range r.fields() {
		if strings.EqualFold(f.name, name) {
			out = append(out, strings.TrimSpace(f.value))
		}
	}
	return out
}

// headerValues returns the values of the fields named name with their
// RFC 2047 encoded words decoded (RFC 5228 §2.7.2) and leading and
// trailing white space removed.
// The slice is shared by the run's tests (cached): callers do not
// change it.
func (r *run) headerValues(name string) []string {
	key := strings.ToLower(name)
	if v, ok := r.hdrCache[key]; ok {
		return v
	}
	raw := r.rawHeaderValues(name)
	for i, v := range raw {
		raw[i] = strings.TrimSpace(decodeWords(v))
	}
	r.hdrCache[key] = raw
	return raw
}

// addresses returns the addr-specs of a field value, parsed once per run.
func (r *run) addresses(raw string) []string {
	if a, ok := r.addrCache[raw]; ok {
		return a
	}
	a := parseAddresses(raw)
	r.addrCache[raw] = a
	return a
}

// decodeWords decodes RFC 2047 encoded words: UTF-8, US-ASCII and
// ISO-8859-1 by Go's decoder, other charsets as their bytes.
func decodeWords(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d := mime.WordDecoder{CharsetReader: func(_ string, in io.Reader) (io.Reader, error) { return in, nil }}
	out, err := d.DecodeHeader(v)
	if err != nil {
		return v
	}
	return out
}

// parseAddresses returns the addr-specs of an address-list field value.
// A value the strict parser refuses is read item by item; an item that
// is no address but has an "@" counts as written (RFC 5228 §5.1 leaves
// invalid addresses to the implementation).
func parseAddresses(v string) []string {
	if list, err := mailheader.ParseAddressList(v); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, a.Address)
		}
		return out
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if a, err := mail.ParseAddress(item); err == nil {
			out = append(out, a.Address)
			continue
		}
		if i := strings.LastIndexByte(item, '<'); i >= 0 {
			item = strings.TrimSuffix(item[i+1:], ">")
		}
		if strings.Contains(item, "@") {
			out = append(out, strings.TrimSpace(item))
		}
	}
	return out
}

// bodyValues is what the body test compares (RFC 5173 §5): the raw body
// (:raw), the decoded text parts (:text, the default), or the decoded
// parts of the named content types (:content; "" names every type and a
// type without a subtype all of its subtypes).
func (r *run) bodyValues(f *frame, t *node) ([]string, error) {
	types := []string{"text"}
	key := "text"
	switch {
	case t.tags["raw"] != nil:
		key = "raw"
	case t.tags["content"] != nil:
		var err error
		if types, err = r.strs(f, t, t.tags["content"]); err != nil {
			return nil, err
		}
		key = "content:" + strings.ToLower(strings.Join(types, "\x00"))
	}
	if v, ok := r.bodyCache[key]; ok {
		return v, nil
	}
	br, err := r.in.Message.Body()
	if err != nil {
		return nil, &RuntimeError{Pos: t.pos, Msg: "body", Err: err}
	}
	body, err := io.ReadAll(io.LimitReader(br, int64(r.lim.MaxBodyBytes)))
	if err != nil {
		return nil, &RuntimeError{Pos: t.pos, Msg: "body", Err: err}
	}
	var vals []string
	if key == "raw" {
		vals = []string{string(body)}
	} else {
		h := textproto.MIMEHeader{}
		for _, fl := range r.fields() {
			h.Add(fl.name, strings.TrimSpace(fl.value))
		}
		count := 0
		collectParts(h, body, types, 0, &count, &vals)
	}
	r.bodyCache[key] = vals
	return vals, nil
}

// typeMatches reports whether a content type is one of those named.
func typeMatches(ct string, types []string) bool {
	main, _, _ := strings.Cut(ct, "/")
	for _, t := range types {
		t = strings.ToLower(t)
		if t == "" || t == ct || !strings.Contains(t, "/") && t == main {
			return true
		}
	}
	return false
}

// collectParts walks a MIME entity and appends the decoded content of
// each leaf part whose type is named (RFC 5173 §5.2).
func collectParts(h textproto.MIMEHeader, body []byte, types []string, depth int, count *int, out *[]string) {
	if depth > maxBodyDepth || *count >= maxBodyParts {
		return
	}
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || ct == "" {
		ct = "text/plain" // RFC 2045 §5.2
		params = map[string]string{}
	}
	switch {
	case strings.HasPrefix(ct, "multipart/"):
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for *count < maxBodyParts {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return
			}
			collectParts(p.Header, b, types, depth+1, count, out)
		}
	case ct == "message/rfc822":
		if typeMatches(ct, types) && !containsType(types, "") {
			*count++
			*out = append(*out, string(body))
			return
		}
		m := NewMessage(body).(*rawMessage)
		eh := textproto.MIMEHeader{}
		for fl := range mailheader.Fields(m.header) {
			eh.Add(string(fl.Name), strings.TrimSpace(string(fl.Value)))
		}
		collectParts(eh, m.body, types, depth+1, count, out)
	default:
		if !typeMatches(ct, types) {
			return
		}
		*count++
		*out = append(*out, decodePart(body, h.Get("Content-Transfer-Encoding"), params["charset"]))
	}
}

func containsType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// decodePart undoes the transfer encoding (RFC 2045 §6) and, for
// ISO-8859-1, the charset; other charsets are compared as their bytes.
func decodePart(body []byte, cte, charset string) string {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		d := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, _ := base64.StdEncoding.Decode(d, clean)
		body = d[:n]
	case "quoted-printable":
		if d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil {
			body = d
		}
	}
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "l1":
		rs := make([]rune, len(body))
		for i, b := range body {
			rs[i] = rune(b)
		}
		return string(rs)
	}
	return string(body)
}

// vacationSuppress says why a vacation answer must not go out, or "".
func (r *run) vacationSuppress(v Vacation) string {
	from := r.in.Envelope.From
	// RFC 5230 §5: never to the null sender.
	if from == "" {
		return "null envelope sender (RFC 5230 §5)"
	}
	local := strings.ToLower(from)
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	// RFC 3834 §2: not to automatic senders and list software.
	if local == "mailer-daemon" || strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") {
		return "sender " + from + " is a mailer or list address (RFC 3834 §2)"
	}
	if as := r.headerValues("auto-submitted"); len(as) > 0 && !strings.EqualFold(strings.TrimSpace(strings.SplitN(as[0], ";", 2)[0]), "no") {
		return "message is Auto-Submitted: " + as[0] + " (RFC 3834 §2)"
	}
	for _, h := range []string{"list-id", "list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive"} {
		if len(r.rawHeaderValues(h)) > 0 {
			return "message is from a mailing list (" + h + ", RFC 5230 §4.6)"
		}
	}
	for _, p := range r.headerValues("precedence") {
		switch strings.ToLower(p) {
		case "bulk", "list", "junk":
			return "message has Precedence: " + p + " (RFC 3834 §2)"
		}
	}
	mine := append(append([]string{r.in.Envelope.To}, r.in.UserAddresses...), v.Addresses...)
	isMine := func(a string) bool {
		for _, m := range mine {
			if m != "" && (strings.EqualFold(a, m) || strings.EqualFold(baseAddress(a, r.sep), baseAddress(m, r.sep))) {
				return true
			}
		}
		return false
	}
	if isMine(from) {
		return "sender is the user (RFC 5230 §4.5)"
	}
	// RFC 5230 §4.5: only when one of the user's addresses is a recipient.
	for _, h := range []string{"to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"} {
		for _, raw := range r.rawHeaderValues(h) {
			for _, a := range r.addresses(raw) {
				if isMine(a) {
					return ""
				}
			}
		}
	}
	return "the user's address is in no recipient field (RFC 5230 §4.5)"
}

// baseAddress drops a subaddress detail: "a+b@c" is "a@c".
func baseAddress(a, sep string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return a
	}
	local := a[:at]
	if i := strings.Index(local, sep); i >= 0 {
		local = local[:i]
	}
	return local + a[at:]
}
