package imapd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"pail/internal/imapengine"
	"pail/internal/imapmsg"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// catenate builds the message of one APPEND ... CATENATE (RFC 4469 §3)
// in a new store.BodyWriter: the TEXT parts' octets and the octets of the
// messages and parts the URLs name, in order, unchanged. The result is
// bounded by the APPEND limit (§4.2: NO [TOOBIG]).
func (sess *session) catenate(ctx context.Context, parts []imapwire.CatPart) (store.BodyWriter, error) {
	w, err := sess.srv.deps.Store.NewBody()
	if err != nil {
		return nil, sess.storeErr(err)
	}
	limit := sess.srv.appendLimit()
	for _, p := range parts {
		if p.Text != nil {
			err = sess.catText(w, p, limit)
		} else {
			err = sess.catURL(ctx, w, p.URL, limit)
		}
		if err != nil {
			w.Discard()
			return nil, err
		}
	}
	return w, nil
}

// errTooBig refuses a catenated message over the APPEND limit (RFC 4469
// §4.2: a server-specific size limit).
var errTooBig = imapengine.No("TOOBIG", "The catenated message is over the APPENDLIMIT")

// catText appends a TEXT part, received while the command was read. The
// io.Copy between two bodies of the store is a copy in the kernel.
func (sess *session) catText(w store.BodyWriter, p imapwire.CatPart, limit int64) error {
	src, ok := p.Text.(store.BodyWriter)
	if !ok {
		return sess.internalErr("imapd: catenate", errNotSpooled)
	}
	if w.Size()+src.Size() > limit {
		return errTooBig
	}
	if err := copyBody(w, src, src.Size()); err != nil {
		return sess.storeErr(err)
	}
	return nil
}

// copyBody appends the n octets of src to w, with io.Copy from an
// io.SectionReader: the store copies them in the kernel.
func copyBody(w store.BodyWriter, src io.ReaderAt, n int64) error {
	got, err := io.Copy(w, io.NewSectionReader(src, 0, n))
	if err == nil && got != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("imapd: catenate: copy %d octets: %w", n, err)
	}
	return nil
}

// catURL appends the octets an IMAP URL names: the whole message, or
// the body section as FETCH BODY.PEEK[section]<partial> returns it (RFC
// 4469 §3, RFC 5092 §6; \Seen is not set).
func (sess *session) catURL(ctx context.Context, w store.BodyWriter, raw string, limit int64) error {
	u, err := parseMessageURL(raw)
	if err != nil {
		return badURL(raw, err.Error())
	}
	name, err := cleanName(u.mailbox)
	if err != nil {
		return badURL(raw, "invalid mailbox name in the URL")
	}
	st := sess.srv.deps.Store
	mb, err := st.MailboxByName(ctx, sess.acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return badURL(raw, "no such mailbox")
	} else if err != nil {
		return sess.storeErr(err)
	}
	// RFC 5092 §5: a URL whose UIDVALIDITY is not the mailbox's names a
	// message that no longer exists.
	if u.uidValidity != 0 && u.uidValidity != mb.UIDValidity {
		return badURL(raw, "the UIDVALIDITY does not match the mailbox's")
	}
	msgs, err := st.MessagesByUID(ctx, mb.ID, []uint32{u.uid})
	if err != nil {
		return sess.storeErr(err)
	}
	if len(msgs) == 0 {
		return badURL(raw, "no such message")
	}
	m := msgs[0]
	body, err := st.OpenBody(ctx, m)
	if err != nil {
		return badURL(raw, "no such message") // expunged meanwhile
	}
	defer body.Close()
	if u.section == nil && u.partial == nil {
		if w.Size()+body.Size() > limit {
			return errTooBig
		}
		if err := copyBody(w, body, body.Size()); err != nil {
			return sess.internalErr("imapd: catenate", err)
		}
		return nil
	}
	buf, err := readBody(body)
	if err != nil {
		return sess.internalErr("imapd: catenate", err)
	}
	sec := u.section
	if sec == nil {
		sec = &imapwire.Section{} // the whole message, cut by PARTIAL
	}
	// The same bytes FETCH sends for the section.
	b := bodySection(buf, imapmsg.Parse(buf), &imapwire.FetchItem{Name: "BODY", Section: sec, Partial: u.partial})
	if b == nil {
		// RFC 4469 §4.1: an invalid body part is a BADURL.
		return badURL(raw, "no such body part")
	}
	if w.Size()+int64(len(b)) > limit {
		return errTooBig
	}
	if _, err := w.Write(b); err != nil {
		return sess.internalErr("imapd: catenate", fmt.Errorf("write body: %w", err))
	}
	return nil
}

// badURL is NO [BADURL url] (RFC 4469 §4.1). url-resp-text is any
// TEXT-CHAR but "]" (RFC 4469 §5, erratum 2002): such octets of the URL
// as the client sent it are percent-encoded.
func badURL(raw, text string) error {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == 0 || c == '\r' || c == '\n' || c == ']' || c == 0xff || c == '%' && !isPctEncoded(raw[i:]) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	e := imapengine.No("BADURL", capitalize(text))
	if e.Arg = b.String(); e.Arg == "" {
		e.Code = "" // url-resp-text has at least one octet
	}
	return e
}

// capitalize starts an error's text with a capital letter, as replies do.
func capitalize(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

func isPctEncoded(s string) bool {
	return len(s) >= 3 && isHex(s[1]) && isHex(s[2])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// messageURL is what CATENATE takes of an IMAP URL (RFC 5092 §3): a
// message or a part of one in the user's own mailboxes.
type messageURL struct {
	mailbox     string // decoded
	uidValidity uint32 // 0: not given
	uid         uint32
	section     *imapwire.Section // nil: the whole message
	partial     *imapwire.Partial // nil: all of it
}

// parseMessageURL parses a URL of CATENATE (RFC 4469 §3): a relative IMAP
// URL against "imap://user@server/", so an absolute path (RFC 5092 §11):
//
//	"/" enc-mailbox [";UIDVALIDITY=" nz-number] "/;UID=" nz-number
//	["/;SECTION=" enc-section] ["/;PARTIAL=" number ["." nz-number]]
//
// Keys are case-insensitive. A URL with a scheme or server, a
// relative-path reference (RFC 5092 §7.2 allows none that names a
// message) or URLAUTH (RFC 4467, not offered) is refused.
func parseMessageURL(s string) (messageURL, error) {
	var u messageURL
	switch {
	case strings.HasPrefix(s, "//") || strings.Contains(s[:strings.IndexAny(s+"/;", "/;")], ":"):
		return u, errors.New("only URLs of this session's mailboxes are supported (no scheme or server)")
	case !strings.HasPrefix(s, "/"):
		return u, errors.New("only absolute-path URLs are supported: /mailbox/;UID=n")
	}
	segs := strings.Split(s[1:], ";")
	mbox := segs[0]
	// ;UIDVALIDITY= follows the mailbox name directly; every other key
	// comes after a "/".
	slashed := strings.HasSuffix(mbox, "/")
	mbox = strings.TrimSuffix(mbox, "/")
	if mbox == "" {
		return u, errors.New("no mailbox in the URL")
	}
	name, err := url.PathUnescape(mbox)
	if err != nil || !utf8.ValidString(name) {
		// RFC 5092 §8: the name is percent-encoded UTF-8.
		return u, errors.New("mailbox name in the URL is not percent-encoded UTF-8")
	}
	u.mailbox = name
	const (
		wantUIDValidity = iota
		wantUID
		wantSection
		wantPartial
		done
	)
	next := wantUIDValidity
	for i, seg := range segs[1:] {
		last := i == len(segs)-2
		key, val, ok := strings.Cut(seg, "=")
		if !ok {
			return u, errors.New("bad URL parameter")
		}
		nextSlashed := strings.HasSuffix(val, "/")
		val = strings.TrimSuffix(val, "/")
		if last && nextSlashed {
			return u, errors.New("uRL ends with a /")
		}
		key = strings.ToUpper(key)
		if (key == "UIDVALIDITY") == slashed {
			return u, errors.New("bad URL: misplaced /")
		}
		slashed = nextSlashed
		switch {
		case key == "UIDVALIDITY" && next == wantUIDValidity:
			if u.uidValidity, err = nzNumber(val); err != nil {
				return u, err
			}
			next = wantUID
		case key == "UID" && next <= wantUID:
			if u.uid, err = nzNumber(val); err != nil {
				return u, err
			}
			next = wantSection
		case key == "SECTION" && next == wantSection:
			spec, err := url.PathUnescape(val)
			if err != nil {
				return u, errors.New("bad section in the URL")
			}
			if u.section, err = imapwire.ParseSection(spec); err != nil {
				return u, errors.New("bad section in the URL")
			}
			next = wantPartial
		case key == "PARTIAL" && (next == wantSection || next == wantPartial):
			if u.partial, err = partialRange(val); err != nil {
				return u, err
			}
			next = done
		case key == "URLAUTH" || key == "EXPIRE":
			return u, errors.New("uRLAUTH is not supported")
		default:
			return u, errors.New("bad or misplaced URL parameter " + key)
		}
	}
	if u.uid == 0 {
		return u, errors.New("the URL names no message (;UID=)")
	}
	return u, nil
}

// nzNumber parses RFC 9051's nz-number (1 to 4294967295).
func nzNumber(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || s[0] == '0' || s[0] == '+' {
		return 0, errors.New("bad number in the URL")
	}
	return uint32(n), nil
}

// partialRange parses RFC 5092's partial-range: number ["." nz-number],
// an offset and a length in octets.
func partialRange(s string) (*imapwire.Partial, error) {
	off, length, hasLen := strings.Cut(s, ".")
	o, err := strconv.ParseUint(off, 10, 32)
	if err != nil || off == "" || off[0] == '+' {
		return nil, errors.New("bad partial range in the URL")
	}
	p := &imapwire.Partial{Offset: uint32(o), Count: math.MaxUint32}
	if hasLen {
		if p.Count, err = nzNumber(length); err != nil {
			return nil, errors.New("bad partial range in the URL")
		}
	}
	return p, nil
}
