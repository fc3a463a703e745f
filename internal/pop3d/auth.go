package pop3d

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"pail/internal/auth"
	"pail/internal/maillog"
	"pail/internal/store"
)

// capa lists the capabilities (RFC 2449 §5). The ones that only make
// sense before login, and the password mechanisms when a password may not
// be sent, are left out.
func (s *session) capa(command) error {
	s.ok("Capability list follows")
	caps := []string{
		"TOP",            // RFC 2449 §6.1
		"UIDL",           // RFC 2449 §6.8
		"RESP-CODES",     // RFC 2449 §6.4
		"AUTH-RESP-CODE", // RFC 3206 §6
		"PIPELINING",     // RFC 2449 §6.6
		"EXPIRE NEVER",   // RFC 2449 §6.7: pail never deletes mail on its own
	}
	if s.state == stateAuthorization {
		if s.plaintextAllowed() {
			caps = append(caps, "USER", "SASL PLAIN") // RFC 2449 §6.2, §6.3
		}
		if s.srv.cfg.TLS != nil && !s.tls {
			caps = append(caps, "STLS") // RFC 2595 §4
		}
	}
	caps = append(caps, "IMPLEMENTATION pail") // RFC 2449 §6.9
	for _, c := range caps {
		s.reply(c)
	}
	s.reply(".")
	return nil
}

// stls starts TLS (RFC 2595 §4). Commands pipelined behind STLS were sent
// in the clear and must not run as if they came over TLS (the STARTTLS
// command injection of CVE-2011-0411), so STLS is refused when any follow.
func (s *session) stls(command) error {
	if s.srv.cfg.TLS == nil || s.tls {
		return errf("STLS not available")
	}
	if s.r.Buffered() > 0 {
		return errf("STLS must be the last command sent before the TLS handshake")
	}
	s.ok("Begin TLS negotiation")
	if err := s.w.Flush(); err != nil {
		return errHangUp
	}
	if err := s.startTLS(); err != nil {
		s.log.Debug("STLS handshake failed", "err", err)
		return errHangUp
	}
	// RFC 2595 §4: forget what the client said before the handshake.
	s.user = ""
	return nil
}

// passwordRefusal is the reply when a password may not be sent here.
func (s *session) passwordRefusal() *replyError {
	if s.srv.cfg.TLS != nil {
		return errPlaintext
	}
	return errNoTLS
}

// userCmd takes the user name for PASS (RFC 1939 §7). It answers +OK for
// any name, so that it never tells whether an account exists.
func (s *session) userCmd(c command) error {
	if !s.plaintextAllowed() {
		return s.passwordRefusal()
	}
	s.user = c.args[0]
	s.ok("Send your password")
	return nil
}

// pass logs in with the name from USER (RFC 1939 §7). The password is the
// rest of the line: it may contain spaces.
func (s *session) pass(c command) error {
	if !s.plaintextAllowed() {
		return s.passwordRefusal()
	}
	if s.user == "" {
		return errf("Send USER first")
	}
	user := s.user
	s.user = ""
	return s.login(user, c.rest)
}

// auth runs AUTH (RFC 5034 §4) with the PLAIN mechanism (RFC 4616). AUTH
// without a mechanism lists the mechanisms, as many servers and clients
// expect (RFC 1734's old form).
func (s *session) auth(c command) error {
	if len(c.args) == 0 {
		s.ok("Supported mechanisms follow")
		if s.plaintextAllowed() {
			s.reply("PLAIN")
		}
		s.reply(".")
		return nil
	}
	if !strings.EqualFold(c.args[0], "PLAIN") {
		return errf("Unsupported authentication mechanism")
	}
	if !s.plaintextAllowed() {
		return s.passwordRefusal()
	}
	var resp string
	if len(c.args) == 2 {
		// RFC 5034 §4: an initial response; "=" stands for an empty one.
		resp = c.args[1]
		if resp == "=" {
			resp = ""
		}
	} else {
		// RFC 5034 §4: an empty challenge is "+" and a space.
		s.reply("+ ")
		if err := s.w.Flush(); err != nil {
			return errHangUp
		}
		line, err := s.readSASL()
		if err != nil {
			return err
		}
		if line == "*" {
			return errf("Authentication cancelled") // RFC 5034 §4
		}
		resp = line
	}
	data, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return errf("Invalid base64 data")
	}
	// RFC 4616 §2: [authzid] NUL authcid NUL passwd. pail does not let one
	// user act as another, so authzid is empty or the same user.
	parts := strings.Split(string(data), "\x00")
	if len(parts) != 3 || parts[1] == "" || parts[0] != "" && parts[0] != parts[1] {
		user := ""
		if len(parts) == 3 {
			user = parts[1]
		}
		s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", user, "proto", "POP3", "reason", "bad PLAIN message")
		return errAuthFailed
	}
	return s.login(parts[1], parts[2])
}

// readSASL reads a client's SASL response line.
func (s *session) readSASL() (string, error) {
	s.raw.SetReadDeadline(time.Now().Add(s.srv.cfg.IdleTimeout))
	line, err := s.readLine(maxSASLLine)
	if errors.Is(err, errLineLong) {
		return "", errf("SASL response too long")
	}
	if err != nil {
		return "", errHangUp
	}
	return line, nil
}

// login checks the credentials, locks the maildrop and takes its snapshot
// (RFC 1939 §4: on success the session enters the TRANSACTION state).
func (s *session) login(user, password string) error {
	acct, err := s.srv.deps.Auth.Authenticate(s.srv.ctx, s.ip, user, password)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrLimited):
		s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", user, "proto", "POP3", "reason", "limited")
		return errLimited
	case errors.Is(err, auth.ErrFailed):
		s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", user, "proto", "POP3")
		return errAuthFailed
	default:
		s.log.Error("pop3 authenticate", "err", err)
		return errTemporary
	}
	lock, err := s.srv.deps.Locks.tryLock(s.srv.ctx, acct.ID)
	switch {
	case errors.Is(err, errLocked):
		return errInUse
	case err != nil:
		// A shared lock table that cannot answer: nobody can tell
		// whether another node's session holds the maildrop.
		s.log.Error("pop3 lock maildrop", "user", acct.Address, "err", err)
		return errTemporary
	}
	// From here the session releases the lock when it ends, even by a
	// panic.
	s.lock = lock
	if lock.lost != nil {
		// A lost lock is another session's now: cut this one off, so
		// that it neither reads nor removes anything more.
		log, raw := s.log, s.raw // the watch runs on a goroutine of its own
		s.stopWatch = context.AfterFunc(lock.lost, func() {
			log.Warn("pop3 maildrop lock lost; closing the session", "user", acct.Address)
			raw.Close()
		})
	}
	mb, msgs, err := s.snapshot(acct.ID)
	if err != nil {
		s.releaseLock()
		s.log.Error("pop3 open maildrop", "user", acct.Address, "err", err)
		return errTemporary
	}
	s.account, s.mailbox, s.msgs = acct, mb, msgs
	s.state = stateTransaction
	s.log = s.log.With("user", acct.Address)
	s.log.Debug("pop3 login", "messages", len(msgs))
	n, size := s.count()
	s.ok(fmt.Sprintf("Logged in, %d messages (%d octets)", n, size))
	return nil
}

// releaseLock gives the maildrop lock back, if the session holds it. A
// session that is ending still releases its lock when the server is being
// closed, so the release does not inherit the server's cancellation.
func (s *session) releaseLock() {
	if s.lock.release == nil {
		return
	}
	if s.stopWatch != nil {
		s.stopWatch()
		s.stopWatch = nil
	}
	s.lock.release(context.WithoutCancel(s.srv.ctx))
	s.lock = maildropLock{}
}

// snapshot lists the INBOX as it is now: the session's message numbers.
func (s *session) snapshot(accountID int64) (store.Mailbox, []entry, error) {
	mb, err := s.srv.deps.Store.MailboxByName(s.srv.ctx, accountID, store.Inbox)
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	msgs, err := s.srv.deps.Store.MessageSizes(s.srv.ctx, mb.ID)
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	out := make([]entry, len(msgs))
	for i, m := range msgs {
		out[i] = entry{Message: m}
	}
	return mb, out, nil
}
