// Package reportingtest has the test helpers that the report packages
// (tlsrpt, dmarcrpt) share: a queue that collects what a Sender enqueues,
// a fixed clock, and opening a database for one test.
package reportingtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// Mailbox collects what a Sender enqueues; with Fail set it refuses.
type Mailbox struct {
	mu   sync.Mutex
	Msgs [][]byte
	To   []string
	Fail bool
}

// Enqueue is a Sender's Enqueue.
func (m *Mailbox) Enqueue(_ context.Context, from string, rcpts []string, msg []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail {
		return errors.New("queue full")
	}
	m.Msgs = append(m.Msgs, msg)
	m.To = append(m.To, rcpts...)
	return nil
}

// Count returns the number of messages enqueued.
func (m *Mailbox) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.Msgs)
}

// Clock returns a clock that always says t.
func Clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// Open opens a database in dir with open and closes it when the test
// ends.
func Open[DB io.Closer](t testing.TB, open func(ctx context.Context, dir string) (DB, error), dir string) DB {
	t.Helper()
	db, err := open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Recorder is what Seed needs of a report package's Recorder.
type Recorder[O any] interface {
	Record(ctx context.Context, o O)
	Close() error
}

// Seed records outcomes with rec and closes it, which writes them.
func Seed[O any](t testing.TB, rec Recorder[O], outcomes ...O) {
	t.Helper()
	for _, o := range outcomes {
		rec.Record(context.Background(), o)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

// Gunzip returns the decompressed gz, failing the test when it is not
// gzip.
func Gunzip(t testing.TB, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	return data
}
