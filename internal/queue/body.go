package queue

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"pail/internal/store"
)

// fileBody is a queued message's file as a store.Body.
type fileBody struct {
	f    *os.File
	size int64 // recorded at Enqueue; the file never changes after
}

// Size returns the message's length in octets.
func (b fileBody) Size() int64 { return b.size }

// ReadAt reads the message from off on, never past Size.
func (b fileBody) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.size {
		return 0, io.EOF
	}
	var eof error
	if rest := b.size - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	n, err := b.f.ReadAt(p, off)
	if err == nil {
		err = eof
	} else if errors.Is(err, io.EOF) {
		err = fmt.Errorf("queue: message file ends short: %w", io.ErrUnexpectedEOF)
	}
	return n, err
}

// Close closes the file; closing twice is harmless.
func (b fileBody) Close() error {
	if err := b.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// memBody is a message read whole from PostgreSQL's bodies table.
type memBody struct{ *bytes.Reader }

// Close does nothing: the bytes are the garbage collector's.
func (memBody) Close() error { return nil }

// OpenBody opens the bytes of a queued message (as Show or List returned
// it), exactly as they will be sent: CRLF line ends, DKIM signature if
// any. A message delivered or deleted meanwhile gives an error matching
// fs.ErrNotExist. On PostgreSQL the body is read into memory once, in one
// query (a message is bounded by the SMTP size limit, so a delivery holds
// at most that much), rather than by ranges, which would cost a round
// trip per read.
func (q *Queue) OpenBody(ctx context.Context, m Message) (store.Body, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("queue: message %s: %w", m.ID, err)
	}
	if q.pg {
		var data []byte
		err := q.db.QueryRowContext(ctx, "SELECT data FROM bodies WHERE message_id = ?", m.ID).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			err = fs.ErrNotExist
		}
		if err != nil {
			return nil, fmt.Errorf("queue: message %s: %w", m.ID, err)
		}
		return memBody{bytes.NewReader(data)}, nil
	}
	f, err := os.Open(m.path)
	if err != nil {
		return nil, fmt.Errorf("queue: message %s: %w", m.ID, err)
	}
	return fileBody{f, m.Size}, nil
}
