package smtpd

import (
	"bytes"
	"io"
)

// maxHops is the most Received fields a message may carry before it is
// taken for a mail loop (RFC 5321 §6.3: "a simple counting of the number of
// Received header fields"; Postfix's hopcount_limit is 50, we allow 100).
const maxHops = 100

// hopCounter passes message content on, counting the Received fields of the
// header section, and fails once there are more than maxHops.
type hopCounter struct {
	w       io.Writer
	hops    int
	done    bool // the header section has ended
	lineLen int  // bytes of the current line seen so far
	prefix  [9]byte
}

func (h *hopCounter) Write(p []byte) (int, error) {
	if !h.done {
		for _, b := range p {
			if h.lineLen < len(h.prefix) {
				h.prefix[h.lineLen] = b
			}
			h.lineLen++
			if b != '\n' {
				continue
			}
			if h.lineLen <= 2 { // an empty line ends the header section
				h.done = true
				break
			}
			if h.lineLen > len(h.prefix) && bytes.EqualFold(h.prefix[:], []byte("received:")) {
				h.hops++
				if h.hops > maxHops {
					return 0, errLoop
				}
			}
			h.lineLen = 0
		}
	}
	return h.w.Write(p)
}
