// Package maillog writes the mail log: one stable line per mail event
// (received, delivered, queued, deferred, bounced, rejected, auth failures),
// for operators and their scripts, like Postfix's maillog. Debugging output
// goes to log/slog instead.
//
// A line is an RFC 3339 UTC timestamp with milliseconds, the event name, and
// key=value fields in the order given; a value that is empty or contains
// spaces, quotes, '=' or control characters is written as a Go quoted string:
//
//	2026-11-25T18:30:00.123Z received id=5f2a from=<jack@town.com> to=<jill@hill.com> size=512 client=192.0.2.1 proto=ESMTP
package maillog

import (
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event names.
const (
	Received   = "received"    // a message was accepted with 250
	Delivered  = "delivered"   // a message was stored in a local mailbox or accepted by a remote server
	Queued     = "queued"      // a message was put on the outgoing queue
	Deferred   = "deferred"    // a delivery attempt failed temporarily
	Bounced    = "bounced"     // delivery failed for good; a DSN was sent
	Rejected   = "rejected"    // a recipient or message was refused
	AuthFailed = "auth-failed" // a login failed
)

// Logger writes mail log lines. It is safe for concurrent use; a nil
// *Logger discards everything.
type Logger struct {
	mu sync.Mutex
	w  io.Writer
	// Now returns the time stamped on each line; tests replace it.
	Now func() time.Time
	// Count, when set, is called with each event name, for metrics. Set it
	// before the Logger is used.
	Count func(event string)
}

// New returns a Logger writing to w.
func New(w io.Writer) *Logger {
	return &Logger{w: w, Now: time.Now}
}

// Log writes one event line. kv alternates keys and values.
func (l *Logger) Log(event string, kv ...string) {
	if l == nil {
		return
	}
	if l.Count != nil {
		l.Count(event)
	}
	var b strings.Builder
	b.WriteString(l.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte(' ')
	b.WriteString(event)
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteByte(' ')
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(quote(kv[i+1]))
	}
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, b.String())
}

func quote(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool {
		return r <= ' ' || r == '"' || r == '=' || r == 0x7f
	}) {
		return strconv.Quote(v)
	}
	return v
}
