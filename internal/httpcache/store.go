package httpcache

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// ErrTooLarge is returned by Writer.Write when a body grows past the
// store's per-object limit; the caller aborts the write and keeps
// streaming to the client without caching.
var ErrTooLarge = errors.New("httpcache: object larger than the store's limit")

// Entry is one stored response: one variant of one URL. Entries are
// immutable once committed; a refresh after a 304 replaces the entry.
type Entry struct {
	// ID names the entry inside its store; the store assigns it.
	ID string `json:"id"`
	// Key is the primary cache key (RFC 9111 §2): the target URI.
	Key string `json:"key"`
	// Status is the response status code.
	Status int `json:"status"`
	// Header is the stored response header, without hop-by-hop fields.
	Header http.Header `json:"header"`
	// VaryRequest holds the normalised values of the request fields named
	// by the response's Vary, as they were in the request that caused the
	// response to be stored (RFC 9111 §4.1). A field absent in the request
	// is absent here.
	VaryRequest map[string]string `json:"vary,omitempty"`
	// RequestTime and ResponseTime are the request_time and response_time
	// of RFC 9111 §4.2.3.
	RequestTime  time.Time `json:"request_time"`
	ResponseTime time.Time `json:"response_time"`
	// Size is the body length in bytes.
	Size int64 `json:"size"`

	// m caches what is derived from the fields above (meta.go); the
	// fields must not change once the entry has been used.
	m atomic.Pointer[entryMeta]
}

// Clone returns a deep copy of e with an empty ID, for building a
// replacement entry.
func (e *Entry) Clone() *Entry {
	c := &Entry{
		Key: e.Key, Status: e.Status, Header: e.Header.Clone(),
		RequestTime: e.RequestTime, ResponseTime: e.ResponseTime, Size: e.Size,
	}
	if e.VaryRequest != nil {
		c.VaryRequest = make(map[string]string, len(e.VaryRequest))
		for k, v := range e.VaryRequest {
			c.VaryRequest[k] = v
		}
	}
	return c
}

// cost is the number of bytes an entry is charged against a byte budget:
// its body plus an estimate of its metadata.
func (e *Entry) cost() int64 {
	n := e.Size + int64(len(e.Key)) + entryOverhead
	for k, vs := range e.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// entryOverhead approximates the fixed memory cost of one entry (structs,
// map slots, list links) so that many tiny objects still use the budget.
const entryOverhead = 256

// Body is a stored body, readable at any offset so that Range requests
// need no copy.
type Body interface {
	io.ReaderAt
	io.Closer
}

// InMemory is implemented by a Body held in memory: Bytes returns the
// whole body without copying, so a hit can be written with one call. The
// slice is shared and must not be modified.
type InMemory interface {
	Bytes() []byte
}

// Writer receives a body while it streams from the origin.
type Writer interface {
	io.Writer
	// Commit makes the entry visible to readers and returns it with its
	// ID set. Call it only when the whole body arrived.
	Commit() (*Entry, error)
	// Abort discards what was written.
	Abort()
}

// Store keeps entries and their bodies within a byte budget.
type Store interface {
	// Variants returns the entries stored under a primary key. The slice
	// may be shared: callers must not modify it.
	Variants(key string) []*Entry
	// Open returns the body of e, or an error if it is gone.
	Open(e *Entry) (Body, error)
	// Create starts storing a new entry. The store takes e over (it sets
	// e.ID and, at Commit, e.Size): the caller must not use or change e
	// afterwards. e.Size, when above zero, is the length the origin
	// announced (Content-Length), a hint that lets a store reserve room
	// once.
	Create(e *Entry) (Writer, error)
	// Update replaces old's metadata with e's, keeping old's body.
	Update(old, e *Entry) (*Entry, error)
	// Delete removes one entry.
	Delete(e *Entry)
	// DeleteKey removes every variant stored under key and reports how
	// many went.
	DeleteKey(key string) int
	// DeletePrefix removes every entry whose key starts with prefix
	// and reports how
	// many went.
	DeletePrefix(prefix string) int
	// Stats reports the store's current size.
	Stats() Stats
	// Close releases the store's resources.
	Close() error
}

// Stats describes a store's occupancy.
type Stats struct {
	Entries   int
	Bytes     int64
	Budget    int64
	Evictions int64
}
