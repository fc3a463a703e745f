package httpcache

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// MemoryStore keeps entries in memory within a byte budget, evicting with
// SIEVE when a new entry would exceed it.
//
// Reads take no lock: each key's variants are an immutable snapshot,
// replaced whole under mu by every change, and a hit only sets its SIEVE
// visited bit (atomically). Only changes are serialised.
type MemoryStore struct {
	budget    int64
	maxObject int64
	seq       atomic.Uint64

	// byKey maps a primary key to its *memVariants.
	byKey sync.Map

	mu        sync.Mutex // guards the fields below and every change to byKey
	byID      map[string]*memItem
	bytes     int64
	evict     *sieve
	evictions int64
}

// memItem is one stored entry with its body; immutable (Update makes a
// new item sharing the body and the SIEVE node).
type memItem struct {
	entry *Entry
	body  []byte
	node  *sieveNode
}

// memVariants is the immutable snapshot of one key's variants; entries[i]
// is items[i].entry.
type memVariants struct {
	entries []*Entry
	items   []*memItem
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store holding at most budget bytes, none of its
// objects larger than maxObject bytes (bounding the memory one response
// can pin while it streams).
func NewMemoryStore(budget, maxObject int64) *MemoryStore {
	return &MemoryStore{
		budget: budget, maxObject: min(maxObject, budget),
		byID: map[string]*memItem{}, evict: newSieve(),
	}
}

func (m *MemoryStore) variants(key string) *memVariants {
	if v, ok := m.byKey.Load(key); ok {
		return v.(*memVariants)
	}
	return nil
}

// setVariantsLocked replaces key's snapshot with items.
func (m *MemoryStore) setVariantsLocked(key string, items []*memItem) {
	if len(items) == 0 {
		m.byKey.Delete(key)
		return
	}
	v := &memVariants{entries: make([]*Entry, len(items)), items: items}
	for i, it := range items {
		v.entries[i] = it.entry
	}
	m.byKey.Store(key, v)
}

// Variants implements Store. The slice is shared; callers must not
// modify it.
func (m *MemoryStore) Variants(key string) []*Entry {
	if v := m.variants(key); v != nil {
		return v.entries
	}
	return nil
}

// Open implements Store; it counts as a hit for eviction. The Body it
// returns implements InMemory.
func (m *MemoryStore) Open(e *Entry) (Body, error) {
	if v := m.variants(e.Key); v != nil {
		for _, it := range v.items {
			if it.entry.ID == e.ID {
				it.node.touch()
				return memBody{it}, nil
			}
		}
	}
	return nil, fmt.Errorf("httpcache: entry %s evicted", e.ID)
}

// memBody reads a stored body; it is a pointer in a struct, so returning
// it as a Body allocates nothing.
type memBody struct{ it *memItem }

func (b memBody) ReadAt(p []byte, off int64) (int, error) {
	body := b.it.body
	if off < 0 {
		return 0, errors.New("httpcache: negative offset")
	}
	if off >= int64(len(body)) {
		return 0, io.EOF
	}
	n := copy(p, body[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (b memBody) Close() error  { return nil }
func (b memBody) Bytes() []byte { return b.it.body }

// Create implements Store. An announced size (e.Size) up to the largest
// object is reserved at once, so the body is copied once, without growing.
func (m *MemoryStore) Create(e *Entry) (Writer, error) {
	e.ID = "m" + strconv.FormatUint(m.seq.Add(1), 10)
	w := &memWriter{m: m, e: e}
	if e.Size > 0 && e.Size <= m.maxObject {
		w.body = make([]byte, 0, e.Size)
	}
	return w, nil
}

type memWriter struct {
	m    *MemoryStore
	e    *Entry
	body []byte
	err  error
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(w.body)+len(p)) > w.m.maxObject {
		w.err = ErrTooLarge
		w.body = nil
		return 0, w.err
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *memWriter) Commit() (*Entry, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.e.Size = int64(len(w.body))
	w.m.insert(&memItem{entry: w.e, body: w.body})
	return w.e, nil
}

func (w *memWriter) Abort() { w.err = errors.New("aborted"); w.body = nil }

// insert adds an item and evicts until the budget holds.
func (m *MemoryStore) insert(it *memItem) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// The item is complete before it is published: readers take no lock.
	it.node = m.evict.add(it.entry.ID)
	key := it.entry.Key
	var items []*memItem
	if v := m.variants(key); v != nil {
		items = append(items, v.items...)
	}
	m.setVariantsLocked(key, append(items, it))
	m.byID[it.entry.ID] = it
	m.bytes += it.entry.cost()
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
	nit := &memItem{entry: e, body: it.body, node: it.node}
	m.byID[e.ID] = nit
	items := append([]*memItem(nil), m.variants(e.Key).items...)
	for i, x := range items {
		if x == it {
			items[i] = nit
		}
	}
	m.setVariantsLocked(e.Key, items)
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
	var items []*memItem
	if v := m.variants(it.entry.Key); v != nil {
		for _, x := range v.items {
			if x != it {
				items = append(items, x)
			}
		}
	}
	m.setVariantsLocked(it.entry.Key, items)
}

// DeleteKey implements Store.
func (m *MemoryStore) DeleteKey(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.variants(key)
	if v == nil {
		return 0
	}
	for _, it := range v.items {
		m.deleteLocked(it.entry.ID)
	}
	return len(v.items)
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
