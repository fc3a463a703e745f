package smtpserver

import (
	"errors"
	"strconv"
)

// Error is an SMTP reply that refuses a command. A Session returns one
// from Mail, Rcpt, Data or a SASL check; the connection loop is the one
// place that turns it into a reply. Any other error from a Session is
// answered 451 4.3.0, never with its text.
type Error struct {
	Code     int    // the reply code: 4yz or 5yz (RFC 5321 §4.2)
	Enhanced string // the enhanced status code (RFC 3463), "5.1.1"
	Message  string
	// Close ends the session after the reply (RFC 5321 §3.8 lets a server
	// close after a reply it sends).
	Close bool
}

func (e *Error) Error() string {
	return "smtp: " + strconv.Itoa(e.Code) + " " + e.Enhanced + " " + e.Message
}

// Replies a Session returns in the SASL exchange (RFC 4954 §6).
var (
	// ErrAuthFailed: the credentials are wrong.
	ErrAuthFailed = &Error{Code: 535, Enhanced: "5.7.8", Message: "Authentication credentials invalid"}
	// ErrAuthUnknownMechanism: the mechanism is not offered.
	ErrAuthUnknownMechanism = &Error{Code: 504, Enhanced: "5.5.4", Message: "Unrecognized authentication type"}
)

// ErrDataReset is what the message reader returns to Session.Data when
// the client ends a BDAT transfer before its LAST chunk (RSET, QUIT, a new
// greeting; RFC 3030 §3) or goes away in the middle.
var ErrDataReset = errors.New("smtp: message transmission aborted")

// ErrTooLarge is the reply to content over Config.MaxMessageBytes
// (RFC 1870 §6, RFC 3463 §3.4: 5.3.4 message too big for system).
var ErrTooLarge = &Error{Code: 552, Enhanced: "5.3.4", Message: "Message exceeds the maximum size"}

// The loop's own refusals. Codes per RFC 5321 §4.2.4 (500 unrecognized,
// 501 bad arguments, 502 not implemented, 503 bad sequence, 555 unknown
// MAIL/RCPT parameter) with the enhanced codes of RFC 3463 §3.6 (5.5.1
// invalid command, 5.5.2 syntax error: a command that cannot be
// interpreted, 5.5.4 invalid arguments).
var (
	errUnknownCommand = &Error{Code: 500, Enhanced: "5.5.2", Message: "Command unrecognized"}
	errEmptyLine      = &Error{Code: 500, Enhanced: "5.5.2", Message: "Empty command line"}
	errLineTooLong    = &Error{Code: 500, Enhanced: "5.5.2", Message: "Line too long, closing connection", Close: true}
	errNotImplemented = &Error{Code: 502, Enhanced: "5.5.1", Message: "Command not implemented"}
	errNoArgs         = &Error{Code: 501, Enhanced: "5.5.4", Message: "This command takes no arguments"}
	errHelloArg       = &Error{Code: 501, Enhanced: "5.5.4", Message: "Domain or address literal required"}
	errMailSyntax     = &Error{Code: 501, Enhanced: "5.5.2", Message: "Syntax: MAIL FROM:<address> [parameters]"}
	errRcptSyntax     = &Error{Code: 501, Enhanced: "5.5.2", Message: "Syntax: RCPT TO:<address> [parameters]"}
	errVrfySyntax     = &Error{Code: 501, Enhanced: "5.5.4", Message: "Syntax: VRFY <string>"}
	errBdatSyntax     = &Error{Code: 501, Enhanced: "5.5.4", Message: "Syntax: BDAT <size> [LAST]"}
	errAuthSyntax     = &Error{Code: 501, Enhanced: "5.5.4", Message: "Syntax: AUTH <mechanism> [initial-response]"}
	errBadBase64      = &Error{Code: 501, Enhanced: "5.5.2", Message: "Invalid base64 data"}
	errAuthCancelled  = &Error{Code: 501, Enhanced: "5.7.0", Message: "Authentication cancelled"}
	errNoHello        = &Error{Code: 503, Enhanced: "5.5.1", Message: "Send EHLO or HELO first"}
	errNestedMail     = &Error{Code: 503, Enhanced: "5.5.1", Message: "Sender already given; use RSET first"}
	errNoMail         = &Error{Code: 503, Enhanced: "5.5.1", Message: "Need MAIL before RCPT"}
	errNoRcpt         = &Error{Code: 503, Enhanced: "5.5.1", Message: "Need RCPT before DATA or BDAT"}
	errInChunks       = &Error{Code: 503, Enhanced: "5.5.1", Message: "Only BDAT, RSET, NOOP or QUIT during a chunked message"}
	errAlreadyTLS     = &Error{Code: 503, Enhanced: "5.5.1", Message: "TLS already active"}
	errNoTLS          = &Error{Code: 502, Enhanced: "5.5.1", Message: "STARTTLS not offered"}
	errNoAuth         = &Error{Code: 502, Enhanced: "5.5.1", Message: "AUTH not offered"}
	errAuthTwice      = &Error{Code: 503, Enhanced: "5.5.1", Message: "Already authenticated"}
	errAuthInMail     = &Error{Code: 503, Enhanced: "5.5.1", Message: "AUTH not permitted during a mail transaction"}
	errUnknownParam   = &Error{Code: 555, Enhanced: "5.5.4", Message: "Parameter not recognized or not implemented"}
	errBadParam       = &Error{Code: 501, Enhanced: "5.5.4", Message: "Invalid parameter value"}
	errTooManyRcpts   = &Error{Code: 452, Enhanced: "4.5.3", Message: "Too many recipients"}
	errTooManyErrors  = &Error{Code: 421, Enhanced: "4.7.0", Message: "Too many errors, closing connection", Close: true}
	errInternal       = &Error{Code: 451, Enhanced: "4.3.0", Message: "Local error, try again later"}
	errPanic          = &Error{Code: 421, Enhanced: "4.3.0", Message: "Internal error, closing connection", Close: true}
)
