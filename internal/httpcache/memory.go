package httpcache

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// MemoryStore keeps entries in memory within a byte budget, evicting with
// SIEVE when a new entry would exceed it.
type MemoryStore struct {
	budget    int64
	maxObject int64
	seq       atomic.Uint64

	mu        sync.Mutex
	byKey     map[string][]*memItem
	byID      map[string]*memItem
	bytes     int64
	evict     *sieve
	evictions int64
}

type memItem struct {
	entry *Entry
	body  []byte
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store holding at most budget bytes, none of its
// objects larger than maxObject bytes (bounding the memory one response
// can pin while it streams).
func NewMemoryStore(budget, maxObject int64) *MemoryStore {
	return &MemoryStore{
		budget: budget, maxObject: min(maxObject, budget),
		byKey: map[string][]*memItem{}, byID: map[string]*memItem{}, evict: newSieve(),
	}
}

// Variants implements Store.
func (m *MemoryStore) Variants(key string) []*Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	items := m.byKey[key]
	out := make([]*Entry, len(items))
	for i, it := range items {
		out[i] = it.entry
	}
	return out
}

// Open implements Store; it counts as a hit for eviction.
func (m *MemoryStore) Open(e *Entry) (Body, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.byID[e.ID]
	if !ok {
		return nil, fmt.Errorf("httpcache: entry %s evicted", e.ID)
	}
	m.evict.touch(e.ID)
	return nopCloser{bytes.NewReader(it.body)}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Create implements Store.
func (m *MemoryStore) Create(e *Entry) (Writer, error) {
	e = e.Clone()
	e.ID = fmt.Sprintf("m%d", m.seq.Add(1))
	return &memWriter{m: m, e: e}, nil
}

type memWriter struct {
	m   *MemoryStore
	e   *Entry
	buf bytes.Buffer
	err error
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(w.buf.Len()+len(p)) > w.m.maxObject {
		w.err = ErrTooLarge
		w.buf = bytes.Buffer{}
		return 0, w.err
	}
	return w.buf.Write(p)
}

func (w *memWriter) Commit() (*Entry, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.e.Size = int64(w.buf.Len())
	w.m.insert(&memItem{entry: w.e, body: w.buf.Bytes()})
	return w.e, nil
}

func (w *memWriter) Abort() { w.err = errors.New("aborted"); w.buf = bytes.Buffer{} }

// insert adds an item and evicts until the budget holds.
func (m *MemoryStore) insert(it *memItem) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byKey[it.entry.Key] = append(m.byKey[it.entry.Key], it)
	m.byID[it.entry.ID] = it
	m.bytes += it.entry.cost()
	m.evict.add(it.entry.ID)
	for m.bytes > m.budget {
		id := m.evict.victim()
		if id == "" {
			break
		}
		m.deleteLocked(id)
		m.evictions++
	}
}

// Update implements Store.
func (m *MemoryStore) Update(old, e *Entry) (*Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.byID[old.ID]
	if !ok {
		return nil, fmt.Errorf("httpcache: entry %s evicted", old.ID)
	}
	e = e.Clone()
	e.ID, e.Size, e.Key = old.ID, old.Size, old.Key
	m.bytes += e.cost() - it.entry.cost()
	it.entry = e
	return e, nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(e *Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteLocked(e.ID)
}

func (m *MemoryStore) deleteLocked(id string) {
	it, ok := m.byID[id]
	if !ok {
		return
	}
	delete(m.byID, id)
	m.evict.remove(id)
	m.bytes -= it.entry.cost()
	items := m.byKey[it.entry.Key]
	for i, x := range items {
		if x == it {
			items = append(items[:i:i], items[i+1:]...)
			break
		}
	}
	if len(items) == 0 {
		delete(m.byKey, it.entry.Key)
	} else {
		m.byKey[it.entry.Key] = items
	}
}

// DeleteKey implements Store.
func (m *MemoryStore) DeleteKey(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	items := append([]*memItem(nil), m.byKey[key]...)
	for _, it := range items {
		m.deleteLocked(it.entry.ID)
	}
	return len(items)
}

// DeletePrefix implements Store.
func (m *MemoryStore) DeletePrefix(prefix string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, it := range m.byID {
		if strings.HasPrefix(it.entry.Key, prefix) {
			m.deleteLocked(id)
			n++
		}
	}
	return n
}

// Stats implements Store.
func (m *MemoryStore) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Entries: len(m.byID), Bytes: m.bytes, Budget: m.budget, Evictions: m.evictions}
}

// Close implements Store.
func (m *MemoryStore) Close() error { return nil }
