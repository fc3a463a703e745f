package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"pail/internal/address"
	"pail/internal/admit"
	"pail/internal/auth"
	"pail/internal/delivery"
	"pail/internal/maillog"
	"pail/internal/sieve"
	"pail/internal/smtpserver"
	"pail/internal/store"
	"pail/internal/verify"
)

// Replies the session gives. Each carries its enhanced status code
// (RFC 3463).
var (
	errNestedMail = &smtpserver.Error{Code: 503, Enhanced: "5.5.1", Message: "Sender already given; use RSET first"}
	errNoSuchUser = &smtpserver.Error{Code: 550, Enhanced: "5.1.1", Message: "No such user here"}
	errRelay      = &smtpserver.Error{Code: 554, Enhanced: "5.7.1", Message: "Relay access denied"}
	errAuthNeeded = &smtpserver.Error{Code: 530, Enhanced: "5.7.0", Message: "Authentication required"}
	errNotYours   = &smtpserver.Error{Code: 553, Enhanced: "5.7.1", Message: "Sender address not owned by the authenticated user"}
	errBadRcpt    = &smtpserver.Error{Code: 501, Enhanced: "5.1.3", Message: "Bad recipient address syntax"}
	errBadSender  = &smtpserver.Error{Code: 501, Enhanced: "5.1.7", Message: "Bad sender address syntax"}
	errBareLF     = &smtpserver.Error{Code: 554, Enhanced: "5.6.0", Message: "Message contains a bare LF; lines must end with CRLF (RFC 5321 section 2.3.8)", Close: true}
	errBareCR     = &smtpserver.Error{Code: 554, Enhanced: "5.6.0", Message: "Message contains a bare CR; lines must end with CRLF (RFC 5321 section 2.3.8)", Close: true}
	errNUL        = &smtpserver.Error{Code: 554, Enhanced: "5.6.0", Message: "Message contains a NUL character"}
	errAuthor     = &smtpserver.Error{Code: 550, Enhanced: "5.7.1", Message: "Header From or Sender address not owned by the authenticated user"}
	errNoAuthor   = &smtpserver.Error{Code: 550, Enhanced: "5.7.1", Message: "Header From or Sender has no readable address"}
	errBigHeader  = &smtpserver.Error{Code: 552, Enhanced: "5.3.4", Message: "Header section too large"}
	errLoop       = &smtpserver.Error{Code: 554, Enhanced: "5.4.6", Message: "Too many Received headers: mail loop"}
	errRate       = &smtpserver.Error{Code: 421, Enhanced: "4.7.0", Message: "Too many commands from your address, slow down", Close: true}
	// RFC 5321 §4.2.2 452, RFC 3463 4.2.2: the mailbox is full, which
	// may change; the sender retries.
	errMailboxFull = &smtpserver.Error{Code: 452, Enhanced: "4.2.2", Message: "Mailbox full"}
	errTemporary   = &smtpserver.Error{Code: 451, Enhanced: "4.3.0", Message: "Local error, try again later"}
	errTooMany     = &smtpserver.Error{Code: 421, Enhanced: "4.7.0", Message: "Too many errors, closing connection", Close: true}
	errEncrypt     = &smtpserver.Error{Code: 538, Enhanced: "5.7.11", Message: "Encryption required for requested authentication mechanism"}
	errAuthLimit   = &smtpserver.Error{Code: 454, Enhanced: "4.7.0", Message: "Too many failed attempts, try again later"}
)

// session is one SMTP session (between greetings it is reset, not
// replaced).
type session struct {
	srv    *Server
	c      *conn
	ip     netip.Addr
	errors int

	account *store.Account // set after AUTH

	hasFrom bool
	started time.Time // when MAIL was accepted, for the mail log
	from    string
	rcpts   []delivery.Recipient
	early   *verify.Early // the envelope checks under way (Judge.Start)
}

// authSession is a session that offers AUTH (submission role).
type authSession struct{ *session }

var (
	_ smtpserver.Session     = (*session)(nil)
	_ smtpserver.AuthSession = authSession{}
)

// newSession makes the session of a greeting on c (again after STARTTLS).
func (s *Server) newSession(c *conn) smtpserver.Session {
	sess := &session{srv: s, c: c, ip: admit.RemoteIP(c.remoteAddr)}
	sess.startBlocklist()
	if s.cfg.Role == RoleSubmission {
		return authSession{sess}
	}
	return sess
}

// fail counts a rejected command and ends the session after too many.
func (s *session) fail(err error) error {
	s.errors++
	if s.errors >= maxErrors {
		return errTooMany
	}
	return err
}

func (s *session) Reset() {
	s.hasFrom = false
	s.from = ""
	s.rcpts = nil
	s.early.Stop()
	s.early = nil
}

func (s *session) Logout() {
	s.early.Stop()
	s.early = nil
}

// rateLimited counts a costly command (MAIL, RCPT, AUTH) against the
// client's per-address budget; over it, the session ends with 421.
func (s *session) rateLimited() error {
	if s.srv.cmdRate.Allow(s.ip) {
		return nil
	}
	s.srv.deps.MailLog.Log(maillog.Rejected, "client", s.ip.String(), "reason", "command rate")
	return errRate
}

func (s *session) Mail(from string, opts smtpserver.MailOptions) error {
	if err := s.rateLimited(); err != nil {
		return err
	}
	if s.hasFrom {
		return s.fail(errNestedMail)
	}
	// "alice@hill.test." is alice@hill.test: checked, logged and queued
	// without the dot (see address.TrimDomainDot).
	from = address.TrimDomainDot(from)
	if from != "" && !validMailbox(from) {
		return s.fail(errBadSender)
	}
	if s.srv.cfg.Role == RoleSubmission {
		if s.account == nil {
			return s.fail(errAuthNeeded)
		}
		ok, err := s.srv.deps.Senders.MaySend(s.srv.ctx, *s.account, from)
		if err != nil {
			s.srv.deps.Log.Error("sender check", "err", err)
			return errTemporary
		}
		if !ok {
			s.logReject(from, "", errNotYours)
			return s.fail(errNotYours)
		}
	}
	s.hasFrom = true
	s.started = time.Now()
	s.from = from
	return nil
}

// validMailbox checks that a path is local@domain with a plausible domain
// (RFC 5321 §4.1.2: dot-separated labels, none empty); the protocol
// engine has already parsed the angle brackets and quoting.
func validMailbox(a string) bool {
	i := strings.LastIndexByte(a, '@')
	if i <= 0 || i == len(a)-1 {
		return false
	}
	d := a[i+1:]
	return !strings.ContainsAny(d, " @<>") && d[0] != '.' && d[len(d)-1] != '.' && !strings.Contains(d, "..") &&
		!strings.ContainsFunc(a, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (s *session) Rcpt(to string) error {
	if err := s.rateLimited(); err != nil {
		return err
	}
	to = address.TrimDomainDot(to) // as for MAIL
	// RFC 5321 §4.1.1.3, §4.5.1: "<postmaster>" without a domain is the
	// postmaster of this host, which the router resolves.
	if !validMailbox(to) && !strings.EqualFold(to, "postmaster") {
		return s.fail(errBadRcpt)
	}
	route, err := s.srv.deps.Router.Resolve(s.srv.ctx, to)
	switch {
	case err == nil:
	case errors.Is(err, delivery.ErrNotLocal):
		if s.account == nil {
			s.logReject(s.from, to, errRelay)
			return s.fail(errRelay)
		}
		route = delivery.Route{Remote: []string{to}}
	case errors.Is(err, delivery.ErrUnknownUser):
		s.logReject(s.from, to, errNoSuchUser)
		return s.fail(errNoSuchUser)
	default:
		s.srv.deps.Log.Error("resolve recipient", "rcpt", to, "err", err)
		return errTemporary
	}
	if err := s.checkInbound(to); err != nil {
		return err
	}
	if err := s.checkFull(to, route); err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, delivery.Recipient{Address: to, Route: route})
	if j := s.srv.deps.Judge; j != nil && len(s.rcpts) == 1 && s.account == nil {
		// The SPF and iprev lookups run while the client sends the rest;
		// started only now, so that guessing recipients costs no lookups.
		s.early = j.Start(s.srv.ctx, s.ip, s.c.pc.Hostname(), s.from)
	}
	return nil
}

// quotaChecker is the Deliverer that knows the accounts' quotas
// (*delivery.Deliverer); another has none to check.
type quotaChecker interface {
	Full(ctx context.Context, r delivery.Route) (bool, error)
}

// checkFull refuses a recipient whose every mailbox is at or past its
// quota (452 4.2.2) at once, rather than after the data; a message that
// would take one past it is refused for that mailbox at the end of data
// (delivery.Message.Commit).
func (s *session) checkFull(to string, route delivery.Route) error {
	q, ok := s.srv.deps.Deliverer.(quotaChecker)
	if !ok {
		return nil
	}
	full, err := q.Full(s.srv.ctx, route)
	if err != nil {
		s.srv.deps.Log.Error("quota", "rcpt", to, "err", err)
		return errTemporary
	}
	if full {
		s.logReject(s.from, to, errMailboxFull)
		return s.fail(errMailboxFull)
	}
	return nil
}

// isNetError reports whether err came from the client's connection (it
// went away or timed out mid-message) rather than from pail.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, smtpserver.ErrDataReset)
}

func (s *session) logReject(from, to string, e *smtpserver.Error, extra ...string) {
	s.srv.deps.MailLog.Log(maillog.Rejected, append([]string{"client", s.ip.String(), "helo", s.c.pc.Hostname(),
		"from", "<" + from + ">", "to", "<" + to + ">", "reason", fmt.Sprintf("%d %s %s", e.Code, e.Enhanced, e.Message)},
		extra...)...)
}

// rcptList is the accepted recipients as the mail log writes them:
// "a@x>,<b@y", between the angle brackets of one field.
func (s *session) rcptList() string {
	to := make([]string, len(s.rcpts))
	for i, r := range s.rcpts {
		to[i] = r.Address
	}
	return strings.Join(to, ">,<")
}

func (s *session) Data(r io.Reader) error {
	msg, err := s.srv.deps.Deliverer.NewMessage(s.from, s.rcpts, s.trace())
	if err != nil {
		s.srv.deps.Log.Error("new message", "err", err)
		return errTemporary
	}
	var w io.Writer = msg
	var fixer *delivery.HeaderFixer
	if s.srv.cfg.Role == RoleSubmission {
		// The fixer writes to msg itself, so that the fields it adds stay
		// out of the duplicate digest (a retry after 451 is the same data).
		fixer = delivery.NewHeaderFixer(msg, s.srv.cfg.Hostname, msg.ID)
		// RFC 6409 §6.1 lets the MSA enforce submission rights: the header
		// From and Sender follow the envelope sender's rule (Mail), so the
		// account cannot put another's name on a message (nor, later, have
		// it signed).
		acct := *s.account
		fixer.MayAuthor = func(a string) (bool, error) { return s.srv.deps.Senders.MaySend(s.srv.ctx, acct, a) }
		w = fixer
	}
	w = &hopCounter{w: w}
	bp := s.srv.bufs.Get().(*[]byte)
	err = copyContent(w, r, *bp)
	s.srv.bufs.Put(bp)
	if err == nil && fixer != nil {
		err = fixer.Close()
	}
	if err != nil {
		msg.Abort()
		var se *smtpserver.Error
		switch {
		case errors.Is(err, delivery.ErrAuthorNotOwned):
			se = errAuthor
		case errors.Is(err, delivery.ErrAuthorUnreadable):
			se = errNoAuthor
		case errors.Is(err, delivery.ErrHeaderTooLarge):
			se = errBigHeader
		case errors.As(err, &se):
		case !isNetError(err):
			// pail's own failure (the spool, the author check's lookup).
			s.srv.deps.Log.Error("message not stored", "id", msg.ID, "err", err)
			return errTemporary
		}
		if se != nil {
			// errBareLF and errBareCR end the session (Close): the
			// client's end of data may itself be "\n.\n" or "\r.\r",
			// which is no end of data; rather than wait for one that
			// never comes, pail answers and closes, as Postfix does.
			s.logReject(s.from, "", se)
			return s.fail(se)
		}
		// The client went away or timed out mid-message.
		s.srv.deps.Log.Info("message not received", "client", s.ip, "err", err)
		return err
	}
	var verdict []string
	if j := s.srv.deps.Judge; j != nil {
		var se *smtpserver.Error
		verdict, se = s.judge(j, msg)
		if se != nil {
			// The whole message is refused: the line names every
			// recipient, and the checks' findings with the reply.
			msg.Abort()
			s.logReject(s.from, s.rcptList(), se, verdict...)
			return s.fail(se)
		}
	}
	if err := msg.Commit(s.srv.ctx); err != nil {
		var re *delivery.RejectError
		if errors.As(err, &re) {
			// RFC 5429 §2.1–2.2: every recipient's Sieve script refused
			// the message; the refusal is the reply.
			se := &smtpserver.Error{Code: 550, Enhanced: "5.7.1", Message: rejectReason(re.Reason)}
			s.logReject(s.from, s.rcptList(), se)
			return s.fail(se)
		}
		if errors.Is(err, delivery.ErrMailboxFull) {
			s.logReject(s.from, s.rcptList(), errMailboxFull)
			return s.fail(errMailboxFull)
		}
		s.srv.deps.Log.Error("deliver", "id", msg.ID, "err", err)
		return errTemporary
	}
	user := ""
	if s.account != nil {
		user = s.account.Address
	}
	s.srv.deps.MailLog.Log(maillog.Received, append([]string{"id", msg.ID, "from", "<" + s.from + ">", "to", "<" + s.rcptList() + ">",
		"size", fmt.Sprint(msg.Size()), "client", s.ip.String(), "helo", s.c.pc.Hostname(), "user", user,
		"proto", s.trace().Proto, "duration", time.Since(s.started).Round(time.Millisecond).String()}, verdict...)...)
	return nil
}

// judge asks j about the spooled message and applies its decision to msg:
// the fields to prepend, the forged ones to leave out, the folder. It
// returns the mail log fields of the verdict, and the reply that refuses
// the message if it is refused (the fields then leave out the reason,
// which the reply carries).
func (s *session) judge(j Judge, msg *delivery.Message) ([]string, *smtpserver.Error) {
	content := msg.Content()
	m := &verify.Message{ID: msg.ID, ClientIP: s.ip, Helo: s.c.pc.Hostname(), MailFrom: s.from, Content: content, Size: content.Size(),
		Listed: s.blocklistKnown().Lists(), Early: s.early}
	for _, r := range s.rcpts {
		m.Rcpts = append(m.Rcpts, r.Address)
	}
	if s.account != nil {
		m.User = s.account.Address
	}
	var err error
	if m.Header, m.HeaderComplete, err = verify.ReadHeader(content, content.Size()); err != nil {
		s.srv.deps.Log.Error("read spooled message", "id", msg.ID, "err", err)
		return nil, errTemporary
	}
	d := j.Decide(s.srv.ctx, m)
	for _, sp := range d.Remove {
		msg.Omit(sp.Start, sp.End)
	}
	msg.Prepend(d.Header)
	log := []string{"verdict", d.Action.String()}
	if r := d.Results; r != nil && r.User == "" {
		log = append(log, "spf", r.SPF.Value, "dmarc", r.DMARC.Value, "iprev", r.IPRev.Value)
	}
	if d.Score != 0 {
		log = append(log, "score", fmt.Sprintf("%.1f", d.Score))
	}
	msg.SetVerdict(spamVerdict(d))
	switch d.Action {
	case verify.TempFail, verify.Reject:
		return log, judgedReply(d)
	case verify.Junk:
		msg.FileIn(delivery.Junk)
	}
	if d.Reason != "" {
		log = append(log, "reason", d.Reason)
	}
	return log, nil
}

// maxRejectReason bounds a script's reject reason in the SMTP reply
// (RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets).
const maxRejectReason = 400

// rejectReason makes a script's reason one line of printable ASCII for
// the reply (RFC 5429 §2.2: the reason of ereject in the SMTP response).
func rejectReason(r string) string {
	r = strings.Join(strings.FieldsFunc(r, func(c rune) bool { return c < 0x21 || c > 0x7e }), " ")
	if len(r) > maxRejectReason {
		r = r[:maxRejectReason]
	}
	if r == "" {
		r = "Message rejected by the recipient's filter"
	}
	return r
}

// spamVerdict is the verdict as Sieve's spamtest sees it (RFC 5235 §3.2):
// the score as a percentage where the Junk threshold ([inbound]
// junk_score, d.JunkScore) is 50, kept on the side of the verdict, and
// 1–10 from it.
func spamVerdict(d verify.Decision) sieve.Verdict {
	junk := d.JunkScore
	if junk <= 0 {
		junk = verify.DefaultJunkScore
	}
	p := int(d.Score * 50 / junk)
	if d.Action == verify.Junk {
		p = max(p, 50)
	} else {
		p = min(p, 49)
	}
	p = min(max(p, 0), 100)
	return sieve.Verdict{SpamTested: true, SpamPercent: p, SpamScore: 1 + p*9/100}
}

// judgedReply is the SMTP reply that refuses a message as d says.
func judgedReply(d verify.Decision) *smtpserver.Error {
	se := &smtpserver.Error{Code: d.Code, Message: d.Reason}
	if se.Message == "" {
		se.Message = "Message refused by policy"
	}
	var c [3]int
	if n, _ := fmt.Sscanf(d.Enhanced, "%d.%d.%d", &c[0], &c[1], &c[2]); n == 3 {
		se.Enhanced = fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
	} else if d.Code >= 500 {
		se.Enhanced = "5.7.1"
	} else {
		se.Enhanced = "4.7.1"
	}
	return se
}

// trace describes this session for the Received header.
func (s *session) trace() delivery.Trace {
	tr := delivery.Trace{Helo: s.c.pc.Hostname(), ClientIP: s.ip, Proto: "ESMTP", DNSBL: s.blocklistKnown().Lists()}
	if s.c.pc.SawHELO() {
		tr.Proto = "SMTP"
	}
	// RFC 3848 protocol types: S for TLS, A for authenticated.
	if st, ok := s.tlsState(); ok {
		tr.Proto = "ESMTPS"
		tr.TLS = tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite)
	}
	if s.account != nil {
		if tr.Proto == "ESMTPS" {
			tr.Proto = "ESMTPSA"
		} else {
			tr.Proto = "ESMTPA"
		}
	}
	return tr
}

// copyContent copies message content from r to w, refusing a bare LF (a
// line feed not preceded by CR), a bare CR (a carriage return not followed
// by LF) and NUL. RFC 5321 §2.3.8 allows CR and LF only together, as CRLF;
// a lone one is the stuff of SMTP smuggling: a next hop that takes
// "\n.\r\n" or "\r.\r" for the end of data would read a different
// message, and the rest as commands, than pail did. Refusing them for DATA
// and BDAT alike means pail stores and relays only content whose end of
// data every server reads the same way.
//
// The engine's message reader returns what the connection has buffered
// rather than wait to fill buf, so a client that ends its lines (and its
// data) with a bare LF is refused as soon as the line arrives.
func copyContent(w io.Writer, r io.Reader, buf []byte) error {
	var prev byte
	fill := 0
	for {
		n, err := r.Read(buf[fill:])
		for _, b := range buf[fill : fill+n] {
			// Most bytes are neither after a CR nor a control
			// character: two comparisons each.
			if prev == '\r' {
				if b != '\n' {
					return errBareCR
				}
			} else if b <= '\r' {
				switch b {
				case '\n':
					return errBareLF
				case 0:
					return errNUL
				}
			}
			prev = b
		}
		fill += n
		if err == io.EOF && prev == '\r' {
			return errBareCR // content that ends in a lone CR (BDAT)
		}
		if fill == len(buf) || (err == io.EOF && fill > 0) {
			if _, werr := w.Write(buf[:fill]); werr != nil {
				return werr
			}
			fill = 0
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// AuthMechanisms offers PLAIN and LOGIN only over TLS or from loopback
// (RFC 4954 §4: never send passwords in clear over a network).
func (s authSession) AuthMechanisms() []string {
	if !s.mayAuth() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s authSession) mayAuth() bool {
	_, isTLS := s.tlsState()
	return isTLS || s.ip.IsLoopback()
}

// tlsState is the session's TLS state, from STARTTLS or implicit TLS.
func (s *session) tlsState() (tls.ConnectionState, bool) {
	return s.c.pc.TLSConnectionState()
}

func (s authSession) Auth(mech string) (sasl.Server, error) {
	if err := s.rateLimited(); err != nil {
		return nil, err
	}
	if !s.mayAuth() {
		return nil, errEncrypt
	}
	check := func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtpserver.ErrAuthFailed
		}
		acct, err := s.srv.deps.Auth.Authenticate(s.srv.ctx, s.ip, username, password)
		switch {
		case err == nil:
			s.account = &acct
			return nil
		case errors.Is(err, auth.ErrLimited):
			s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", username, "reason", "limited")
			return errAuthLimit
		case errors.Is(err, auth.ErrFailed):
			s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", username)
			return s.fail(smtpserver.ErrAuthFailed)
		default:
			s.srv.deps.Log.Error("auth", "err", err)
			return errTemporary
		}
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(check), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtpserver.ErrAuthUnknownMechanism
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl only has as a client.
type loginServer struct {
	check    func(identity, username, password string) error
	state    int
	username string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.state {
	case 0:
		l.state = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		// An initial response carries the user name.
		l.username = string(response)
		l.state = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(response)
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		return nil, true, l.check("", l.username, string(response))
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}
