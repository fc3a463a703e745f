package imapd

import (
	"errors"
	"io"
	"sync"
	"time"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// session is one logged-in IMAP connection's mailbox state. The engine
// calls its methods from one goroutine at a time.
type session struct {
	srv  *Server
	conn *imapengine.Conn
	ip   string

	acct store.Account
	sub  *store.Subscription
	sel  *view        // the selected mailbox, or nil
	ntf  *notifyState // NOTIFY SET in force (RFC 5465), or nil
}

var (
	_ imapengine.Backend     = (*Server)(nil)
	_ imapengine.Session     = (*session)(nil)
	_ imapengine.MessageSink = (*session)(nil)
)

// Logout ends the session.
func (sess *session) Logout() {
	if sess.sub != nil {
		sess.sub.Close()
	}
}

// idleRecheck is how often an IDLE session looks at its mailbox even
// without an event. Store events (including those the change watcher raises
// for other processes' commits) already wake it, and a dropped event only
// happens while another one is pending, so this is a safety net; it is long
// so that thousands of idle sessions cost no CPU.
const idleRecheck = 2 * time.Minute

// Watch wakes the client in IDLE on every event of the account (an event
// for this mailbox may have been dropped while others were pending, and a
// sync that finds nothing changed is one indexed read), and every
// idleRecheck. It parks no goroutine: the store calls changed as it
// publishes, and the recheck is a timer.
func (sess *session) Watch(changed func()) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	mu.Lock()
	t = time.AfterFunc(idleRecheck, func() {
		changed()
		mu.Lock()
		t.Reset(idleRecheck)
		mu.Unlock()
	})
	mu.Unlock()
	sess.sub.Notify(changed)
	// An event published before Notify took effect is still on C.
	select {
	case <-sess.sub.C:
		changed()
	default:
	}
	return func() {
		sess.sub.Notify(nil)
		mu.Lock()
		t.Stop()
		mu.Unlock()
	}
}

// MessageSink receives an APPEND message (or CATENATE TEXT part) into a
// store.BodyWriter while the command is read.
func (sess *session) MessageSink(imapwire.LiteralInfo) (io.Writer, error) {
	w, err := sess.srv.deps.Store.NewBody()
	if err != nil {
		return nil, sess.storeErr(err)
	}
	return w, nil
}

// delim is the hierarchy separator.
const delim = store.Delimiter

// Errors with their IMAP replies.
var (
	errUnavailable = imapengine.No("UNAVAILABLE", "Temporary failure, try again")
	errNoMailbox   = imapengine.No("NONEXISTENT", "No such mailbox")
	errTryCreate   = imapengine.No("TRYCREATE", "No such mailbox")
	errReadOnly    = imapengine.No("CANNOT", "Mailbox is read-only (EXAMINE)")
	errBadName     = imapengine.No("CANNOT", "Invalid mailbox name: an empty level, a wildcard or a control character")
)

// storeErr turns a store error into an IMAP reply: known conditions get
// their response code, anything else is logged and answered generically so
// internals never leak.
func (sess *session) storeErr(err error) error {
	var ie *imapengine.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return err
	case errors.Is(err, store.ErrNotFound):
		return errNoMailbox
	case errors.Is(err, store.ErrExists):
		return imapengine.No("ALREADYEXISTS", "Mailbox already exists")
	case errors.Is(err, store.ErrInbox):
		return imapengine.No("CANNOT", "INBOX cannot be deleted")
	}
	sess.srv.deps.Log.Error("store", "err", err, "user", sess.acct.Address)
	return errUnavailable
}

// internalErr logs an error of pail's own (not the client's, not the
// store's) and answers it generically.
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
