package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// The message bytes of a PostgreSQL store live in its bodies table (see
// pgMigrations): a message being received is spooled to a temporary file
// of this machine (BodyWriter's ReadAt and Retain work as on SQLite), and
// its bytes are written in the delivering transaction, once for all the
// mailboxes it goes into; messages.file names the row. Copy makes the
// new rows name the same body; the last message to go deletes it
// (gcBodies). Reading a body reads the row whole, which the server's
// maximum message size bounds.

// newTempSpool starts a message being received by a PostgreSQL store:
// a temporary file, removed by Discard.
func newTempSpool() (*fileSpool, error) {
	f, err := os.CreateTemp("", "pail-spool-")
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	return &fileSpool{f: f, temp: true}, nil
}

// spoolBytes reads a spool's bytes whole, for the bodies row.
func spoolBytes(sp *fileSpool) ([]byte, error) {
	b := make([]byte, sp.size)
	if _, err := sp.f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("store: read spool: %w", err)
	}
	return b, nil
}

// insertBody writes a message's bytes and returns its bodies row.
func insertBody(tx *dbTx, data []byte) (int64, error) {
	var id int64
	if err := tx.QueryRow("INSERT INTO bodies (data) VALUES (?) RETURNING id", data).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: insert body: %w", err)
	}
	return id, nil
}

// gcBodies deletes the bodies of ids that no message names any more, in
// the transaction that removed messages naming them. Each body row is
// locked first, so that of two transactions removing the last two copies
// of one message, the second to take the lock sees the first's removal
// committed (its check is a later statement) and deletes the body; a
// copy being made holds the row's key-share lock (the foreign key), so
// the check waits for it.
func gcBodies(tx *dbTx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	rows, err := tx.Query("SELECT id FROM bodies WHERE id = ANY(?) ORDER BY id FOR UPDATE", ids)
	if err != nil {
		return fmt.Errorf("store: lock bodies: %w", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: lock bodies: %w", err)
	}
	if _, err := tx.Exec("DELETE FROM bodies b WHERE b.id = ANY(?) AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file = b.id)", ids); err != nil {
		return fmt.Errorf("store: delete bodies: %w", err)
	}
	return nil
}

// bodyIDs reads the bodies named by the messages a query selects (its
// one column: messages.file).
func bodyIDs(tx *dbTx, query string, args ...any) ([]int64, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// memBody is a PostgreSQL store's Body: the bytes of a bodies row.
type memBody struct {
	data []byte
	id   int64 // the message's
	size int64 // octets recorded for the message
}

var _ Body = (*memBody)(nil)

// openPGBody reads m's bodies row.
func (s *Store) openPGBody(ctx context.Context, m Message) (Body, error) {
	var data []byte
	err := s.queryRow(ctx, "SELECT data FROM bodies WHERE id = ?", m.bodyID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: open message %d: %w", m.ID, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open message %d: %w", m.ID, err)
	}
	return &memBody{data: data, id: m.ID, size: m.Size}, nil
}

// Size returns the message's length in octets.
func (b *memBody) Size() int64 { return b.size }

// ReadAt reads octets of the message from off on into p.
func (b *memBody) ReadAt(p []byte, off int64) (int, error) {
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
	if off >= int64(len(b.data)) {
		return 0, fmt.Errorf("store: message %d: body ends %d octets short: %w", b.id, b.size-int64(len(b.data)), io.ErrUnexpectedEOF)
	}
	n := copy(p, b.data[off:])
	if n < len(p) {
		return n, fmt.Errorf("store: message %d: body ends %d octets short: %w", b.id, b.size-int64(len(b.data)), io.ErrUnexpectedEOF)
	}
	return n, eof
}

// Close releases the bytes. Closing twice is harmless.
func (b *memBody) Close() error {
	b.data = nil
	return nil
}

// errNotOnPG is the error of a method that does not run on a PostgreSQL
// store yet.
func errNotOnPG(method string) error {
	return fmt.Errorf("store: %s is not supported on PostgreSQL yet", method)
}
