package imapwire

import (
	"io"
	"time"
)

// ListArgs are LIST's (RFC 9051 §6.3.9, LIST-EXTENDED RFC 5258 §3,
// LIST-STATUS RFC 5819) and LSUB's (RFC 3501 §6.3.9; LSUB sets Lsub):
// "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP
// list-return-opts].
type ListArgs struct {
	Reference string
	Patterns  []string
	Select    []string // selection options, upper case: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE
	Return    []string // return options, upper case: SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS
	Status    []string // STATUS return option's items, upper case
	Extended  bool     // selection or return options, or several patterns, were given
	Lsub      bool
}

func parseList(r *Reader) (any, error) {
	a := &ListArgs{}
	var err error
	if r.peek() == '(' {
		a.Extended = true
		if a.Select, err = r.atomList(true); err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	if a.Reference, err = r.mailboxOrEmpty(); err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		a.Extended = true
		r.pos++
		for first := true; r.peek() != ')'; first = false {
			if !first {
				if err := r.sp(); err != nil {
					return nil, err
				}
			}
			p, err := r.listMailbox()
			if err != nil {
				return nil, err
			}
			if len(a.Patterns) >= r.lim.MaxItems {
				return nil, tooBigErr("too many patterns")
			}
			a.Patterns = append(a.Patterns, p)
		}
		r.pos++
		if len(a.Patterns) == 0 {
			return nil, syntaxErr("no pattern")
		}
	} else {
		p, err := r.listMailbox()
		if err != nil {
			return nil, err
		}
		a.Patterns = []string{p}
	}
	if !r.maybeSP() {
		return a, nil
	}
	a.Extended = true
	var buf [8]byte
	kw, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	if string(kw) != "RETURN" {
		return nil, syntaxErr("expected RETURN")
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if err := r.expect('('); err != nil {
		return nil, err
	}
	for first := true; r.peek() != ')'; first = false {
		if !first {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		var buf [32]byte
		o, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		opt := intern(o)
		if opt == "STATUS" {
			if err := r.sp(); err != nil {
				return nil, err
			}
			if a.Status, err = r.atomList(false); err != nil {
				return nil, err
			}
		}
		if len(a.Return) >= r.lim.MaxItems {
			return nil, tooBigErr("too many return options")
		}
		a.Return = append(a.Return, opt)
	}
	r.pos++
	return a, nil
}

// mailboxOrEmpty reads LIST's reference name, a mailbox that may be "".
func (r *Reader) mailboxOrEmpty() (string, error) { return r.mailbox() }

func parseLsub(r *Reader) (any, error) {
	ref, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	p, err := r.listMailbox()
	if err != nil {
		return nil, err
	}
	return &ListArgs{Reference: ref, Patterns: []string{p}, Lsub: true}, nil
}

// StatusArgs are STATUS's: mailbox SP "(" status-att *(SP status-att) ")"
// (RFC 9051 §6.3.11); items upper case.
type StatusArgs struct {
	Mailbox string
	Items   []string
}

func parseStatus(r *Reader) (any, error) {
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	items, err := r.atomList(false)
	if err != nil {
		return nil, err
	}
	return &StatusArgs{Mailbox: m, Items: items}, nil
}

// AppendArgs are APPEND's: mailbox 1*append-message (RFC 9051 §6.3.12,
// MULTIAPPEND RFC 3502 §6, CATENATE RFC 4469 §5, BINARY RFC 3516 §4.4).
type AppendArgs struct {
	Mailbox  string
	Messages []AppendMessage
}

// AppendMessage is one message of APPEND: [SP flag-list] [SP date-time]
// SP (literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")").
type AppendMessage struct {
	Flags   []string
	HasDate bool
	Date    time.Time
	Binary  bool      // literal8: the server must check the content (RFC 3516 §4.4)
	Size    int64     // of the literal
	Body    io.Writer // what the Sink returned (a *bytes.Buffer without one); nil for CATENATE
	Parts   []CatPart // CATENATE's parts, in order
}

// CatPart is one part of CATENATE: a URL (RFC 5092 IMAP URL) or a TEXT
// literal copied to the Sink.
type CatPart struct {
	URL  string
	Text io.Writer
	Size int64
}

// maxAppendMessages bounds MULTIAPPEND; RFC 3502 sets none.
const maxAppendMessages = 1000

func parseAppend(r *Reader) (any, error) {
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	a := &AppendArgs{Mailbox: m, Messages: make([]AppendMessage, 0, 1)}
	for {
		if err := r.sp(); err != nil {
			return nil, err
		}
		var msg AppendMessage
		if r.peek() == '(' {
			if msg.Flags, err = r.flagList(); err != nil {
				return nil, err
			}
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		if r.peek() == '"' {
			if msg.Date, err = r.dateTime(); err != nil {
				return nil, err
			}
			msg.HasDate = true
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		switch r.peek() {
		case '{', '~':
			if msg.Body, msg.Size, msg.Binary, err = r.messageLiteral(); err != nil {
				return nil, err
			}
		default:
			var buf [16]byte
			kw, err := r.upperAtom(buf[:])
			if err != nil {
				return nil, err
			}
			if string(kw) != "CATENATE" {
				return nil, syntaxErr("expected a message literal")
			}
			if err := r.sp(); err != nil {
				return nil, err
			}
			if msg.Parts, err = r.catenate(); err != nil {
				return nil, err
			}
		}
		if len(a.Messages) >= maxAppendMessages {
			return nil, tooBigErr("more than %d messages", maxAppendMessages)
		}
		a.Messages = append(a.Messages, msg)
		if r.atEnd() {
			return a, nil
		}
	}
}

// catenate reads "(" cat-part *(SP cat-part) ")"; cat-part = text-literal
// / url; text-literal = "TEXT" SP literal; url = "URL" SP astring.
func (r *Reader) catenate() ([]CatPart, error) {
	if err := r.expect('('); err != nil {
		return nil, err
	}
	var parts []CatPart
	for first := true; r.peek() != ')'; first = false {
		if !first {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		var buf [8]byte
		kw, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
		var p CatPart
		switch string(kw) {
		case "URL":
			if p.URL, err = r.astring(); err != nil {
				return nil, err
			}
		case "TEXT":
			// RFC 4469 §5: text-literal = "TEXT" SP literal (literal8 with BINARY).
			if p.Text, p.Size, _, err = r.messageLiteral(); err != nil {
				return nil, err
			}
		default:
			return nil, syntaxErr("expected URL or TEXT")
		}
		if len(parts) >= r.lim.MaxItems {
			return nil, tooBigErr("too many CATENATE parts")
		}
		parts = append(parts, p)
	}
	r.pos++
	if len(parts) == 0 {
		return nil, syntaxErr("empty CATENATE")
	}
	return parts, nil
}

// ParseSection parses a section-spec on its own (RFC 9051 §9, without
// the brackets): the ";SECTION=" of an IMAP URL (RFC 5092 §3) that
// CATENATE names a part with, "1.2", "HEADER.FIELDS (Subject)".
func ParseSection(spec string) (*Section, error) {
	r := &Reader{line: []byte("[" + spec + "]"), lim: Limits{}.withDefaults()}
	s, err := r.section(false)
	if err != nil {
		return nil, err
	}
	if !r.atEnd() {
		return nil, syntaxErr("junk after the section at %q", r.near())
	}
	return s, nil
}
