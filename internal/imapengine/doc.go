// Package imapengine is pail's IMAP connection and state machine (RFC
// 9051 §3, RFC 3501 §3) on top of internal/imapwire's reader and writer.
// It owns everything about an IMAP session that does not depend on what
// a mailbox holds:
//
//   - the per-connection loop: greeting, one command at a time, a
//     deadline on every read (shorter before login, at least 30 minutes
//     after it and in IDLE, RFC 9051 §5.4) and every write, the states
//     not authenticated, authenticated, selected and logout, and which
//     command each state takes (BAD otherwise);
//   - the commands of any state and of authentication: CAPABILITY, NOOP,
//     LOGOUT, ID (RFC 2971), STARTTLS (with the cleartext read after it
//     dropped), LOGIN and AUTHENTICATE PLAIN with SASL-IR (RFC 4959),
//     allowed only over TLS or from a trusted (loopback) address,
//     ENABLE (RFC 5161, IMAP4rev2), NAMESPACE (RFC 2342) and IDLE (RFC
//     2177), LIST "" "" (the hierarchy delimiter);
//   - the answers to bad input: BAD (or NO for a mailbox name that is not
//     valid modified UTF-7) for a malformed command, with the session
//     going on and a flood of them ending it; literals refused or
//     continued at once, bounded before login and by the APPEND limit
//     after it; sequence numbers past the end of the mailbox BAD (RFC
//     9051 §9, seq-number);
//   - untagged updates from other sessions, asked of the Session after
//     each command and while the client IDLEs;
//   - batching: a command's responses are sent with one write, and an
//     idle connection gives its read and write buffers back;
//   - hibernation (Linux, plain TCP): a logged-in session in IDLE, or
//     quiet for 5 seconds between commands, ends its goroutine and
//     leaves its descriptor to one epoll poller per Server, which starts
//     a goroutine again for the client's next bytes, a mailbox change,
//     the autologout, Shutdown or Close (hibernate.go).
//
// What the commands of the authenticated and selected states do with
// mailboxes is the Session's (internal/imapd implements it): the engine
// reads the arguments, checks the state, calls the Session, and writes the
// tagged reply from what it returns (an *Error for NO or BAD with a
// response code).
package imapengine
