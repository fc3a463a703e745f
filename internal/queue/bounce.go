package queue

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pail/internal/delivery"
	"pail/internal/dsn"
	"pail/internal/maillog"
	"pail/internal/sqldb"
)

// maxHeaderRead bounds how much of a message is read to find the headers
// returned in a DSN.
const maxHeaderRead = 256 << 10

// errNotified rolls back a DSN whose failures another node reported
// first.
var errNotified = errors.New("queue: failures already reported")

// finishAll settles every message that needs it: failures not yet
// reported to their sender, and messages with no recipient left pending.
// It catches up after a crash; normally finish runs after each attempt.
func (q *Queue) finishAll(ctx context.Context) {
	rows, err := q.db.QueryContext(ctx, `
		SELECT DISTINCT message_id FROM recipients WHERE state = 'failed' AND notified = 0
		UNION
		SELECT id FROM messages m WHERE NOT EXISTS
			(SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state = 'pending')`)
	if err != nil {
		q.cfg.Log.Error("queue: finding settled messages", "err", err)
		return
	}
	var ids []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		if err := q.finish(ctx, id); err != nil {
			q.cfg.Log.Error("queue: settling message", "id", id, "err", err)
		}
	}
}

// finish sends the DSN for recipients that failed since the last one, and
// removes the message once no recipient is pending.
func (q *Queue) finish(ctx context.Context, id string) error {
	q.finishMu.Lock()
	defer q.finishMu.Unlock()
	m, err := q.load(ctx, q.db, id, "")
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var failed []Recipient
	pending := false
	for _, r := range m.Recipients {
		switch {
		case r.State == Pending:
			pending = true
		case r.State == Failed && !r.Notified:
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		if err := q.bounce(ctx, m, failed); err != nil {
			return err
		}
	}
	if pending {
		return nil
	}
	if _, err := q.db.ExecContext(ctx, "DELETE FROM messages WHERE id = ?", m.ID); err != nil {
		return fmt.Errorf("queue: remove %s: %w", m.ID, err)
	}
	// A crash here leaves only a file without a record, which sweep
	// removes. On PostgreSQL the body went with the row.
	if !q.pg {
		os.Remove(m.path)
	}
	return nil
}

// bounce queues one DSN to the sender of m naming the failed recipients,
// and marks them notified in the same transaction. Mail from the null
// sender (a DSN itself) is never bounced (RFC 5321 §4.5.5). When another
// node (or process) has marked one of them first, the transaction is
// rolled back, so that a failure is reported once however many nodes
// settle the message at the same time.
func (q *Queue) bounce(ctx context.Context, m Message, failed []Recipient) error {
	addrs := make([]any, len(failed))
	for i, r := range failed {
		addrs[i] = r.Address
	}
	mark := func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE recipients SET notified = 1 WHERE message_id = ? AND notified = 0 AND address IN ("+
			strings.TrimSuffix(strings.Repeat("?,", len(addrs)), ",")+")", append([]any{m.ID}, addrs...)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(addrs)) {
			return errNotified
		}
		return nil
	}
	dsnID := "none"
	var err error
	if m.From == "" {
		if err = q.db.Tx(ctx, mark); err != nil {
			err = fmt.Errorf("queue: %w", err)
		}
	} else {
		dsnID = delivery.NewID()
		body := dsn.Build(q.report(ctx, m, failed))
		// A DSN is pail's own: its From (MAILER-DAEMON@hostname) is signed by
		// the host name's local domain (dkim.Policy.Host).
		err = q.add(ctx, dsnID, "", []string{m.From}, bytes.NewReader(body), true, mark)
	}
	switch {
	case errors.Is(err, errNotified):
		return nil // someone else reported them
	case err != nil:
		return err
	}
	for _, r := range failed {
		q.cfg.MailLog.Log(maillog.Bounced, "id", m.ID, "from", "<"+m.From+">", "to", "<"+r.Address+">",
			"relay", relay(resultOf(r)), "reply", r.Reply(), "dsn", dsnID)
	}
	return nil
}

// report describes the failures of m for its DSN.
func (q *Queue) report(ctx context.Context, m Message, failed []Recipient) dsn.Report {
	rep := dsn.Report{
		ReportingMTA: q.cfg.Hostname,
		To:           m.From,
		QueueID:      m.ID,
		ArrivalDate:  m.Created,
		Date:         q.now(),
		Headers:      q.headers(ctx, m),
	}
	for _, r := range failed {
		rc := dsn.Recipient{Address: r.Address, Status: r.Status, LastAttempt: r.LastAttempt}
		if r.Code != 0 {
			rc.Reply = r.Reply()
			rc.RemoteMTA = r.RemoteMTA
		} else {
			rc.Reason = r.Text
		}
		if r.Code/100 != 5 && !strings.HasPrefix(r.Status, "5") {
			// The last failure was temporary: the message expired.
			// RFC 3463 X.4.7: delivery time expired.
			rc.Status = "5.4.7"
			rc.Reason = fmt.Sprintf("delivery time expired: not delivered after %s of trying", q.cfg.Lifetime)
			if r.Code == 0 && r.Text != "" {
				rc.Reason += "; the last attempt failed: " + r.Text
			}
		}
		if rc.Status == "" || rc.Status[0] != '5' {
			rc.Status = "5.0.0"
		}
		rep.Recipients = append(rep.Recipients, rc)
	}
	return rep
}

// headers returns the header section of m's bytes, for its DSN.
func (q *Queue) headers(ctx context.Context, m Message) []byte {
	f, err := q.OpenBody(ctx, m)
	if err != nil {
		q.cfg.Log.Warn("queue: message file for DSN", "id", m.ID, "err", err)
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, min(f.Size(), maxHeaderRead)))
	return dsn.HeaderSection(b)
}

// sweep removes message files that no record names, once they are old
// enough not to belong to an Enqueue still in progress elsewhere.
func (q *Queue) sweep(ctx context.Context) {
	if q.pg {
		return // no files
	}
	entries, err := os.ReadDir(q.msgDir)
	if err != nil {
		q.cfg.Log.Error("queue: sweep", "err", err)
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || q.now().Sub(info.ModTime()) < orphanAge {
			continue
		}
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			var one int
			err := q.db.QueryRowContext(ctx, "SELECT 1 FROM messages WHERE file = ?", e.Name()).Scan(&one)
			if !errors.Is(err, sql.ErrNoRows) {
				continue
			}
		}
		q.cfg.Log.Info("queue: removing orphaned file", "file", e.Name())
		os.Remove(filepath.Join(q.msgDir, e.Name()))
	}
}
