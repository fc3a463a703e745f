package imapwire

import "strings"

// System flags (RFC 9051 §2.3.2), as the reader returns them (constant
// strings, no allocation).
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
	FlagRecent   = `\Recent` // IMAP4rev1 only
)

// flag reads flag = "\Answered" / ... / flag-keyword / flag-extension.
// System flags come back in their canonical spelling; "\*" only when
// starOK (flag-perm, not in client input).
func (r *Reader) flag() (string, error) {
	bs := r.peek() == '\\'
	if bs {
		r.pos++
	}
	b, err := r.atom()
	if err != nil {
		return "", err
	}
	if !bs {
		return string(b), nil // flag-keyword = atom
	}
	switch {
	case strings.EqualFold(string(b), "Seen"):
		return FlagSeen, nil
	case strings.EqualFold(string(b), "Answered"):
		return FlagAnswered, nil
	case strings.EqualFold(string(b), "Flagged"):
		return FlagFlagged, nil
	case strings.EqualFold(string(b), "Deleted"):
		return FlagDeleted, nil
	case strings.EqualFold(string(b), "Draft"):
		return FlagDraft, nil
	case strings.EqualFold(string(b), "Recent"):
		return FlagRecent, nil
	}
	return `\` + string(b), nil // flag-extension = "\" atom
}

// flagList reads flag-list = "(" [flag *(SP flag)] ")".
func (r *Reader) flagList() ([]string, error) {
	if err := r.expect('('); err != nil {
		return nil, err
	}
	var flags []string
	for r.peek() != ')' {
		if len(flags) > 0 {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		if len(flags) >= r.lim.MaxItems {
			return nil, tooBigErr("more than %d flags", r.lim.MaxItems)
		}
		flags = append(flags, f)
	}
	r.pos++
	return flags, nil
}

// atomList reads "(" [atom *(SP atom)] ")" upper-cased, as options lists
// are (LIST selection and return options, STATUS items, RETURN of SEARCH).
func (r *Reader) atomList(allowEmpty bool) ([]string, error) {
	if err := r.expect('('); err != nil {
		return nil, err
	}
	out := make([]string, 0, 4)
	for r.peek() != ')' {
		if len(out) > 0 {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		var buf [32]byte
		b, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		if len(out) >= r.lim.MaxItems {
			return nil, tooBigErr("more than %d list elements", r.lim.MaxItems)
		}
		out = append(out, intern(b))
	}
	r.pos++
	if !allowEmpty && len(out) == 0 {
		return nil, syntaxErr("empty list")
	}
	return out, nil
}

// intern returns a constant for a known upper-case word, else a copy.
func intern(b []byte) string {
	for _, w := range [...]string{
		"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT",
		"HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID", "SUBSCRIBED", "REMOTE",
		"RECURSIVEMATCH", "SPECIAL-USE", "CHILDREN", "STATUS", "MIN", "MAX", "ALL",
		"COUNT", "SAVE", "CONTEXT", "UPDATE", "PARTIAL", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2",
	} {
		if w == string(b) {
			return w
		}
	}
	return string(b)
}
