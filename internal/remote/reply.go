package remote

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bounds on what a server may send as one reply.
const (
	maxReplyLine  = 4096 // RFC 5321 §4.5.3.1.5 says 512 octets; be lenient
	maxReplyLines = 100  // an EHLO reply lists a dozen extensions
	maxReplyText  = 1000 // characters of reply text kept for reports
)

// errGarbled means the server sent something that is not an SMTP reply.
var errGarbled = errors.New("garbled reply")

// read reads one reply (RFC 5321 §4.2) within timeout. It returns the
// reply and the text of each of its lines.
func (s *session) read(timeout time.Duration) (Reply, []string, error) {
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	var lines []string
	code := 0
	for {
		line, err := readLine(s.r)
		if err != nil {
			return Reply{}, nil, err
		}
		// "Code SP text" ends the reply, "Code - text" continues it;
		// every line has the same code (§4.2.1).
		if len(line) < 3 || !isReplyCode(line[:3]) || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return Reply{}, nil, fmt.Errorf("%w: %q", errGarbled, clip(line, 80))
		}
		c := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if code != 0 && c != code {
			return Reply{}, nil, fmt.Errorf("%w: code %d within a %d reply", errGarbled, c, code)
		}
		code = c
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		lines = append(lines, text)
		if len(lines) > maxReplyLines {
			return Reply{}, nil, fmt.Errorf("%w: more than %d lines", errGarbled, maxReplyLines)
		}
		if len(line) == 3 || line[3] == ' ' {
			break
		}
	}
	return makeReply(code, lines), lines, nil
}

// readLine reads one CRLF-terminated line (a bare LF is tolerated).
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("%w: line longer than %d bytes", errGarbled, maxReplyLine)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// isReplyCode reports whether s is a reply code: 2yz to 5yz (RFC 5321
// §4.2.1; 1yz is not used by SMTP).
func isReplyCode(s string) bool {
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

// makeReply builds a Reply, taking the enhanced status code (RFC 2034 §4)
// off the start of each line when the first line has one whose class
// matches the reply code.
func makeReply(code int, lines []string) Reply {
	rep := Reply{Code: code}
	if len(lines) > 0 {
		enh, _, _ := strings.Cut(lines[0], " ")
		if isEnhanced(enh) && int(enh[0]-'0') == code/100 {
			rep.Enhanced = enh
		}
	}
	parts := make([]string, len(lines))
	for i, l := range lines {
		if rep.Enhanced != "" {
			l = strings.TrimPrefix(strings.TrimPrefix(l, rep.Enhanced), " ")
		}
		parts[i] = l
	}
	rep.Text = cleanText(strings.Join(parts, " "))
	return rep
}

// isEnhanced reports whether s looks like class.subject.detail (RFC 3463
// §2): a 2, 4 or 5, then one to three digits, then one to three digits.
func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// cleanText keeps reply text printable ASCII and bounded, for the queue
// record, the mail log and DSNs.
func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, strings.TrimSpace(s))
	return clip(s, maxReplyText)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
