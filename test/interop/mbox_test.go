//go:build interop

package interop

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
)

// mboxMessage is one message of a `pail export` mbox.
type mboxMessage struct {
	// Separator is the "From " line that starts the message, without the
	// newline.
	Separator string
	// Raw is the message with LF line endings and mboxrd quoting undone.
	Raw []byte
}

// quotedFrom matches a body line that mboxrd quoted: ">From ", ">>From ", ...
var quotedFrom = regexp.MustCompile(`^>+From `)

// parseMbox splits an mboxrd file (LF line endings, "From " separator lines,
// ">From " quoting) into messages.
func parseMbox(b []byte) ([]mboxMessage, error) {
	if bytes.Contains(b, []byte("\r\n")) {
		return nil, errors.New("export has CRLF line endings; mbox uses LF")
	}
	if len(b) == 0 {
		return nil, nil
	}
	if !bytes.HasPrefix(b, []byte("From ")) {
		return nil, errors.New(`export does not start with a "From " line`)
	}
	if !bytes.HasSuffix(b, []byte("\n")) {
		return nil, errors.New("export does not end with a newline")
	}

	var msgs []mboxMessage
	var cur *mboxMessage
	var body strings.Builder
	flush := func() {
		if cur == nil {
			return
		}
		// The blank line before the next separator belongs to the mbox,
		// not to the message.
		raw := strings.TrimSuffix(body.String(), "\n")
		if !strings.HasSuffix(raw, "\n") {
			raw += "\n"
		}
		cur.Raw = []byte(raw)
		msgs = append(msgs, *cur)
		body.Reset()
	}
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "From ") {
			flush()
			cur = &mboxMessage{Separator: strings.TrimSuffix(line, "\n")}
			continue
		}
		if quotedFrom.MatchString(line) {
			line = line[1:]
		}
		body.WriteString(line)
	}
	flush()
	return msgs, nil
}

// header returns the first value of a header field, unfolded but not
// decoded, or "" when the message has no such field.
func (m mboxMessage) header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return ""
	}
	return msg.Header.Get(name)
}

// headers returns every value of a header field.
func (m mboxMessage) headers(name string) []string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return nil
	}
	return msg.Header[textproto.CanonicalMIMEHeaderKey(name)]
}

// body returns what follows the header section.
func (m mboxMessage) body() []byte {
	if i := bytes.Index(m.Raw, []byte("\n\n")); i >= 0 {
		return m.Raw[i+2:]
	}
	return nil
}

// firstLine returns the message's first line.
func (m mboxMessage) firstLine() string {
	line, _, _ := strings.Cut(string(m.Raw), "\n")
	return line
}

// withSubject returns the messages whose raw Subject equals subject.
func withSubject(msgs []mboxMessage, subject string) []mboxMessage {
	var out []mboxMessage
	for _, m := range msgs {
		if m.header("Subject") == subject {
			out = append(out, m)
		}
	}
	return out
}

// oneWithSubject returns the only message with that subject, and fails the
// test unless there is exactly one.
func oneWithSubject(t *testing.T, msgs []mboxMessage, subject, mailbox string) mboxMessage {
	t.Helper()
	found := withSubject(msgs, subject)
	if len(found) != 1 {
		t.Fatalf("%s: %d messages with Subject %q, want 1; mailbox has:\n%s",
			mailbox, len(found), subject, summary(msgs))
	}
	return found[0]
}

// summary lists messages by separator and subject for failure messages.
func summary(msgs []mboxMessage) string {
	if len(msgs) == 0 {
		return "  (no messages)\n"
	}
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "  %d: %s | Subject: %s\n", i+1, m.Separator, m.header("Subject"))
	}
	return b.String()
}

// checkTrace checks what the MX must add to every delivered message:
// Return-Path first (RFC 5321 §4.4) and a Received line by this host.
func checkTrace(t *testing.T, m mboxMessage, sender string) {
	t.Helper()
	if got, want := m.firstLine(), "Return-Path: <"+sender+">"; got != want {
		t.Errorf("first header line = %q, want %q", got, want)
	}
	var ok bool
	for _, r := range m.headers("Received") {
		r = strings.Join(strings.Fields(r), " ")
		if strings.HasPrefix(r, "from ") && strings.Contains(r, "by "+testHostname) {
			ok = true
		}
	}
	if !ok {
		t.Errorf("no %q Received header; headers:\n%s", "from ... by "+testHostname, headerBlock(m))
	}
}

// headerBlock returns the header section of m for failure messages.
func headerBlock(m mboxMessage) string {
	h, _, _ := strings.Cut(string(m.Raw), "\n\n")
	return h
}
