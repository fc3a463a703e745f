package imapwire

import (
	"strings"
	"unicode/utf8"
)

// mailbox reads RFC 9051 §9 mailbox = "INBOX" / astring, decoded to UTF-8
// (modified UTF-7 unless UTF8 mode), "INBOX" in any case as "INBOX".
func (r *Reader) mailbox() (string, error) {
	b, err := r.str(kAString)
	if err != nil {
		return "", err
	}
	return r.decodeName(b, false)
}

// listMailbox reads list-mailbox = 1*list-char / string: a mailbox name
// or a LIST pattern with "%" and "*".
func (r *Reader) listMailbox() (string, error) {
	b, err := r.str(kList)
	if err != nil {
		return "", err
	}
	return r.decodeName(b, true)
}

// decodeName turns a name's wire bytes into UTF-8 and validates it.
func (r *Reader) decodeName(b []byte, _ bool) (string, error) {
	if len(b) == 5 && strings.EqualFold(string(b), "INBOX") {
		return "INBOX", nil // RFC 9051 §5.1: INBOX is case-insensitive
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
