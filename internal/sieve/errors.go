package sieve

import "fmt"

// Pos is a place in a script: line and column (in characters), both
// counted from 1.
type Pos struct {
	Line, Col int
}

// Error is a compile-time error: what is wrong and where in the script.
type Error struct {
	Pos
	Msg string
}

// Error renders the error as "line L, column C: message", the form
// ManageSieve and the webmail show to the script's author.
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// errAt builds an *Error at p.
func errAt(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// RuntimeError is an error while running a script: a bound broken, an
// action conflict, a failing dependency. The caller keeps the message
// (RFC 5228 §2.10.6) and logs the error.
type RuntimeError struct {
	Pos
	// Script names the included script the position is in ("" for the
	// script that was run).
	Script string
	Msg    string
	Err    error // the cause, if a dependency failed
}

// Error renders the run-time error with the place of the command that
// failed.
func (e *RuntimeError) Error() string {
	where := ""
	if e.Script != "" {
		where = " of included " + e.Script
	}
	s := fmt.Sprintf("sieve: line %d, column %d%s: %s", e.Line, e.Col, where, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *RuntimeError) Unwrap() error { return e.Err }
