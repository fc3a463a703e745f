// Package imapsort orders and threads the messages of an IMAP mailbox
// as RFC 5256 (SORT and THREAD) and RFC 5957 (SORT=DISPLAY) define: the
// base subject of a message, its sent date, the sort keys, and the
// ORDEREDSUBJECT and REFERENCES threading algorithms. It works on what
// a message says about itself (Message), never on message files, and
// knows nothing of the wire or the store.
package imapsort

import (
	"strings"

	"pail/internal/message"
)

// BaseSubject extracts the base subject of a decoded Subject (RFC 5256
// §2.1) and reports whether the subject marks a reply or a forward (a
// "(fwd)" trailer, a "Re:"/"Fw:"/"Fwd:" leader, or a "[fwd: ...]"
// wrapper was removed), which REFERENCES threading uses (§3, step 5).
func BaseSubject(subject string) (base string, replyOrForward bool) {
	// §2.1 (1): the subject is already decoded from RFC 2047; tabs and
	// line breaks become spaces, runs of spaces one space.
	s := packSpace(subject)
	for {
		// (2) Remove trailers: "(fwd)" and white space, repeatedly.
		for {
			t := strings.TrimRight(s, " ")
			if n := len(t) - len("(fwd)"); n >= 0 && strings.EqualFold(t[n:], "(fwd)") {
				t = t[:n]
				replyOrForward = true
			}
			if t == s {
				break
			}
			s = t
		}
		// (5) Repeat (3) and (4) until neither removes anything.
		for {
			changed := false
			// (3) Remove leaders: white space, or *subj-blob subj-refwd.
			for {
				if t := strings.TrimLeft(s, " "); t != s {
					s, changed = t, true
					continue
				}
				if n := leader(s); n > 0 {
					s, changed, replyOrForward = s[n:], true, true
					continue
				}
				break
			}
			// (4) Remove a leading subj-blob if what is left is a
			// non-empty subj-base.
			if n := blob(s); n > 0 && strings.TrimLeft(s[n:], " ") != "" {
				s, changed = s[n:], true
			}
			if !changed {
				break
			}
		}
		// (6) "[fwd:" ... "]": take off the wrapper and start again
		// from (2).
		if len(s) >= len("[fwd:]") && strings.EqualFold(s[:len("[fwd:")], "[fwd:") && s[len(s)-1] == ']' {
			s = s[len("[fwd:") : len(s)-1]
			replyOrForward = true
			continue
		}
		return s, replyOrForward
	}
}

// packSpace turns tabs, CR and LF into spaces and runs of spaces into
// one (RFC 5256 §2.1 step 1).
func packSpace(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' || (c == ' ' && i+1 < len(s) && s[i+1] == ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' || c == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// blob returns the length of a subj-blob at the start of s, 0 if none:
// subj-blob = "[" *BLOBCHAR "]" *WSP, where BLOBCHAR is any CHAR but
// "[" and "]" (RFC 5256 §5).
func blob(s string) int {
	if s == "" || s[0] != '[' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '[':
			return 0
		case ']':
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
			return i
		}
	}
	return 0
}

// leader returns the length of *subj-blob subj-refwd at the start of s, 0
// if there is none: subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob]
// ":" (RFC 5256 §5).
func leader(s string) int {
	i := 0
	for {
		n := blob(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	switch {
	case hasPrefixFold(s[i:], "re"):
		i += 2
	case hasPrefixFold(s[i:], "fwd"):
		i += 3
	case hasPrefixFold(s[i:], "fw"):
		i += 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blob(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// Fold canonicalizes s for the i;unicode-casemap comparator (RFC 5051
// §2, the comparator of I18NLEVEL=1 that RFC 5256 §3 requires for
// strings): message.Casemap, which SEARCH's matching shares; two folded
// strings compare as octets.
func Fold(s string) string {
	return message.Casemap(s)
}
