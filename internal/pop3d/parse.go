package pop3d

import (
	"errors"
	"strconv"
	"strings"
)

// Line bounds.
const (
	// maxCommandLine is the longest command line accepted. RFC 2449 §4:
	// a command line is at most 255 octets, including the CRLF.
	maxCommandLine = 255
	// maxSASLLine bounds a client's SASL response line (the answer to a
	// "+ " continuation), which is not a command line; PLAIN needs far
	// less.
	maxSASLLine = 2048
	// maxDiscard is how much of an over-long line is read and thrown away
	// before the session is closed instead.
	maxDiscard = 64 << 10
)

// command is one parsed command line.
type command struct {
	name string   // the keyword in upper case
	args []string // the arguments, split at spaces
	rest string   // everything after the keyword and one space, as sent
}

// Errors from parseCommand; each becomes a -ERR reply.
var (
	errEmptyLine  = errors.New("empty command line")
	errBadChars   = errors.New("control characters in command line")
	errBadKeyword = errors.New("unknown command")
)

// parseCommand splits a command line (its CRLF removed) into keyword and
// arguments. RFC 1939 §3: a keyword of three or four characters,
// case-insensitive, then arguments separated by single spaces. Arguments may
// hold any octet but controls (a password may be UTF-8); runs of spaces are
// tolerated. PASS uses rest, since a password may contain spaces (RFC 1939
// §7).
func parseCommand(line string) (command, error) {
	if line == "" {
		return command{}, errEmptyLine
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < ' ' || c == 0x7f {
			return command{}, errBadChars
		}
	}
	kw, rest, _ := strings.Cut(line, " ")
	if len(kw) < 3 || len(kw) > 4 {
		return command{}, errBadKeyword
	}
	for i := 0; i < len(kw); i++ {
		c := kw[i] | 0x20 // ASCII lower case
		if c < 'a' || c > 'z' {
			return command{}, errBadKeyword
		}
	}
	return command{name: strings.ToUpper(kw), args: strings.Fields(rest), rest: rest}, nil
}

// parseNumber reads a message number or line count: decimal digits only,
// at most nine of them so that the value fits any int.
func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
