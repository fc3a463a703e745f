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
//
// Wiring it: compile at upload (Compile; its *Error has the line and
// column to show), store the source, compile again (or cache the
// *Script) at delivery, and call Run with an Input: the Message (or
// NewMessage over the bytes), the Envelope, the spam Verdict, the
// user's addresses, and the Mailboxes, DuplicateStore and ScriptLoader
// the script's extensions need. Then act on Result.Actions in order,
// store Result.Duplicates once the message is delivered, and send a
// Vacation only when its Suppress is empty and no answer went to that
// sender with that handle within its Period.
package sieve
