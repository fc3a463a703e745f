package queue

import (
	"context"
	"fmt"
	"time"
)

// Stats is a summary of the queue for metrics and `pail status`.
type Stats struct {
	Messages   int       // messages with a recipient still pending
	Recipients int       // pending recipients
	Oldest     time.Time // creation time of the oldest pending message; zero if none
}

// Stats counts what is waiting in the queue.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var oldest *int64
	err := q.db.QueryRowContext(ctx, `SELECT count(DISTINCT m.id), count(r.address), min(m.created)
		FROM messages m JOIN recipients r ON r.message_id = m.id WHERE r.state = 'pending'`).Scan(&st.Messages, &st.Recipients, &oldest)
	if err != nil {
		return Stats{}, fmt.Errorf("queue: stats: %w", err)
	}
	if oldest != nil {
		st.Oldest = fromMS(*oldest)
	}
	return st, nil
}
