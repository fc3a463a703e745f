package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
)

// MessageFile reads one message's bytes, up to the size recorded for it.
// It is for readers that take whole messages one after another, as POP3
// RETR does: on Unix it reads the file with plain system calls (open, read,
// close), without the os.File machinery that costs a regular file several
// more per open (non-blocking mode probes, an attempt to register it with
// the network poller) and a finalizer.
type MessageFile struct {
	f    rawFile
	id   int64
	left int64 // octets of the message not yet read
}

// MessageFiles lists a mailbox's messages in UID order with only what a
// reader of whole messages needs: ID, MailboxID, UID, Size and Path. It is
// Messages without the flags, dates and join, for a POP3 login to a
// maildrop of many thousand messages.
func (s *Store) MessageFiles(ctx context.Context, mailboxID int64) ([]Message, error) {
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
		m.Path = dir + string(file)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// OpenMessageFile opens m's bytes for reading. A message file never
// changes after delivery, so it holds exactly m.Size octets; Read reports
// io.EOF after them and an error wrapping io.ErrUnexpectedEOF if the file
// ends before. A missing file gives an error matching fs.ErrNotExist.
func (s *Store) OpenMessageFile(m Message) (*MessageFile, error) {
	f, err := openRaw(m.Path)
	if err != nil {
		return nil, fmt.Errorf("store: open message %d: %w", m.ID, err)
	}
	return &MessageFile{f: f, id: m.ID, left: m.Size}, nil
}

// Size returns the number of octets not yet read.
func (mf *MessageFile) Size() int64 { return mf.left }

// Read reads the next octets of the message into p.
func (mf *MessageFile) Read(p []byte) (int, error) {
	if mf.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > mf.left {
		p = p[:mf.left]
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := mf.f.read(p)
	mf.left -= int64(n)
	switch {
	case err != nil:
		return n, fmt.Errorf("store: read message %d: %w", mf.id, err)
	case n == 0:
		return 0, fmt.Errorf("store: message %d: file ends %d octets short: %w", mf.id, mf.left, io.ErrUnexpectedEOF)
	}
	return n, nil
}

// Close closes the file. Closing twice is harmless.
func (mf *MessageFile) Close() error {
	if err := mf.f.close(); err != nil {
		return fmt.Errorf("store: close message %d: %w", mf.id, err)
	}
	return nil
}
