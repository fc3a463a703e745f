package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"pail/internal/safeio"
)

// Message is one message in a mailbox.
type Message struct {
	ID           int64
	MailboxID    int64
	UID          uint32
	ModSeq       uint64
	InternalDate time.Time
	Size         int64 // octets as stored, CRLF line endings
	Flags        []string
	Recent       bool
	// path is the file holding the message bytes in this store: the
	// store's own business, protocols read the bytes through OpenBody.
	path string
	// bodyID is the bodies row holding the bytes in a PostgreSQL store.
	bodyID int64
	// SaveDate is when the message was saved into this mailbox (RFC
	// 8514: delivery, APPEND, COPY, MOVE); zero for mail stored before
	// pail kept it.
	SaveDate time.Time
	// EmailID and ThreadID are the message's RFC 8474 EMAILID and
	// THREADID (see objectIDMigration); ThreadID is "" for mail stored
	// before pail computed it, until the background fill reaches it.
	EmailID, ThreadID string
}

// fileSpool is the BodyWriter of this store: a message being received,
// written to a temporary file in the data directory until deliverBatch
// links it into mailboxes.
type fileSpool struct {
	f    *os.File
	size int64
	keep bool // deliverBatch leaves the file in place (see Retain)
	// temp marks a PostgreSQL store's spool: a temporary file whose bytes
	// delivery writes into the database (never synced, linked or
	// renamed).
	temp bool
}

var _ BodyWriter = (*fileSpool)(nil)

// newSpool starts a new message.
func (s *Store) newSpool() (*fileSpool, error) {
	if s.db.pg() {
		return newTempSpool()
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "spool"), s.owner.token+tokenSep+"msg-")
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	return &fileSpool{f: f}, nil
}

// Write appends message bytes.
func (sp *fileSpool) Write(p []byte) (int, error) {
	n, err := sp.f.Write(p)
	sp.size += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (sp *fileSpool) Size() int64 { return sp.size }

// Retain makes delivery leave the spool file in place, for a caller that
// still reads it after DeliverBody (the outgoing queue takes the remote
// copies after the local ones are stored). That caller must Discard the
// spool.
func (sp *fileSpool) Retain() { sp.keep = true }

// ReadAt reads spooled bytes at off, for a caller that looks at the
// message before it is delivered (the inbound checks).
func (sp *fileSpool) ReadAt(p []byte, off int64) (int, error) { return sp.f.ReadAt(p, off) }

// copyFrom appends n bytes of the file src from offset off. The bytes
// are copied by the kernel (copy_file_range, a reflink where the file
// system shares blocks) rather than through user space. src's offset is
// left at its end, where a spool's writes go.
func (sp *fileSpool) copyFrom(src *os.File, off, n int64) error {
	if _, err := src.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("store: spool: %w", err)
	}
	// *os.File.ReadFrom takes the copy_file_range path for an
	// *io.LimitedReader of an *os.File.
	w, err := sp.f.ReadFrom(&io.LimitedReader{R: src, N: n})
	sp.size += w
	if _, serr := src.Seek(0, io.SeekEnd); err == nil && serr != nil {
		err = serr
	}
	if err == nil && w != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("store: spool copy: %w", err)
	}
	return nil
}

// ReadFrom appends what r reads, for io.Copy. From an io.SectionReader
// of another spool or of a stored Body (OpenBody) the bytes are copied
// by the kernel (copyFrom): IMAP CATENATE's parts, delivery's copies.
func (sp *fileSpool) ReadFrom(r io.Reader) (int64, error) {
	if sr, ok := r.(*io.SectionReader); ok {
		if n, ok, err := sp.copySection(sr); ok {
			return n, err
		}
	}
	w, err := sp.f.ReadFrom(r)
	sp.size += w
	if err != nil {
		return w, fmt.Errorf("store: spool: %w", err)
	}
	return w, nil
}

// copySection copies the unread rest of sr when it reads a file of this
// store (another spool, or a stored message), reporting ok false for any
// other reader.
func (sp *fileSpool) copySection(sr *io.SectionReader) (n int64, ok bool, err error) {
	outer, base, size := sr.Outer()
	var src *os.File
	switch o := outer.(type) {
	case *fileSpool:
		src = o.f
	case *fileBody:
		// A message file never changes after delivery: a second
		// descriptor of it reads the same bytes, and Seek on it
		// disturbs no reader of the Body. A file expunged since
		// OpenBody is still read through the Body's own descriptor,
		// in user space.
		if src, err = os.Open(o.path); err != nil {
			return 0, false, nil
		}
		defer src.Close()
		size = min(size, o.size-base)
	default:
		return 0, false, nil
	}
	pos, err := sr.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, true, fmt.Errorf("store: spool: %w", err)
	}
	if pos >= size {
		return 0, true, nil
	}
	if err := sp.copyFrom(src, base+pos, size-pos); err != nil {
		return 0, true, err
	}
	sr.Seek(0, io.SeekEnd)
	return size - pos, true, nil
}

// Discard removes the spool file. It is safe to call after delivery.
func (sp *fileSpool) Discard() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}

// Delivery names one mailbox a spooled message goes into.
type Delivery struct {
	AccountID int64
	Mailbox   string // "" means INBOX; a missing mailbox also falls back to INBOX
	// SpecialUse, when set (`\Junk`), names the mailbox by its RFC 6154
	// attribute instead: the account's mailbox that has it, whatever the
	// user renamed it to; without one, the mailbox named Mailbox, which
	// is created with the attribute if it is missing, so that such mail
	// never falls back to INBOX.
	SpecialUse string
	Flags      []string  // initial flags
	Date       time.Time // internal date; zero means now
	// DedupeKey, when set with DedupeSince, suppresses a second copy: if
	// the account already received a message with this key since then,
	// nothing is stored and Delivered.Duplicate is set. This makes
	// redelivery by a sender that retried after a crash harmless. The key
	// must be what makes a retry a retry, never something a third party can
	// choose: delivery uses a digest of the envelope and of the message data
	// as the client sent it (see delivery.Message).
	DedupeKey   []byte
	DedupeSince time.Time
}

// Delivered is the outcome of one Delivery.
type Delivered struct {
	MailboxID   int64
	UIDValidity uint32
	UID         uint32
	Duplicate   bool   // suppressed: the account already has this message
	Mailbox     string // the name of the mailbox it went into
}

// batch is one spooled message of deliverBatch and the mailboxes it
// goes into.
type batch struct {
	sp *fileSpool
	ds []Delivery
}

// deliverBatch stores several spooled messages in one transaction, all
// or nothing (DeliverBody, DeliverBodies): when it returns nil, each
// message file and its rows are on disk (fsynced) for every Delivery (or
// the Delivery was a duplicate); when it returns an error, nothing of
// any message is kept. out[i] is the outcome of bs[i]; within one
// mailbox the messages get UIDs in the order of bs. Every spool is
// consumed unless Retain was called on it.
func (s *Store) deliverBatch(ctx context.Context, bs []batch) (out [][]Delivered, err error) {
	for _, b := range bs {
		if !b.sp.keep {
			defer b.sp.Discard()
		}
	}
	ks, err := syncSpools(bs)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	paths := make([][]string, len(bs))
	var placed []string // every file placed so far, removed on failure
	var dirs []string
	var datas [][]byte // PostgreSQL: each message's bytes, for its bodies row
	if s.db.pg() {
		datas = make([][]byte, len(bs))
		for i, b := range bs {
			if datas[i], err = spoolBytes(b.sp); err != nil {
				return nil, err
			}
		}
	}
	for i, b := range bs {
		if s.db.pg() {
			break
		}
		if paths[i], err = s.place(b.sp, b.ds, &dirs); err != nil {
			removeFiles(placed)
			return nil, err
		}
		placed = append(placed, paths[i]...)
	}
	if s.afterPlace != nil {
		s.afterPlace()
	}
	out = make([][]Delivered, len(bs))
	// RFC 8474 §5.1: the copies of one message an account gets share its
	// EMAILID; another account's copy, or another message, gets its own.
	emailIDs := make([]map[int64]string, len(bs))
	for i, b := range bs {
		emailIDs[i] = map[int64]string{}
		for _, d := range b.ds {
			if emailIDs[i][d.AccountID] == "" {
				emailIDs[i][d.AccountID] = newObjectID('E')
			}
		}
	}
	err = s.write(ctx, dirs, func(tx *dbTx) error {
		for i, b := range bs {
			out[i] = make([]Delivered, len(b.ds))
			var body int64 // PostgreSQL: the bodies row, once one recipient needs it
			for j, d := range b.ds {
				date := d.Date
				if date.IsZero() {
					date = now
				}
				if len(d.DedupeKey) > 0 && !d.DedupeSince.IsZero() {
					dup, err := seenBefore(tx, d.AccountID, d.DedupeKey, d.DedupeSince, now, s.stats.writes.Load()%pruneEvery == 0)
					if err != nil {
						return fmt.Errorf("store: account %d: duplicate check: %w", d.AccountID, err)
					}
					if dup {
						out[i][j] = Delivered{Duplicate: true}
						continue
					}
				}
				// One recipient's failure fails them all: the savepoint of
				// this write is rolled back, and the caller answers 451.
				var err error
				k := ks[i]
				k.emailID = emailIDs[i][d.AccountID]
				var file any
				if tx.pg() {
					if body == 0 {
						if body, err = insertBody(tx, datas[i]); err != nil {
							return err
						}
					}
					file = body
				} else {
					file = filepath.Base(paths[i][j])
				}
				if out[i][j], err = insertMessage(tx, d.AccountID, d.Mailbox, d.SpecialUse, file, b.sp.size, date, d.Flags, k); err != nil {
					return fmt.Errorf("store: account %d: %w", d.AccountID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		removeFiles(placed)
		return nil, err
	}
	for i, b := range bs {
		for j, d := range out[i] {
			if d.Duplicate {
				if !s.db.pg() {
					removeFiles(paths[i][j : j+1])
				}
				continue
			}
			s.hub.publish(Event{AccountID: b.ds[j].AccountID, MailboxID: d.MailboxID, Kind: EventNewMessage})
		}
	}
	s.kickText()
	return out, nil
}

// maxParallelSyncs bounds the spool fsyncs of one batch in flight at
// once: the disk overlaps them (one flush can carry several), and more
// would only add goroutines.
const maxParallelSyncs = 8

// syncSpools syncs the spools of a batch and reads their summaries,
// several at a time; one spool (DeliverBody) is synced on the caller's
// goroutine.
func syncSpools(bs []batch) ([]kept, error) {
	ks := make([]kept, len(bs))
	if len(bs) == 1 {
		k, err := syncSpool(bs[0].sp)
		ks[0] = k
		return ks, err
	}
	errs := make([]error, len(bs))
	sem := make(chan struct{}, maxParallelSyncs)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			ks[i], errs[i] = syncSpool(b.sp)
			<-sem
		}()
	}
	wg.Wait()
	return ks, errors.Join(errs...)
}

// syncSpool fsyncs a spool file and reads what the message says about
// itself (its kept summary) from the bytes being stored, outside the
// shared transaction and while the file is synced (the reading overlaps
// the fsync's wait).
func syncSpool(sp *fileSpool) (kept, error) {
	type described struct {
		k   kept
		err error
	}
	desc := make(chan described, 1)
	go func() {
		k, err := summaryOf(sp)
		desc <- described{k, err}
	}()
	var serr error
	if !sp.temp {
		serr = sp.f.Sync()
	}
	d := <-desc
	if serr != nil {
		return kept{}, fmt.Errorf("store: sync spool: %w", serr)
	}
	return d.k, d.err
}

// place puts the spooled message's file in place for every Delivery of
// ds and returns the paths, adding the account directories to dirs (for
// the commit to sync). On an error nothing of it is left in place.
func (s *Store) place(sp *fileSpool, ds []Delivery, dirs *[]string) ([]string, error) {
	paths := make([]string, len(ds))
	for i, d := range ds {
		dir := s.accountDir(d.AccountID)
		if !slices.Contains(*dirs, dir) {
			if err := safeio.MkdirAll(dir, 0o700); err != nil {
				removeFiles(paths[:i])
				return nil, fmt.Errorf("store: %w", err)
			}
			*dirs = append(*dirs, dir)
		}
		paths[i] = filepath.Join(dir, s.owner.name())
		// The spool file itself becomes the first copy (a rename frees no
		// inode: creating inodes where many were just freed is slow on
		// ext4), and every other recipient gets a hard link to the same
		// bytes under its own name, so deleting one copy never touches
		// another. A retained spool is linked, not renamed.
		var err error
		switch {
		case sp.keep:
			err = os.Link(sp.f.Name(), paths[i])
		case i == 0:
			err = os.Rename(sp.f.Name(), paths[0])
		default:
			err = os.Link(paths[0], paths[i])
		}
		if err != nil {
			removeFiles(paths[:i])
			return nil, fmt.Errorf("store: place message: %w", err)
		}
	}
	return paths, nil
}

// pruneEvery is how many store writes pass between prunings of old
// duplicate-suppression records.
const pruneEvery = 1024

// seenBefore reports whether the account received a message with this
// dedupe key since the given time, and records it now if not. Old records
// are pruned now and then.
func seenBefore(tx *dbTx, accountID int64, key []byte, since, now time.Time, prune bool) (bool, error) {
	var at int64
	err := tx.QueryRow("SELECT at FROM seen_digests WHERE account_id = ? AND digest = ?", accountID, key).Scan(&at)
	if err == nil && at >= since.Unix() {
		return true, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	if _, err := tx.Exec("INSERT INTO seen_digests (account_id, digest, at) VALUES (?, ?, ?) ON CONFLICT (account_id, digest) DO UPDATE SET at = excluded.at",
		accountID, key, now.Unix()); err != nil {
		return false, err
	}
	if prune {
		if _, err := tx.Exec("DELETE FROM seen_digests WHERE at < ?", since.Unix()); err != nil {
			return false, err
		}
	}
	return false, nil
}

// specialMailbox creates the mailbox named name with the special-use
// attribute when the account has no mailbox with that attribute nor that
// name.
func specialMailbox(tx *dbTx, accountID int64, name, specialUse string) error {
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM mailboxes WHERE account_id = ? AND (special_use = ? OR name = ?)",
		accountID, specialUse, canonicalName(name)).Scan(&n); err != nil || n > 0 {
		return err
	}
	_, err := createMailbox(tx, accountID, canonicalName(name), specialUse)
	return err
}

// insertMessage adds one message row, assigning the next UID.
func insertMessage(tx *dbTx, accountID int64, mailbox, specialUse string, file any, size int64, date time.Time, flags []string, k kept) (Delivered, error) {
	if mailbox == "" {
		mailbox = Inbox
	}
	var d Delivered
	var modseq uint64
	if specialUse != "" {
		if err := specialMailbox(tx, accountID, mailbox, specialUse); err != nil {
			return d, err
		}
	}
	row := tx.QueryRow(`SELECT id, uidvalidity, uidnext, modseq, name FROM mailboxes WHERE account_id = ?
		AND (name IN (?, 'INBOX') OR (special_use = ? AND ? <> ''))
		ORDER BY special_use = ? AND ? <> '' DESC, name = 'INBOX', id LIMIT 1`+sqlDialect(tx.db.dialect).forUpdate,
		accountID, canonicalName(mailbox), specialUse, specialUse, specialUse, specialUse)
	if err := row.Scan(&d.MailboxID, &d.UIDValidity, &d.UID, &modseq, &d.Mailbox); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("%w: account %d has no mailbox %s", ErrNotFound, accountID, mailbox)
		}
		return d, err
	}
	modseq++
	if _, err := tx.Exec("UPDATE mailboxes SET uidnext = uidnext + 1, modseq = ? WHERE id = ?", modseq, d.MailboxID); err != nil {
		return d, err
	}
	emailID := k.emailID
	if emailID == "" {
		emailID = newObjectID('E')
	}
	if _, err := tx.Exec("INSERT INTO messages (mailbox_id, uid, modseq, internal_date, size, flags, file, summary, structure, sent_day, saved, email_id, thread_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.MailboxID, d.UID, modseq, date.Unix(), size, formatFlags(flags), file, k.summary, k.structure, k.sentDay,
		time.Now().Unix(), emailID, threadID(accountID, k.threadRoot)); err != nil {
		return d, err
	}
	return d, nil
}

const messageColumns = "m.id, m.mailbox_id, m.uid, m.modseq, m.internal_date, m.size, m.flags, m.recent, m.file, b.account_id, m.saved, m.email_id, m.thread_id"

func (s *Store) scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var date, account int64
	var flags, file string
	var saved sql.NullInt64
	var emailID, threadID sql.NullString
	if err := row.Scan(&m.ID, &m.MailboxID, &m.UID, &m.ModSeq, &date, &m.Size, &flags, &m.Recent, &file, &account, &saved, &emailID, &threadID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Message{}, ErrNotFound
		}
		return Message{}, fmt.Errorf("store: %w", err)
	}
	m.InternalDate = time.Unix(date, 0)
	m.Flags = parseFlags(flags)
	if s.db.pg() {
		m.bodyID, _ = strconv.ParseInt(file, 10, 64)
	} else {
		m.path = filepath.Join(s.accountDir(account), file)
	}
	if saved.Valid {
		m.SaveDate = time.Unix(saved.Int64, 0)
	}
	m.EmailID, m.ThreadID = emailID.String, threadID.String
	return m, nil
}

// Messages lists the messages of a mailbox in UID order.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+messageColumns+" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? ORDER BY m.uid", mailboxID)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := s.scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Expunge removes messages (by id) from a mailbox for good. When it returns
// nil the removal is durable. Ids that are not in the mailbox are ignored.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var accountID int64
	var paths []string
	var bodies []int64 // PostgreSQL: the bodies rows the messages named
	err := s.write(ctx, nil, func(tx *dbTx) error {
		paths, bodies = paths[:0], bodies[:0]
		var modseq uint64
		if err := s.txQueryRow(tx, "SELECT account_id, modseq FROM mailboxes WHERE id = ?"+s.d.forUpdate, mailboxID).Scan(&accountID, &modseq); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		modseq++
		dir := s.accountDir(accountID)
		del, err := s.txStmt(tx, "DELETE FROM messages WHERE id = ? AND mailbox_id = ? RETURNING uid, file")
		if err != nil {
			return err
		}
		keep, err := s.txStmt(tx, expungedInsert)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var uid uint32
			var file string
			err := del.QueryRow(id, mailboxID).Scan(&uid, &file)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := keep.Exec(mailboxID, uid, modseq); err != nil {
				return err
			}
			if tx.pg() {
				id, _ := strconv.ParseInt(file, 10, 64)
				bodies = append(bodies, id)
			} else {
				paths = append(paths, filepath.Join(dir, file))
			}
		}
		if _, err = s.txExec(tx, "UPDATE mailboxes SET modseq = ? WHERE id = ?", modseq, mailboxID); err != nil {
			return err
		}
		return gcBodies(tx, bodies)
	})
	if err != nil {
		return err
	}
	removeFiles(paths)
	s.hub.publish(Event{AccountID: accountID, MailboxID: mailboxID, Kind: EventExpunge})
	return nil
}

// expungedInsert records an expunged UID (RFC 7162 §3.2.7: the
// modseq of its expunge).
const expungedInsert = "INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?) ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq"

// systemFlags are the RFC 9051 §2.3.2 flags, spelled canonically.
var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

// normalizeFlags spells system flags canonically, drops duplicates and
// sorts.
func normalizeFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		for _, sf := range systemFlags {
			if strings.EqualFold(f, sf) {
				f = sf
			}
		}
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

func formatFlags(flags []string) string { return strings.Join(normalizeFlags(flags), " ") }

func parseFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
