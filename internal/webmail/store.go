package webmail

import (
	"context"
	"io"
	"net/netip"

	"pail/internal/delivery"
	"pail/internal/store"
)

// Store is the part of the store the web pages use, by use: the account,
// its mailboxes and their messages, the messages' bytes, and the sessions.
type Store interface {
	accountStore
	mailboxStore
	bodyStore
	sessionStore
}

// accountStore reads a logged-in user's account.
type accountStore interface {
	AccountByID(ctx context.Context, id int64) (store.Account, error)
}

// mailboxStore is mailbox access: folders, message lists and searches,
// flags, moves and removals.
type mailboxStore interface {
	Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error)
	MailboxByID(ctx context.Context, id int64) (store.Mailbox, error)
	MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxCounts, error)
	Messages(ctx context.Context, mailboxID int64) ([]store.Message, error)
	// ListMessages returns a page of a folder newest first, by keyset,
	// with each message's kept summary.
	ListMessages(ctx context.Context, mailboxID int64, q store.ListQuery) ([]store.Listed, error)
	// SearchText returns the UIDs that may hold needle in a field (a
	// superset of the matches, from the full-text index); narrowed false
	// means every message may.
	SearchText(ctx context.Context, mailboxID int64, field, needle string) (uids []uint32, narrowed bool, err error)
	// MessageOfAccount must return store.ErrNotFound for a message of
	// another account: it is what keeps one user out of another's mail.
	MessageOfAccount(ctx context.Context, accountID, id int64) (store.Message, error)
	SetFlags(ctx context.Context, mailboxID int64, uids []uint32, op store.FlagOp, flags []string, unchangedSince uint64) ([]store.MessageState, []uint32, error)
	Move(ctx context.Context, srcID int64, uids []uint32, destID int64) (store.CopyResult, error)
	Expunge(ctx context.Context, mailboxID int64, ids []int64) error
	CreateMailboxPath(ctx context.Context, accountID int64, name, specialUse string) (store.Mailbox, error)
	RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
}

// bodyStore reads messages' bytes (reading pages, attachments, replies)
// and stores new ones (drafts, sent copies): blobs, never files.
type bodyStore interface {
	OpenBody(ctx context.Context, m store.Message) (store.Body, error)
	NewBody() (store.BodyWriter, error)
	DeliverBody(ctx context.Context, w store.BodyWriter, ds []store.Delivery) ([]store.Delivered, error)
}

var _ Store = (*store.Store)(nil)

// Authenticator checks a login; it slows and limits failures and never
// says whether an account exists (auth.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error)
}

// Learner is told where users file messages, so that a spam filter can
// learn from it (rspamd.Learner: into Junk is spam, out of it ham). Filed
// must return at once; it is called after the store has committed a
// move, with the messages' UIDs in the destination.
type Learner interface {
	Filed(from, to store.Mailbox, uids []uint32)
}

// Submitter sends a message for an account through the one submission
// path (delivery.Deliverer.Submit with the server's router): sender
// check, routing, local delivery or the outgoing queue.
type Submitter interface {
	Submit(ctx context.Context, acct store.Account, from string, rcpts []string, content io.Reader, tr delivery.Trace) (string, error)
}
