package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Check verifies the queue: every message record has its bytes (its
// file, or on PostgreSQL its bodies row) with the recorded size and at
// least one recipient, and every file (older than a delivery in progress
// could be) has its record. It only reads. Problems are described one per
// string.
func (q *Queue) Check(ctx context.Context) ([]string, error) {
	var problems []string
	known := map[string]bool{}
	query := `SELECT m.id, m.file, m.size, (SELECT count(*) FROM recipients r WHERE r.message_id = m.id), -1 FROM messages m`
	if q.pg {
		query = `SELECT m.id, m.file, m.size, (SELECT count(*) FROM recipients r WHERE r.message_id = m.id),
			COALESCE((SELECT octet_length(b.data) FROM bodies b WHERE b.message_id = m.id), -2) FROM messages m`
	}
	rows, err := q.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("queue: check: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, file string
		var size, stored int64 // stored: the body's length on PostgreSQL, -2 if none
		var rcpts int
		if err := rows.Scan(&id, &file, &size, &rcpts, &stored); err != nil {
			return nil, fmt.Errorf("queue: check: %w", err)
		}
		if rcpts == 0 {
			problems = append(problems, fmt.Sprintf("queue message %s has no recipients", id))
		}
		if q.pg {
			switch {
			case stored == -2:
				problems = append(problems, fmt.Sprintf("queue message %s has no body", id))
			case stored != size:
				problems = append(problems, fmt.Sprintf("queue message %s: record says %d bytes, body has %d", id, size, stored))
			}
			continue
		}
		known[file] = true
		fi, err := os.Stat(filepath.Join(q.msgDir, file))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("queue message %s: %v", id, err))
		case fi.Size() != size:
			problems = append(problems, fmt.Sprintf("queue message %s: record says %d bytes, file has %d", id, size, fi.Size()))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: check: %w", err)
	}
	if q.pg {
		return problems, nil
	}
	entries, err := os.ReadDir(q.msgDir)
	if err != nil {
		return nil, fmt.Errorf("queue: check: %w", err)
	}
	for _, e := range entries {
		if known[e.Name()] {
			continue
		}
		if info, err := e.Info(); err == nil && q.now().Sub(info.ModTime()) >= orphanAge {
			kind := "file without a record"
			if strings.HasPrefix(e.Name(), ".tmp-") {
				kind = "half-written file"
			}
			problems = append(problems, fmt.Sprintf("queue %s: %s (the running server removes it)", kind, e.Name()))
		}
	}
	return problems, nil
}
