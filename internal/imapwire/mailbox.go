package imapwire

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// mailbox reads RFC 9051 §9 mailbox = "INBOX" / astring, decoded to UTF-8
// (modified UTF-7 unless UTF8 mode), "INBOX" in any case as "INBOX".
func (r *Reader) mailbox() (string, error) {
	b, err := r.nameStr(kAString)
	if err != nil {
		return "", err
	}
	return r.decodeName(b, false)
}

// listMailbox reads list-mailbox = 1*list-char / string: a mailbox name
// or a LIST pattern with "%" and "*".
func (r *Reader) listMailbox() (string, error) {
	b, err := r.nameStr(kList)
	if err != nil {
		return "", err
	}
	return r.decodeName(b, true)
}

// nameStr reads a mailbox name's string. A NUL in a literal (CHAR8
// excludes it, RFC 9051 §9) is left to decodeName, which answers NO with
// its reason: the string is well formed, the name is what is refused.
func (r *Reader) nameStr(k strKind) ([]byte, error) {
	if r.peek() == '{' {
		b, _, err := r.literalNUL(false, true)
		return b, err
	}
	return r.str(k)
}

// decodeName turns a name's wire bytes into UTF-8 and validates it.
func (r *Reader) decodeName(b []byte, _ bool) (string, error) {
	if len(b) == 5 && strings.EqualFold(string(b), "INBOX") {
		return "INBOX", nil // RFC 9051 §5.1: INBOX is case-insensitive
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", mailboxErr("NUL in mailbox name")
	}
	var name string
	if r.opt.UTF8 {
		if !utf8.Valid(b) {
			return "", mailboxErr("mailbox name is not UTF-8")
		}
		name = string(b)
	} else {
		var err error
		if name, err = DecodeUTF7(string(b)); err != nil {
			return "", mailboxErr("mailbox name is not valid modified UTF-7")
		}
	}
	for _, c := range name {
		// RFC 9051 §5.1: names are Net-Unicode (RFC 5198): no controls.
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return "", mailboxErr("control character in mailbox name")
		}
	}
	return name, nil
}
