// Package imapd is pail's IMAP service (RFC 3501 IMAP4rev1 and RFC 9051
// IMAP4rev2): the mailbox logic behind internal/imapengine, which owns the
// connection, its states and the wire syntax. This package maps every
// mailbox command onto the store, and adds admission control (connection
// caps), the login check (failures slowed and logged; the engine allows
// logins only over TLS or from loopback) and live updates. ENVELOPE,
// BODYSTRUCTURE and BODY are the wire forms the store kept at delivery
// (computed by internal/imapmsg); body sections, and the structure of a
// message without kept forms, are parsed from the message's bytes at
// FETCH (imapmsg). The bytes are a blob of the store (store.Body, read
// with pread; store.BodyWriter for APPEND), never a file.
//
// Each selected mailbox is a per-session view: the UIDs the client knows, in
// order (sequence number = position + 1), with the flags last reported. At
// the points where RFC 9051 §7 lets the server speak (after each command,
// and at once while the client IDLEs), the session compares its view with
// the store and reports EXPUNGE (VANISHED once the client enabled QRESYNC),
// EXISTS and FETCH FLAGS, and the ADDTO and REMOVEFROM of the updating
// searches the view keeps (CONTEXT=SEARCH and CONTEXT=SORT, RFC 5267 §4.3,
// context.go). The store's
// per-mailbox modification sequence makes the comparison cost one indexed
// read when nothing changed; store events (from this process, and from
// other processes via Store.WatchChanges) wake IDLE sessions.
package imapd

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"pail/internal/imapmsg"
	"pail/internal/maillog"
	"pail/internal/message"
	"pail/internal/store"
)

// Store is the part of the store the IMAP service uses, by use: the
// account's mailboxes, their messages' state, the messages' bytes,
// APPEND, the quota, and the change events IDLE waits for. Message bytes
// are blobs (store.Body, store.BodyWriter), never files.
type Store interface {
	mailboxStore
	messageStore
	bodyStore
	appendStore
	quotaStore
	changeStore
}

// mailboxStore is the account's mailboxes: LIST, CREATE, DELETE, RENAME,
// SUBSCRIBE, STATUS.
type mailboxStore interface {
	Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error)
	MailboxByName(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
	CreateMailboxPath(ctx context.Context, accountID int64, name, specialUse string) (store.Mailbox, error)
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error
	SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error
	LoneSubscriptions(ctx context.Context, accountID int64) ([]string, error)
	MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxCounts, error)
}

// messageStore is the state of a selected mailbox's messages: UIDs,
// flags, MODSEQs, what was kept at delivery, searches, and the commands
// that change them.
type messageStore interface {
	MailboxModSeq(ctx context.Context, mailboxID int64) (uint64, error)
	MessageStates(ctx context.Context, mailboxID int64) (uint64, []store.MessageState, error)
	ChangesSince(ctx context.Context, mailboxID int64, since uint64) (uint64, []store.MessageState, []uint32, error)
	ExpungedSince(ctx context.Context, mailboxID int64, since uint64) ([]uint32, error)
	DeletedMessages(ctx context.Context, mailboxID int64) ([]store.MessageState, error)
	MessagesByUID(ctx context.Context, mailboxID int64, uids []uint32) ([]store.Message, error)
	// EachMessage streams the messages of a set in UID order with the
	// ENVELOPE, BODYSTRUCTURE and BODY wire forms kept at delivery.
	EachMessage(ctx context.Context, mailboxID int64, uids []uint32, kept store.KeptForms, fn func(m *store.Message, d imapmsg.Described) error) error
	// SearchUIDs returns the UIDs of a mailbox that match a conjunction
	// of the keys SQL can evaluate.
	SearchUIDs(ctx context.Context, mailboxID int64, q store.Query) ([]uint32, error)
	// SearchText returns the UIDs that may hold needle in field (BODY,
	// TEXT, ...) by the full-text index: a superset of the matches, or
	// narrowed false when the index cannot narrow.
	SearchText(ctx context.Context, mailboxID int64, field, needle string) (uids []uint32, narrowed bool, err error)
	// SearchCandidates returns the rows of the given UIDs, and with infos
	// their kept summaries by UID, visiting only those rows when they are
	// few in their range (a narrowed search's candidates).
	SearchCandidates(ctx context.Context, mailboxID int64, uids []uint32, infos bool) ([]store.Message, map[uint32]*message.Info, error)
	// MessageInfos returns the summaries kept at delivery, by UID (the
	// decoded fields SEARCH matches).
	MessageInfos(ctx context.Context, mailboxID int64, uids []uint32, structure bool) (map[uint32]*message.Info, error)
	// KeptPreviews returns the RFC 8970 previews kept at delivery, by
	// UID; with lazy, those not kept yet are absent.
	KeptPreviews(ctx context.Context, mailboxID int64, uids []uint32, lazy bool) (map[uint32]string, error)
	// SortFields calls fn with what SORT and THREAD use of each message,
	// kept at delivery.
	SortFields(ctx context.Context, mailboxID int64, uids []uint32, want store.SortWant, fn func(*store.SortFields)) error
	// ChangeFlags changes flags durably and says the mailbox's
	// mod-sequence before and after.
	ChangeFlags(ctx context.Context, mailboxID int64, uids []uint32, op store.FlagOp, flags []string, unchangedSince uint64) (store.FlagsResult, error)
	ClaimRecent(ctx context.Context, mailboxID int64) ([]uint32, error)
	Copy(ctx context.Context, srcID int64, uids []uint32, destID int64) (store.CopyResult, error)
	Move(ctx context.Context, srcID int64, uids []uint32, destID int64) (store.CopyResult, error)
	Expunge(ctx context.Context, mailboxID int64, ids []int64) error
}

// bodyStore is the messages' bytes as FETCH, SEARCH and CATENATE read
// them: random access (pread), so that a partial FETCH reads only the
// octets it sends.
type bodyStore interface {
	OpenBody(ctx context.Context, m store.Message) (store.Body, error)
}

// appendStore is APPEND: each message (and CATENATE TEXT part) is
// received into a BodyWriter while the command is read (MessageSink),
// and the command's messages are stored together.
type appendStore interface {
	NewBody() (store.BodyWriter, error)
	// DeliverBodies stores APPEND's messages in one transaction, all
	// or nothing (MULTIAPPEND, RFC 3502 §6.3.11), durable when it
	// returns nil.
	DeliverBodies(ctx context.Context, bs []store.BodyBatch) ([][]store.Delivered, error)
}

// quotaStore is the account's storage quota (RFC 9208).
type quotaStore interface {
	Room(ctx context.Context, accountID int64) (room int64, limited bool, err error)
	Quota(ctx context.Context, accountID int64) (store.Quota, error)
}

// changeStore is the change events that IDLE waits for, from
// this process and (WatchChanges) from others.
type changeStore interface {
	Subscribe(accountID int64) *store.Subscription
	WatchChanges(ctx context.Context, interval time.Duration) error
}

var _ Store = (*store.Store)(nil)

// Authenticator checks logins and slows and limits failures.
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error)
}

// Config configures one IMAP service (one listener).
type Config struct {
	Hostname            string
	ImplicitTLS         bool // TLS from the first byte (imaps, RFC 8314)
	TLS                 *tls.Config
	MaxMessageBytes     int64 // APPEND limit (RFC 7889 APPENDLIMIT)
	MaxConnections      int
	MaxConnectionsPerIP int
	ConnectionRatePerIP int // new connections per minute per address; 0: no limit; loopback exempt
	// WatchInterval is how often the store is checked for changes made
	// by other processes; zero means store.DefaultWatchInterval.
	WatchInterval time.Duration
	// Debug, if set, receives the raw protocol traffic (including
	// passwords: tests only).
	Debug io.Writer
}

// Learner is told where users file messages, so that a spam filter can
// learn from it (rspamd.Learner: into Junk is spam, out of it ham). Filed
// must return at once; it is called after the store has committed a COPY
// or MOVE, with the messages' UIDs in the destination.
type Learner interface {
	Filed(from, to store.Mailbox, uids []uint32)
}

// Deps are the services an IMAP server uses.
type Deps struct {
	Store   Store
	Auth    Authenticator
	Log     *slog.Logger
	MailLog *maillog.Logger
	// Learner, if set, is told of every COPY and MOVE.
	Learner Learner
}
