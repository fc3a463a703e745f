// Package sieve owns Sieve mail filtering (RFC 5228): the parser of the
// language's grammar (§8), the validator that checks each command and
// test against its extension's definition, and the interpreter that runs
// a compiled script against one message for one recipient and returns
// the actions to take. It performs no action itself: delivery files,
// redirects, rejects and answers with vacation as the returned Result
// says, through the small interfaces in env.go.
//
// Every size is bounded twice: at compile time (Limits: script size,
// nesting, commands, strings) and at run time (steps, variable sizes,
// redirects, actions, includes). A script that breaks a run-time bound
// or fails otherwise returns an error; the caller then keeps the message
// in the INBOX (implicit keep, RFC 5228 §2.10.6).
package sieve
