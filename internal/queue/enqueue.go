package queue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pail/internal/dkim"
	"pail/internal/maillog"
	"pail/internal/safeio"
	"pail/internal/sqldb"
)

// maxIDLen bounds a message id, which is also its file name.
const maxIDLen = 64

// Enqueue queues the message body (all of it, whatever was read of it
// before) for rcpts. On SQLite it copies the bytes into the queue's own
// file, fsyncs it and its directory, and commits the record; on
// PostgreSQL the bytes go into the database in the record's transaction.
// When it returns nil the message survives a crash (on PostgreSQL: is
// committed, as durably as synchronous_commit says), and body is no
// longer needed. While the database is down its error satisfies
// sqldb.IsUnavailable. sign lets the
// queue's Signer DKIM-sign the message (for mail from an authenticated or
// trusted source only). It implements delivery.Queue.
func (q *Queue) Enqueue(ctx context.Context, id, from string, rcpts []string, body *io.SectionReader, sign bool) error {
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return q.add(ctx, id, from, rcpts, body, sign, nil)
}

// add writes a message file from body (DKIM-signed when sign and the
// queue has a Signer) and commits its record, running also (when not nil)
// in the same transaction. On PostgreSQL the bytes are read into memory
// (bounded by the SMTP size limit) and inserted in that transaction.
func (q *Queue) add(ctx context.Context, id, from string, rcpts []string, body io.ReadSeeker, sign bool, also func(*sqldb.Tx) error) error {
	if !validID(id) {
		return fmt.Errorf("queue: invalid message id %q", id)
	}
	rcpts = dedupe(rcpts)
	if len(rcpts) == 0 {
		return errors.New("queue: no recipients")
	}
	var msg io.Reader = body
	var err error
	if sign {
		msg, err = q.sign(id, body)
	}
	if err != nil {
		return err
	}
	var size int64
	var data []byte // the bytes, on PostgreSQL
	file := id
	if q.pg {
		if data, err = io.ReadAll(msg); err != nil {
			return fmt.Errorf("queue: read message %s: %w", id, err)
		}
		size, file = int64(len(data)), ""
	} else if size, err = q.writeFile(id, msg); err != nil {
		return err
	}
	now := ms(q.now())
	err = q.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO messages (id, sender, created, size, file) VALUES (?, ?, ?, ?, ?)",
			id, from, now, size, file); err != nil {
			return err
		}
		for i, r := range rcpts {
			if _, err := tx.ExecContext(ctx, "INSERT INTO recipients (message_id, address, domain, next_attempt, pos) VALUES (?, ?, ?, ?, ?)",
				id, r, domainOf(r), now, i); err != nil {
				return err
			}
		}
		if q.pg {
			if _, err := tx.ExecContext(ctx, "INSERT INTO bodies (message_id, data) VALUES (?, ?)", id, data); err != nil {
				return err
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		if !q.pg {
			os.Remove(filepath.Join(q.msgDir, id))
		}
		return fmt.Errorf("queue: record %s: %w", id, err)
	}
	to := make([]string, len(rcpts))
	for i, r := range rcpts {
		to[i] = "<" + r + ">"
	}
	q.cfg.MailLog.Log(maillog.Queued, "id", id, "from", "<"+from+">", "to", strings.Join(to, ","), "size", fmt.Sprint(size))
	q.kick()
	return nil
}

// sign returns the message to store: body with the Signer's header
// fields in front. A message the Signer will not or cannot sign is
// queued as it is (a log line says why it could not), so that no
// message is lost to a signing problem.
func (q *Queue) sign(id string, body io.ReadSeeker) (io.Reader, error) {
	if q.cfg.Signer == nil {
		return body, nil
	}
	start, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	sig, serr := q.cfg.Signer.Sign(body)
	if _, err := body.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	switch {
	case errors.Is(serr, dkim.ErrNotSigned):
		q.cfg.Log.Debug("queue: not DKIM-signed", "id", id, "why", serr)
		return body, nil
	case serr != nil:
		q.cfg.Log.Warn("queue: DKIM signing failed; queued unsigned", "id", id, "err", serr)
		return body, nil
	}
	return io.MultiReader(bytes.NewReader(sig), body), nil
}

// writeFile stores body as the message file name: written to a temporary
// file, fsynced, linked to its name (which must not exist yet) and the
// directory fsynced, as safeio.WriteFile does but streaming.
func (q *Queue) writeFile(name string, body io.Reader) (int64, error) {
	tmp, err := os.CreateTemp(q.msgDir, ".tmp-")
	if err != nil {
		return 0, fmt.Errorf("queue: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	size, err := io.Copy(bw, body)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err != nil {
		return 0, fmt.Errorf("queue: write message %s: %w", name, err)
	}
	// A link, unlike a rename, refuses to replace a message of the same
	// id.
	if err := os.Link(tmp.Name(), filepath.Join(q.msgDir, name)); err != nil {
		return 0, fmt.Errorf("queue: %w", err)
	}
	if err := safeio.SyncDir(q.msgDir); err != nil {
		os.Remove(filepath.Join(q.msgDir, name))
		return 0, err
	}
	return size, nil
}

// validID reports whether id is usable as a file name: lower-case
// letters and digits, as delivery.NewID makes them.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// domainOf returns the lower-case domain of an address, "" if it has none.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// dedupe drops repeated recipients (the domain compared without case)
// and keeps the order.
func dedupe(rcpts []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rcpts {
		key := r
		if i := strings.LastIndexByte(r, '@'); i >= 0 {
			key = r[:i] + "@" + strings.ToLower(r[i+1:])
		}
		if r == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, r)
	}
	return slices.Clip(out)
}
