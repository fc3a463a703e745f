package imapd

import (
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"pail/internal/admit"
	"pail/internal/auth"
	"pail/internal/maillog"
	"pail/internal/store"
)

// session is one IMAP connection's backend state. The library calls its
// methods from one goroutine at a time (Idle runs alone while the
// connection waits for DONE).
type session struct {
	srv   *Server
	conn  *imapserver.Conn
	guard *guard // the connection below the library
	ip    string

	acct store.Account // zero until login
	sub  *store.Subscription
	sel  *view // the selected mailbox, or nil
}

var (
	_ imapserver.Session            = (*session)(nil)
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	g, _ := c.NetConn().(*guard)
	sess := &session{srv: s, conn: c, guard: g, ip: admit.RemoteIP(c.NetConn().RemoteAddr()).String()}
	if !s.addSession(sess) {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "pail is shutting down"}
	}
	return sess, nil, nil
}

// Close ends the session.
func (sess *session) Close() error {
	if sess.sub != nil {
		sess.sub.Close()
	}
	sess.srv.removeSession(sess)
	return nil
}

// Login checks a password through the authenticator, which slows and
// limits failures. The library allows it only over TLS or, on the loopback
// server, from loopback; otherwise it answers NO [PRIVACYREQUIRED] and
// CAPABILITY shows LOGINDISABLED (RFC 9051 §6.2.3).
func (sess *session) Login(username, password string) error {
	s := sess.srv
	acct, err := s.deps.Auth.Authenticate(s.ctx, admit.RemoteIP(sess.conn.NetConn().RemoteAddr()), username, password)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrLimited):
		s.deps.MailLog.Log(maillog.AuthFailed, "client", sess.ip, "user", username, "proto", "imap", "reason", "limited")
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Too many failed logins, try again later"}
	case errors.Is(err, auth.ErrFailed):
		s.deps.MailLog.Log(maillog.AuthFailed, "client", sess.ip, "user", username, "proto", "imap")
		return imapserver.ErrAuthFailed
	default:
		s.deps.Log.Error("auth", "err", err)
		return errUnavailable
	}
	sess.acct = acct
	sess.sub = s.deps.Store.Subscribe(acct.ID)
	if sess.guard != nil {
		sess.guard.setLoggedIn(acct.Address)
	}
	s.deps.Log.Debug("login", "user", acct.Address, "client", sess.ip)
	return nil
}

// AppendLimit is the largest message APPEND accepts (RFC 7889).
func (sess *session) AppendLimit() uint32 {
	return uint32(sess.srv.appendLimit())
}

// Namespace reports one personal namespace with "/" as the hierarchy
// separator (RFC 2342); there are no shared or other users' namespaces.
func (sess *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}, nil
}

// delim is the hierarchy separator.
const delim = store.Delimiter

// Errors with their IMAP replies.
var (
	errUnavailable = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Temporary failure, try again"}
	errNoMailbox   = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	errTryCreate   = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	errReadOnly    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only (EXAMINE)"}
	errBadName     = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Invalid mailbox name"}
)

// storeErr turns a store error into an IMAP reply: known conditions get
// their response code, anything else is logged and answered generically so
// internals never leak.
func (sess *session) storeErr(err error) error {
	var ie *imap.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return err
	case errors.Is(err, store.ErrNotFound):
		return errNoMailbox
	case errors.Is(err, store.ErrExists):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	case errors.Is(err, store.ErrInbox):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	sess.srv.deps.Log.Error("store", "err", err, "user", sess.acct.Address)
	return errUnavailable
}

// internalErr logs an error of pail's own (not the client's, not the
// store's) and answers it generically: no session method returns an error
// without an IMAP reply, so go-imap's NO [SERVERBUG] only ever answers its
// own decoder (see guard.go).
func (sess *session) internalErr(what string, err error) error {
	sess.srv.deps.Log.Error(what, "err", err, "user", sess.acct.Address)
	return errUnavailable
}

// cleanName checks a mailbox name given by a client (store.CleanMailboxName).
func cleanName(name string) (string, error) {
	name, err := store.CleanMailboxName(name)
	if err != nil {
		return "", errBadName
	}
	return name, nil
}
