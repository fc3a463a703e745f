package sieve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// Message is the message a script filters, as delivery holds it.
type Message interface {
	// Header returns the header section as received: the fields, with
	// CRLF or LF line ends; the blank line after it may be included.
	Header() []byte
	// Size is the message's size in octets (RFC 5228 §5.9).
	Size() int64
	// Body returns the body (what follows the header's blank line) as
	// received, for the body test; the interpreter reads at most
	// Limits.MaxBodyBytes of it.
	Body() (io.Reader, error)
}

// Envelope is the SMTP envelope of one delivery (RFC 5228 §5.4).
type Envelope struct {
	// From is the MAIL FROM address, "" for the null sender.
	From string
	// To is the RCPT TO address this run is for, before alias expansion.
	To string
}

// Verdict is the spam and virus judgement made before the script runs,
// for spamtest and virustest (RFC 5235).
type Verdict struct {
	// SpamTested says the message went through a spam check.
	SpamTested bool
	// SpamScore is 1 (certainly not spam) to 10 (certainly spam), RFC
	// 5235 §3.2.1.
	SpamScore int
	// SpamPercent is 0 (certainly not spam) to 100 (certainly spam),
	// for spamtest :percent (§3.2.2).
	SpamPercent int
	// VirusTested says the message went through a virus check.
	VirusTested bool
	// Virus is 1 (no virus) to 5 (known virus) as RFC 5235 §3.3 defines.
	Virus int
}

// Mailboxes answers whether a mailbox of the recipient exists, for the
// mailboxexists test (RFC 5490 §3.1).
type Mailboxes interface {
	MailboxExists(ctx context.Context, name string) (bool, error)
}

// DuplicateStore answers whether a duplicate-tracking key has been
// recorded and has not yet expired (RFC 7352 §3). Recording is the
// caller's, after the message is delivered: see Result.Duplicates.
type DuplicateStore interface {
	Seen(ctx context.Context, key string) (bool, error)
}

// ScriptLoader loads a script for include (RFC 6609 §3.2): the
// recipient's own (personal) or one of the site's (global). A script
// that does not exist is ErrNoScript, or an error wrapping it.
type ScriptLoader interface {
	LoadScript(ctx context.Context, global bool, name string) ([]byte, error)
}

// ErrNoScript is what a ScriptLoader returns for a script that does not
// exist; include :optional then goes on (RFC 6609 §3.2).
var ErrNoScript = errors.New("sieve: no such script")

// Input is everything one run of a script reads besides the script.
type Input struct {
	Message  Message
	Envelope Envelope
	Verdict  Verdict
	// Now is the time currentdate sees; zero means time.Now().
	Now time.Time
	// Location is the zone dates are shown in when a test gives no
	// :zone (RFC 5260 §4.1: the implementation's local zone); nil is UTC.
	Location *time.Location
	// UserAddresses are the recipient's own addresses (the envelope To is
	// added): vacation does not answer mail not sent to one of them
	// (RFC 5230 §4.5).
	UserAddresses []string
	// Separator is the subaddress separator (RFC 5233); "" is "+".
	Separator string

	// Mailboxes, Duplicates and Scripts serve mailboxexists, duplicate
	// and include; a script that uses one left nil fails at run time.
	Mailboxes  Mailboxes
	Duplicates DuplicateStore
	Scripts    ScriptLoader
}

// rawMessage is a Message over the bytes of a whole message.
type rawMessage struct {
	header, body []byte
	size         int64
}

// NewMessage returns a Message over a whole message's bytes, split at
// the first empty line.
func NewMessage(raw []byte) Message {
	m := &rawMessage{header: raw, size: int64(len(raw))}
	end := -1
	switch {
	case bytes.HasPrefix(raw, []byte("\r\n")):
		end = 2
	case bytes.HasPrefix(raw, []byte("\n")):
		end = 1
	default:
		i := bytes.Index(raw, []byte("\n\r\n"))
		j := bytes.Index(raw, []byte("\n\n"))
		switch {
		case i >= 0 && (j < 0 || i < j):
			end = i + 3
		case j >= 0:
			end = j + 2
		}
	}
	if end >= 0 {
		m.header, m.body = raw[:end], raw[end:]
	}
	return m
}

func (m *rawMessage) Header() []byte           { return m.header }
func (m *rawMessage) Size() int64              { return m.size }
func (m *rawMessage) Body() (io.Reader, error) { return bytes.NewReader(m.body), nil }
