// Package imapwire is pail's IMAP wire layer: the syntax of IMAP4rev2 and
// IMAP4rev1 (RFC 9051 §9, RFC 3501 §9) with the extensions whose grammar
// the server reads or writes (LITERAL+/LITERAL- RFC 7888, literal8 RFC
// 3516, the extended command syntax of RFC 4466, SEARCHRES's "$" RFC 5182,
// CONDSTORE/QRESYNC RFC 7162, LIST-EXTENDED RFC 5258, MULTIAPPEND RFC 3502,
// CATENATE RFC 4469, SORT/THREAD RFC 5256, ESEARCH RFC 4731, ESORT and
// CONTEXT RFC 5267, WITHIN RFC 5032, ID RFC 2971, QUOTA RFC 9208, COMPRESS
// RFC 4978, SASL-IR RFC 4959).
// It knows nothing of mailboxes, sessions or states: a connection loop
// above it decides what a command means.
//
// # Reading
//
// A Reader reads one command at a time from a bufio.Reader with
// ReadCommand, which returns a Command: tag, upper-case name, the UID
// prefix, and the arguments in a small typed form (Args, one struct type
// per command). It is streaming: a command line is read in segments that
// end at CRLF, a literal's bytes are read only once the segment that
// announces it has been read, and the Reader tells its caller about each
// literal before it reads any of its bytes (Options.Continue): for a
// synchronizing literal the caller answers "+" at once or refuses it, and
// the refusal becomes the command's error (RFC 9051 §4.3, §7.5). A
// message literal of APPEND (and a CATENATE TEXT part) is copied to a
// writer the caller chooses (Options.Sink), so that a message never has
// to sit in memory.
//
// Every read is bounded (Limits): the bytes of one line, of one command,
// of a literal read into memory, of a message literal, the nesting depth
// of parentheses and the elements of one list. A non-synchronizing
// literal over 4096 bytes is refused under LITERAL- (RFC 7888 §5).
//
// # Errors and resynchronization
//
// A malformed or refused command yields an *Error carrying the tag when
// one was read, the reply status the client's input deserves (BAD for
// syntax, NO for a mailbox name that is not valid modified UTF-7 or
// carries a control character, NO [TOOBIG] for a message literal over the
// bound), an optional response code, and the error class (ErrSyntax,
// ErrTooBig, ErrMailboxName, ErrUnknownCommand, ErrRefused) for
// errors.Is. Before it returns such an error the Reader has resynchronized:
// it consumed the rest of the command, skipping the data of every
// non-synchronizing literal (and of a synchronizing one it had already
// accepted), and stopped where a synchronizing literal it did not accept
// would have begun, since the client waits for a "+" that never comes.
// The next ReadCommand then reads the next command. When that is not
// possible (the data to skip is over Limits.MaxDiscard) the Error is
// Fatal: the server answers BYE and closes. Any error that is not an
// *Error comes from the connection (EOF, a deadline) and ends the session.
//
// # Writing
//
// A Writer encodes responses into a bufio.Writer: status responses with
// response codes (Code), continuation requests, and the data of FETCH,
// LIST, STATUS, SEARCH/ESEARCH, VANISHED and the rest. Strings are written
// in the cheapest form the grammar allows (atom, quoted, literal; literal8
// only where a NUL is carried and RFC 3516 allows it). The Writer never
// flushes by itself: the caller batches a whole command's responses and
// calls Flush once (bufio may still write when its buffer fills).
//
// # Driving it
//
// A server makes one Reader and one Writer per connection, sets a read
// deadline, calls ReadCommand, and answers: an *Error with
// "tag BAD/NO [code] text" (or "* BAD" without a tag) and carries on,
// closing after too many; any other error by closing. After ENABLE
// UTF8=ACCEPT or IMAP4rev2 it calls SetUTF8 on both. IDLE's DONE and the
// lines of an AUTHENTICATE exchange are read with ReadLine.
package imapwire
