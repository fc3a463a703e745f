package imapwire

import (
	"errors"
	"fmt"
)

// Error classes, for errors.Is on an *Error.
var (
	// ErrSyntax: the command does not follow the grammar (BAD).
	ErrSyntax = errors.New("syntax error")
	// ErrTooBig: a line, command, literal, list or nesting over its bound.
	ErrTooBig = errors.New("too big")
	// ErrMailboxName: a mailbox name that is not valid modified UTF-7
	// (RFC 3501 §5.1.3) or UTF-8, or that holds a control character (NO).
	ErrMailboxName = errors.New("invalid mailbox name")
	// ErrUnknownCommand: a command name the package does not know (BAD).
	ErrUnknownCommand = errors.New("unknown command")
	// ErrRefused: Options.Continue or Options.Sink refused a literal.
	ErrRefused = errors.New("literal refused")
)

// Error is a command the Reader could not read. The Reader has already
// resynchronized when it returns one (unless Fatal): the server answers
// "Tag Status [Code] Msg" ("*" when Tag is empty) and reads on.
type Error struct {
	Tag     string // the command's tag; "" when none was read
	Command string // the command's name when it was read
	Status  string // "BAD" or "NO": the reply the input deserves
	Code    string // a response code for the reply ("TOOBIG", "CLIENTBUG"), or ""
	Msg     string // human-readable text for the reply
	Class   error  // one of the Err* classes above
	Fatal   bool   // the stream cannot be resynchronized: answer BYE and close
	Err     error  // the cause, when it came from a callback
}

// Error implements error.
func (e *Error) Error() string {
	s := "imapwire: " + e.Msg
	if e.Command != "" {
		s = "imapwire: " + e.Command + ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives the class and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Class, e.Err}
	}
	return []error{e.Class}
}

// syntaxErr makes a syntax error; the tag and command are filled in by
// ReadCommand.
func syntaxErr(format string, args ...any) *Error {
	return &Error{Status: "BAD", Class: ErrSyntax, Msg: fmt.Sprintf(format, args...)}
}

// tooBigErr makes a bound error answered BAD [TOOBIG].
func tooBigErr(format string, args ...any) *Error {
	return &Error{Status: "BAD", Code: "TOOBIG", Class: ErrTooBig, Msg: fmt.Sprintf(format, args...)}
}

// mailboxErr makes a mailbox name error, answered NO (RFC 9051 §5.1: the
// name is syntactically a string, its content is what is refused).
func mailboxErr(format string, args ...any) *Error {
	return &Error{Status: "NO", Class: ErrMailboxName, Msg: fmt.Sprintf(format, args...)}
}
