package imapwire

import (
	"encoding/base64"
	"errors"
)

// Command is one command read by ReadCommand.
type Command struct {
	Tag  string
	Name string // upper case, without the UID prefix: "FETCH" for UID FETCH
	UID  bool   // the UID prefix (RFC 9051 §6.4.9): COPY, MOVE, FETCH, STORE, SEARCH, SORT, THREAD, EXPUNGE
	// Args holds the arguments: one of the *...Args types of this package,
	// or nil for a command without arguments (CAPABILITY, NOOP, LOGOUT,
	// STARTTLS, CHECK, CLOSE, UNSELECT, EXPUNGE, IDLE, NAMESPACE,
	// UNAUTHENTICATE).
	Args any
}

// ReadCommand reads the next command. On a malformed or refused command
// it returns an *Error after resynchronizing (see the package doc); any
// other error is the connection's.
func (r *Reader) ReadCommand() (*Command, error) {
	r.total = 0
	r.tag, r.name = "", ""
	r.depth = 0
	if cap(r.line) > keepLine {
		r.line = nil
	}
	if cap(r.lit) > keepLiteral {
		r.lit = nil
	}
	if err := r.readSegment(); err != nil {
		return nil, r.fail(err)
	}
	cmd, err := r.command()
	if err != nil {
		return nil, r.fail(err)
	}
	if !r.atEnd() {
		return nil, r.fail(syntaxErr("junk at the end of the command at %q", r.near()))
	}
	return cmd, nil
}

// fail completes an error with the tag and command name and
// resynchronizes the stream.
func (r *Reader) fail(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err // the connection's
	}
	ee := *e
	ee.Tag, ee.Command = r.tag, r.name
	if ee.Fatal {
		return &ee // nothing to resynchronize
	}
	if rerr := r.resync(); rerr != nil {
		var re *Error
		if errors.As(rerr, &re) {
			ee.Fatal = true
			ee.Msg += "; " + re.Msg
		} else {
			return rerr
		}
	}
	return &ee
}

func (r *Reader) command() (*Command, error) {
	if len(r.line) == 0 {
		return nil, syntaxErr("empty command line")
	}
	tag := r.span(isTagChar)
	if len(tag) == 0 {
		return nil, syntaxErr("bad tag")
	}
	if len(tag) > maxTag {
		return nil, tooBigErr("tag over %d bytes", maxTag)
	}
	r.tag = string(tag)
	if err := r.sp(); err != nil {
		return nil, err
	}
	var buf [24]byte
	name, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	cmd := &Command{Tag: r.tag}
	if string(name) == "UID" {
		cmd.UID = true
		if err := r.sp(); err != nil {
			return nil, err
		}
		if name, err = r.upperAtom(buf[:]); err != nil {
			return nil, err
		}
	}
	cmd.Name = commandName(name)
	r.name = cmd.Name
	if cmd.Name == "" {
		if len(name) > 20 {
			name = name[:20]
		}
		r.name = string(name)
		return nil, &Error{Status: "BAD", Class: ErrUnknownCommand, Msg: "unknown command"}
	}
	if cmd.UID {
		switch cmd.Name {
		case "COPY", "MOVE", "FETCH", "STORE", "SEARCH", "SORT", "THREAD", "EXPUNGE":
		default:
			return nil, syntaxErr("UID %s is not a command", cmd.Name)
		}
	}
	parse := argParser(cmd.Name, cmd.UID)
	if parse == nil {
		return cmd, nil
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if cmd.Args, err = parse(r); err != nil {
		return nil, err
	}
	return cmd, nil
}

// commandName returns the constant name of a known command, or "".
func commandName(b []byte) string {
	for _, n := range [...]string{
		"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN",
		"ENABLE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
		"UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE",
		"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY",
		"MOVE", "ID", "SORT", "THREAD", "COMPRESS", "UNAUTHENTICATE", "GETQUOTA",
		"GETQUOTAROOT", "SETQUOTA", "NOTIFY", "CANCELUPDATE",
	} {
		if n == string(b) {
			return n
		}
	}
	return ""
}

// argParser returns the parser of a command's arguments, nil for a
// command without arguments.
func argParser(name string, uid bool) func(*Reader) (any, error) {
	switch name {
	case "AUTHENTICATE":
		return parseAuthenticate
	case "LOGIN":
		return parseLogin
	case "ENABLE":
		return parseEnable
	case "SELECT", "EXAMINE":
		return parseSelect
	case "CREATE":
		return parseCreate
	case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
		return parseMailboxArg
	case "RENAME":
		return parseRename
	case "LIST":
		return parseList
	case "LSUB":
		return parseLsub
	case "STATUS":
		return parseStatus
	case "APPEND":
		return parseAppend
	case "EXPUNGE":
		if uid {
			return parseUIDExpunge
		}
	case "SEARCH":
		return parseSearch
	case "FETCH":
		return parseFetch
	case "STORE":
		return parseStore
	case "COPY", "MOVE":
		return parseCopy
	case "ID":
		return parseID
	case "SORT":
		return parseSort
	case "THREAD":
		return parseThread
	case "COMPRESS":
		return parseCompress
	case "GETQUOTA":
		return parseGetQuota
	case "SETQUOTA":
		return parseSetQuota
	case "NOTIFY":
		return parseNotify // RFC 5465
	case "CANCELUPDATE":
		return parseCancelUpdate // RFC 5267 §4.3.5
	}
	return nil
}

// LoginArgs are LOGIN's: userid SP password (astrings).
type LoginArgs struct{ User, Password string }

func parseLogin(r *Reader) (any, error) {
	u, err := r.astring()
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	p, err := r.astring()
	if err != nil {
		return nil, err
	}
	return &LoginArgs{User: u, Password: p}, nil
}

// AuthenticateArgs are AUTHENTICATE's: auth-type [SP initial-resp]
// (RFC 9051 §6.2.2, SASL-IR RFC 4959: "=" is an empty response).
type AuthenticateArgs struct {
	Mechanism       string // upper case
	InitialResponse []byte // decoded; nil when none was given
}

func parseAuthenticate(r *Reader) (any, error) {
	var buf [32]byte
	m, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	a := &AuthenticateArgs{Mechanism: string(m)}
	if r.maybeSP() {
		if r.peek() == '=' && r.pos+1 == len(r.line) {
			r.pos++
			a.InitialResponse = []byte{}
			return a, nil
		}
		b := r.span(isBase64Char)
		if a.InitialResponse, err = decodeBase64(b); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}

// decodeBase64 decodes RFC 9051 §9 base64 (padded, RFC 4648 §4).
func decodeBase64(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, syntaxErr("empty base64")
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Strict().Decode(out, b)
	if err != nil {
		return nil, syntaxErr("bad base64")
	}
	return out[:n], nil
}

// ReadLine reads one line that is not a command: IDLE's "DONE" (RFC 2177,
// RFC 9051 §6.3.13) or a client response in an AUTHENTICATE exchange
// (base64, or "*" to cancel). It is bounded by Limits.MaxLine; a longer
// line is discarded and answered with an *Error of class ErrTooBig.
func (r *Reader) ReadLine() ([]byte, error) {
	r.total = 0
	if err := r.readSegment(); err != nil {
		return nil, err
	}
	r.segDone = true
	return r.line, nil
}

// DecodeSASL decodes a line of an AUTHENTICATE exchange: base64, or "*"
// (the client cancels, RFC 9051 §6.2.2: cancel is true).
func DecodeSASL(line []byte) (resp []byte, cancel bool, err error) {
	if len(line) == 1 && line[0] == '*' {
		return nil, true, nil
	}
	if len(line) == 0 {
		return []byte{}, false, nil
	}
	resp, err = decodeBase64(line)
	return resp, false, err
}

// EnableArgs are ENABLE's capabilities, upper case (RFC 5161 §3.1).
type EnableArgs struct{ Caps []string }

func parseEnable(r *Reader) (any, error) {
	a := &EnableArgs{}
	for {
		var buf [32]byte
		c, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		if len(a.Caps) >= r.lim.MaxItems {
			return nil, tooBigErr("too many capabilities")
		}
		a.Caps = append(a.Caps, intern(c))
		if !r.maybeSP() {
			return a, nil
		}
	}
}

// MailboxArgs are the one mailbox of DELETE, SUBSCRIBE, UNSUBSCRIBE and
// GETQUOTAROOT.
type MailboxArgs struct{ Mailbox string }

func parseMailboxArg(r *Reader) (any, error) {
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	return &MailboxArgs{Mailbox: m}, nil
}

// CreateArgs are CREATE's: mailbox [SP "(" create-param ")"] (RFC 4466
// §2.2); the one parameter known is USE (RFC 6154 §3).
type CreateArgs struct {
	Mailbox    string
	SpecialUse []string // USE's attributes, as given ("\Drafts")
}

func parseCreate(r *Reader) (any, error) {
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	a := &CreateArgs{Mailbox: m}
	if r.maybeSP() {
		if err := r.expect('('); err != nil {
			return nil, err
		}
		var buf [16]byte
		p, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		if string(p) != "USE" {
			return nil, syntaxErr("unknown CREATE parameter")
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
		if a.SpecialUse, err = r.flagList(); err != nil {
			return nil, err
		}
		if err := r.expect(')'); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// RenameArgs are RENAME's: existing and new mailbox names.
type RenameArgs struct{ From, To string }

func parseRename(r *Reader) (any, error) {
	f, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	t, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	return &RenameArgs{From: f, To: t}, nil
}

// SelectArgs are SELECT's and EXAMINE's: mailbox [SP "(" select-param
// *(SP select-param) ")"] (RFC 4466 §2.1, RFC 7162 §3.1.8, §3.2.5).
type SelectArgs struct {
	Mailbox   string
	CondStore bool
	QResync   *QResyncParams
}

// QResyncParams are SELECT's QRESYNC parameter (RFC 7162 §3.2.5):
// "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP
// seq-match-data] ")"; seq-match-data = "(" known-sequence-set SP
// known-uid-set ")".
type QResyncParams struct {
	UIDValidity  uint32
	ModSeq       uint64
	KnownUIDs    *SeqSet
	KnownSeqs    *SeqSet // seq-match-data, with KnownSeqUIDs
	KnownSeqUIDs *SeqSet
}

func parseSelect(r *Reader) (any, error) {
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	a := &SelectArgs{Mailbox: m}
	if !r.maybeSP() {
		return a, nil
	}
	if err := r.expect('('); err != nil {
		return nil, err
	}
	for first := true; r.peek() != ')'; first = false {
		if !first {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		var buf [16]byte
		p, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		switch string(p) {
		case "CONDSTORE":
			a.CondStore = true
		case "QRESYNC":
			if a.QResync != nil {
				return nil, syntaxErr("QRESYNC given twice")
			}
			if err := r.sp(); err != nil {
				return nil, err
			}
			if a.QResync, err = r.qresync(); err != nil {
				return nil, err
			}
		default:
			return nil, syntaxErr("unknown SELECT parameter")
		}
	}
	r.pos++
	return a, nil
}

func (r *Reader) qresync() (*QResyncParams, error) {
	if err := r.expect('('); err != nil {
		return nil, err
	}
	q := &QResyncParams{}
	var err error
	if q.UIDValidity, err = r.nzNumber(); err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if q.ModSeq, err = r.modSeq(false); err != nil {
		return nil, err
	}
	if r.maybeSP() {
		if r.peek() != '(' {
			s, err := r.seqSet(false)
			if err != nil {
				return nil, err
			}
			q.KnownUIDs = &s
			if !r.maybeSP() {
				return q, r.expect(')')
			}
		}
		if err := r.expect('('); err != nil {
			return nil, err
		}
		seqs, err := r.seqSet(false)
		if err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
		uids, err := r.seqSet(false)
		if err != nil {
			return nil, err
		}
		q.KnownSeqs, q.KnownSeqUIDs = &seqs, &uids
		if err := r.expect(')'); err != nil {
			return nil, err
		}
	}
	return q, r.expect(')')
}

// SeqArgs are UID EXPUNGE's set (RFC 4315 §2.1).
type SeqArgs struct{ Set SeqSet }

func parseUIDExpunge(r *Reader) (any, error) {
	s, err := r.seqSet(true)
	if err != nil {
		return nil, err
	}
	return &SeqArgs{Set: s}, nil
}

// CopyArgs are COPY's and MOVE's: sequence-set SP mailbox.
type CopyArgs struct {
	Set     SeqSet
	Mailbox string
}

func parseCopy(r *Reader) (any, error) {
	s, err := r.seqSet(true)
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	return &CopyArgs{Set: s, Mailbox: m}, nil
}

// IDArgs are ID's parameters (RFC 2971 §4): nil Params for NIL.
type IDArgs struct{ Params []IDParam }

// IDParam is one field and value of ID; Nil when the value is NIL.
type IDParam struct {
	Field, Value string
	Nil          bool
}

// RFC 2971 §3.3: at most 30 field-value pairs, fields of 30 octets,
// values of 1024.
const (
	maxIDPairs = 30
	maxIDField = 30
	maxIDValue = 1024
)

func parseID(r *Reader) (any, error) {
	a := &IDArgs{}
	if r.isNIL() {
		return a, nil
	}
	if err := r.expect('('); err != nil {
		return nil, err
	}
	a.Params = []IDParam{}
	for first := true; r.peek() != ')'; first = false {
		if !first {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		f, err := r.str(kString)
		if err != nil {
			return nil, err
		}
		if len(f) > maxIDField {
			return nil, tooBigErr("ID field over %d bytes", maxIDField)
		}
		p := IDParam{Field: string(f)}
		if err := r.sp(); err != nil {
			return nil, err
		}
		if p.Value, p.Nil, err = r.nstring(); err != nil {
			return nil, err
		}
		if len(p.Value) > maxIDValue {
			return nil, tooBigErr("ID value over %d bytes", maxIDValue)
		}
		if len(a.Params) >= maxIDPairs {
			return nil, tooBigErr("more than %d ID pairs", maxIDPairs)
		}
		a.Params = append(a.Params, p)
	}
	r.pos++
	return a, nil
}

// CompressArgs are COMPRESS's mechanism, upper case (RFC 4978 §3).
type CompressArgs struct{ Mechanism string }

func parseCompress(r *Reader) (any, error) {
	var buf [16]byte
	m, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	return &CompressArgs{Mechanism: string(m)}, nil
}

// QuotaRootArgs are GETQUOTA's quota root (RFC 9208 §4.2).
type QuotaRootArgs struct{ Root string }

func parseGetQuota(r *Reader) (any, error) {
	s, err := r.astring()
	if err != nil {
		return nil, err
	}
	return &QuotaRootArgs{Root: s}, nil
}

// SetQuotaArgs are SETQUOTA's (RFC 9208 §4.4): quota-root SP "("
// [resource SP number64 *(SP ...)] ")".
type SetQuotaArgs struct {
	Root      string
	Resources []QuotaResource
}

// QuotaResource is a resource name (upper case) and its limit.
type QuotaResource struct {
	Name  string
	Limit uint64
}

func parseSetQuota(r *Reader) (any, error) {
	root, err := r.astring()
	if err != nil {
		return nil, err
	}
	a := &SetQuotaArgs{Root: root}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if err := r.expect('('); err != nil {
		return nil, err
	}
	for first := true; r.peek() != ')'; first = false {
		if !first {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		var buf [32]byte
		n, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		res := QuotaResource{Name: string(n)}
		if err := r.sp(); err != nil {
			return nil, err
		}
		if res.Limit, err = r.number64(); err != nil {
			return nil, err
		}
		if len(a.Resources) >= r.lim.MaxItems {
			return nil, tooBigErr("too many resources")
		}
		a.Resources = append(a.Resources, res)
	}
	r.pos++
	return a, nil
}
