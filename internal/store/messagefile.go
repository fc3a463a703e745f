package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
)

// fileBody is the SQLite store's Body: a message file read with plain
// system calls. On Unix it opens and reads the file with open, pread and
// close, without the os.File machinery that costs a regular file several
// more per open (non-blocking mode probes, an attempt to register it with
// the network poller) and a finalizer: POP3 RETR takes whole messages one
// after another.
type fileBody struct {
	f    rawFile
	id   int64
	size int64 // octets recorded for the message
	// path names the file, for a kernel copy into a spool (CATENATE).
	path string
}

var _ Body = (*fileBody)(nil)

// MessageSizes lists a mailbox's messages in UID order with only what a
// reader of whole messages needs: ID, MailboxID, UID and Size (and what
// OpenBody needs to find the bytes). It is Messages without the flags,
// dates and join, for a POP3 login to a maildrop of many thousand
// messages.
func (s *Store) MessageSizes(ctx context.Context, mailboxID int64) ([]Message, error) {
	var accountID int64
	err := s.db.QueryRowContext(ctx, "SELECT account_id FROM mailboxes WHERE id = ?", mailboxID).Scan(&accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: mailbox %d", ErrNotFound, mailboxID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	dir := s.accountDir(accountID) + string(filepath.Separator)
	rows, err := s.db.QueryContext(ctx, "SELECT id, uid, size, file FROM messages WHERE mailbox_id = ? ORDER BY uid", mailboxID)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Message
	var file sql.RawBytes
	for rows.Next() {
		m := Message{MailboxID: mailboxID}
		if err := rows.Scan(&m.ID, &m.UID, &m.Size, &file); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if s.db.pg() {
			m.bodyID, _ = strconv.ParseInt(string(file), 10, 64)
		} else {
			m.path = dir + string(file)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// OpenBody opens m's bytes (m as Messages, MessageSizes or another lookup
// returned it). A message file never changes after delivery, so it holds
// exactly m.Size octets: ReadAt reports io.EOF at m.Size and an error
// wrapping io.ErrUnexpectedEOF if the file ends before. A message removed
// meanwhile gives an error matching fs.ErrNotExist.
func (s *Store) OpenBody(ctx context.Context, m Message) (Body, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: open message %d: %w", m.ID, err)
	}
	if s.db.pg() {
		return s.openPGBody(ctx, m)
	}
	f, err := openRaw(m.path)
	if err != nil {
		return nil, fmt.Errorf("store: open message %d: %w", m.ID, err)
	}
	return &fileBody{f: f, id: m.ID, size: m.Size, path: m.path}, nil
}

// Size returns the message's length in octets.
func (b *fileBody) Size() int64 { return b.size }

// ReadAt reads octets of the message from off on into p.
func (b *fileBody) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store: read message %d: negative offset", b.id)
	}
	if off >= b.size {
		return 0, io.EOF
	}
	var eof error
	if rest := b.size - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	n := 0
	for n < len(p) {
		m, err := b.f.pread(p[n:], off+int64(n))
		n += m
		switch {
		case err != nil:
			return n, fmt.Errorf("store: read message %d: %w", b.id, err)
		case m == 0:
			return n, fmt.Errorf("store: message %d: file ends %d octets short: %w", b.id, b.size-off-int64(n), io.ErrUnexpectedEOF)
		}
	}
	return n, eof
}

// Close closes the file. Closing twice is harmless.
func (b *fileBody) Close() error {
	if err := b.f.close(); err != nil {
		return fmt.Errorf("store: close message %d: %w", b.id, err)
	}
	return nil
}
