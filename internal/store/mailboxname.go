package store

import (
	"errors"
	"strings"
)

// Delimiter separates the levels of a mailbox name ("Lists/go").
const Delimiter = '/'

// MaxMailboxNameLen bounds mailbox names, in bytes.
const MaxMailboxNameLen = 512

// ErrBadName is returned by CleanMailboxName for a name no mailbox may
// have.
var ErrBadName = errors.New("store: invalid mailbox name")

// CleanMailboxName checks a mailbox name given by a user (over IMAP or
// webmail) and returns it with a trailing delimiter removed (RFC 9051
// §6.3.4) and INBOX in its canonical case. A name has no empty level, no
// IMAP wildcard ("*", "%") and no control character. Names never carry an
// account: every lookup is within one account, so no spelling reaches
// another user's mail.
func CleanMailboxName(name string) (string, error) {
	name = strings.TrimSuffix(name, string(Delimiter))
	switch {
	case name == "", len(name) > MaxMailboxNameLen,
		strings.HasPrefix(name, string(Delimiter)),
		strings.Contains(name, string(Delimiter)+string(Delimiter)),
		strings.ContainsAny(name, "*%"),
		strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "", ErrBadName
	}
	return canonicalName(name), nil
}
