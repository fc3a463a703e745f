package imapwire

import "strconv"

// Code is a response code (RFC 9051 §7.1, resp-text-code): a name and
// its already-encoded arguments. Codes without arguments are values of
// the Code* variables' kind made with NewCode.
type Code struct {
	Name string
	Arg  string // encoded; "" for none
}

// NewCode returns a code without arguments: ALERT, ALREADYEXISTS,
// AUTHENTICATIONFAILED, AUTHORIZATIONFAILED, CANNOT, CLIENTBUG, CLOSED,
// CONTACTADMIN, CORRUPTION, EXPIRED, EXPUNGEISSUED, HASCHILDREN, INUSE,
// LIMIT, NONEXISTENT, NOPERM, NOMODSEQ, OVERQUOTA, PARSE,
// PRIVACYREQUIRED, READ-ONLY, READ-WRITE, SERVERBUG, TOOBIG, TRYCREATE,
// UIDNOTSTICKY, UNAVAILABLE, UNKNOWN-CTE, COMPRESSIONACTIVE, NOTSAVED.
func NewCode(name string) *Code { return &Code{Name: name} }

// CodeNumber returns a code with one number: UIDNEXT, UIDVALIDITY,
// UNSEEN, HIGHESTMODSEQ (RFC 7162 §3.1.2), APPENDLIMIT (RFC 7889).
func CodeNumber(name string, n uint64) *Code {
	return &Code{Name: name, Arg: strconv.FormatUint(n, 10)}
}

// CodeCapability returns [CAPABILITY ...].
func CodeCapability(caps []string) *Code { return &Code{Name: "CAPABILITY", Arg: join(caps)} }

// CodePermanentFlags returns [PERMANENTFLAGS (...)], with "\*" as given.
func CodePermanentFlags(flags []string) *Code {
	return &Code{Name: "PERMANENTFLAGS", Arg: "(" + join(flags) + ")"}
}

// CodeBadCharset returns [BADCHARSET (charsets)] (RFC 9051 §7.1).
func CodeBadCharset(charsets []string) *Code {
	b := []byte{'('}
	for i, c := range charsets {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendAString(b, c, false)
	}
	return &Code{Name: "BADCHARSET", Arg: string(append(b, ')'))}
}

// CodeAppendUID returns [APPENDUID uidvalidity uids] (RFC 4315 §3).
func CodeAppendUID(uidValidity uint32, uids SeqSet) *Code {
	b := strconv.AppendUint(nil, uint64(uidValidity), 10)
	b = append(b, ' ')
	return &Code{Name: "APPENDUID", Arg: string(uids.AppendTo(b))}
}

// CodeCopyUID returns [COPYUID uidvalidity source-uids dest-uids] (RFC
// 4315 §3).
func CodeCopyUID(uidValidity uint32, src, dst SeqSet) *Code {
	b := strconv.AppendUint(nil, uint64(uidValidity), 10)
	b = append(b, ' ')
	b = src.AppendTo(b)
	b = append(b, ' ')
	return &Code{Name: "COPYUID", Arg: string(dst.AppendTo(b))}
}

// CodeModified returns [MODIFIED set] (RFC 7162 §3.1.3).
func CodeModified(set SeqSet) *Code { return &Code{Name: "MODIFIED", Arg: set.String()} }

// CodeNoUpdate is NOUPDATE "tag": the server will not send updates for
// the searching command with that tag (RFC 5267 §4.3.1).
func CodeNoUpdate(tag string) *Code {
	return &Code{Name: "NOUPDATE", Arg: string(appendQuoted(nil, tag))}
}

// CodeMailboxID returns [MAILBOXID (id)] (RFC 8474 §4.1).
func CodeMailboxID(id string) *Code { return &Code{Name: "MAILBOXID", Arg: "(" + id + ")"} }

// AppendTo appends "[NAME arg]".
func (c *Code) AppendTo(b []byte) []byte {
	b = append(b, '[')
	b = append(b, c.Name...)
	if c.Arg != "" {
		b = append(b, ' ')
		b = append(b, c.Arg...)
	}
	return append(b, ']')
}

func join(words []string) string {
	var b []byte
	for i, w := range words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
	return string(b)
}
