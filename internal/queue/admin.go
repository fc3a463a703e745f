package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// List returns every queued message with its recipients, oldest first.
func (q *Queue) List(ctx context.Context) ([]Message, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT id FROM messages ORDER BY created, id")
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	out := make([]Message, 0, len(ids))
	for _, id := range ids {
		m, err := q.load(ctx, q.db, id, "")
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Show returns one queued message; OpenBody reads its bytes.
func (q *Queue) Show(ctx context.Context, id string) (Message, error) {
	return q.load(ctx, q.db, id, "")
}

// Flush makes every pending recipient due now and returns how many there
// are. A scheduler in another process sees it within its poll interval.
func (q *Queue) Flush(ctx context.Context) (int, error) {
	res, err := q.db.ExecContext(ctx, "UPDATE recipients SET next_attempt = ? WHERE state = 'pending'", ms(q.now()))
	if err != nil {
		return 0, fmt.Errorf("queue: flush: %w", err)
	}
	n, _ := res.RowsAffected()
	q.kick()
	return int(n), nil
}

// Delete removes a message from the queue without a DSN. A delivery in
// progress at that moment (on any node) may still complete.
func (q *Queue) Delete(ctx context.Context, id string) error {
	m, err := q.load(ctx, q.db, id, "")
	if err != nil {
		return err
	}
	res, err := q.db.ExecContext(ctx, "DELETE FROM messages WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("queue: delete %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if q.pg {
		return nil // the body went with the row
	}
	if err := os.Remove(m.path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("queue: delete %s: %w", id, err)
	}
	return nil
}
