package delivery

import (
	"bytes"
	"strings"
)

// maxHeaderLine bounds how much of one header line the scanner keeps.
const maxHeaderLine = 1000

// messageIDScanner finds the Message-ID field (RFC 5322 §3.6.4) in message
// content as it streams past, without holding the message.
type messageIDScanner struct {
	done    bool   // the header section has ended
	line    []byte // the current line, up to maxHeaderLine bytes
	found   string
	pending bool // "Message-ID:" seen with an empty value: take the next folded line
}

func (s *messageIDScanner) scan(p []byte) {
	for len(p) > 0 && !s.done {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i+1]
		}
		if room := maxHeaderLine - len(s.line); room > 0 {
			s.line = append(s.line, chunk[:min(room, len(chunk))]...)
		}
		p = p[len(chunk):]
		if i >= 0 {
			s.endLine()
		}
	}
}

func (s *messageIDScanner) endLine() {
	line := strings.TrimRight(string(s.line), "\r\n")
	s.line = s.line[:0]
	switch {
	case line == "":
		s.done = true
	case s.pending && (line[0] == ' ' || line[0] == '\t'):
		s.found, s.pending = strings.TrimSpace(line), false
	case s.found == "" && len(line) >= len("message-id:") && strings.EqualFold(line[:len("message-id:")], "message-id:"):
		s.found = strings.TrimSpace(line[len("message-id:"):])
		s.pending = s.found == ""
	default:
		s.pending = false
	}
}

// id returns the Message-ID found, or "" (none, or not a <...> id).
func (s *messageIDScanner) id() string {
	if len(s.found) < 3 || s.found[0] != '<' || !strings.HasSuffix(s.found, ">") {
		return ""
	}
	return s.found
}
