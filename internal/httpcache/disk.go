package httpcache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"pail/internal/safeio"
)

// Disk store file names: each entry is a body file and a metadata file
// named by its ID; bodies stream to a temporary name first.
const (
	bodySuffix = ".body"
	metaSuffix = ".meta"
	tempSuffix = ".tmp"
)

// DiskStore keeps entries as files in one directory, so the cache survives
// a restart. Metadata is indexed in memory; bodies are read from the files
// (the kernel's page cache keeps hot ones in memory). A crash can lose an
// entry, never serve a torn one: the metadata file, written last and
// atomically, records the body's length, and entries whose body does not
// match are dropped at start-up.
type DiskStore struct {
	dir       string
	budget    int64
	maxObject int64

	mu        sync.Mutex
	byKey     map[string][]*Entry
	byID      map[string]*Entry
	bytes     int64
	evict     *sieve
	evictions int64
}

var _ Store = (*DiskStore)(nil)

// OpenDiskStore opens (creating it if needed) a store in dir holding at
// most budget bytes, none of its objects larger than maxObject.
func OpenDiskStore(dir string, budget, maxObject int64) (*DiskStore, error) {
	if err := safeio.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("httpcache: disk store: %w", err)
	}
	d := &DiskStore{
		dir: dir, budget: budget, maxObject: min(maxObject, budget),
		byKey: map[string][]*Entry{}, byID: map[string]*Entry{}, evict: newSieve(),
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

// load indexes the entries left by a previous run, oldest first.
func (d *DiskStore) load() error {
	names, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("httpcache: disk store: %w", err)
	}
	var entries []*Entry
	for _, de := range names {
		name := de.Name()
		switch {
		case strings.HasSuffix(name, tempSuffix):
			os.Remove(filepath.Join(d.dir, name))
		case strings.HasSuffix(name, metaSuffix):
			id := strings.TrimSuffix(name, metaSuffix)
			e, err := d.readMeta(id)
			if err != nil {
				d.removeFiles(id)
				continue
			}
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b *Entry) int { return a.ResponseTime.Compare(b.ResponseTime) })
	for _, e := range entries {
		d.insertLocked(e)
	}
	for d.bytes > d.budget {
		if !d.evictOneLocked() {
			break
		}
	}
	return nil
}

// readMeta loads one entry and checks its body file.
func (d *DiskStore) readMeta(id string) (*Entry, error) {
	data, err := os.ReadFile(filepath.Join(d.dir, id+metaSuffix))
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	fi, err := os.Stat(filepath.Join(d.dir, id+bodySuffix))
	if err != nil {
		return nil, err
	}
	if fi.Size() != e.Size || e.ID != id {
		return nil, errors.New("body does not match metadata")
	}
	return &e, nil
}

func (d *DiskStore) removeFiles(id string) {
	os.Remove(filepath.Join(d.dir, id+metaSuffix))
	os.Remove(filepath.Join(d.dir, id+bodySuffix))
}

// Variants implements Store.
func (d *DiskStore) Variants(key string) []*Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.byKey[key])
}

// Open implements Store.
func (d *DiskStore) Open(e *Entry) (Body, error) {
	d.mu.Lock()
	_, ok := d.byID[e.ID]
	d.evict.touch(e.ID)
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("httpcache: entry %s evicted", e.ID)
	}
	// An entry deleted after this open stays readable: the open file
	// outlives its name on Unix.
	f, err := os.Open(filepath.Join(d.dir, e.ID+bodySuffix))
	if err != nil {
		return nil, fmt.Errorf("httpcache: open body: %w", err)
	}
	return f, nil
}

// Create implements Store.
func (d *DiskStore) Create(e *Entry) (Writer, error) {
	e.ID = safeio.RandomName()
	f, err := os.OpenFile(filepath.Join(d.dir, e.ID+tempSuffix), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("httpcache: create body: %w", err)
	}
	return &diskWriter{d: d, e: e, f: f}, nil
}

type diskWriter struct {
	d   *DiskStore
	e   *Entry
	f   *os.File
	n   int64
	err error
}

func (w *diskWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.n+int64(len(p)) > w.d.maxObject {
		w.fail(ErrTooLarge)
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		w.fail(fmt.Errorf("httpcache: write body: %w", err))
	}
	return n, w.err
}

func (w *diskWriter) fail(err error) {
	w.err = err
	w.f.Close()
	os.Remove(w.f.Name())
}

func (w *diskWriter) Commit() (*Entry, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.e.Size = w.n
	if err := w.f.Close(); err != nil {
		w.fail(err)
		return nil, fmt.Errorf("httpcache: close body: %w", err)
	}
	base := filepath.Join(w.d.dir, w.e.ID)
	if err := os.Rename(w.f.Name(), base+bodySuffix); err != nil {
		os.Remove(w.f.Name())
		return nil, fmt.Errorf("httpcache: commit body: %w", err)
	}
	if err := w.d.writeMeta(w.e); err != nil {
		os.Remove(base + bodySuffix)
		return nil, err
	}
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	w.d.insertLocked(w.e)
	for w.d.bytes > w.d.budget {
		if !w.d.evictOneLocked() {
			break
		}
	}
	return w.e, nil
}

func (w *diskWriter) Abort() {
	if w.err == nil {
		w.fail(errors.New("aborted"))
	}
}

func (d *DiskStore) writeMeta(e *Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("httpcache: encode metadata: %w", err)
	}
	if err := safeio.WriteFile(filepath.Join(d.dir, e.ID+metaSuffix), data, 0o640); err != nil {
		return fmt.Errorf("httpcache: write metadata: %w", err)
	}
	return nil
}

func (d *DiskStore) insertLocked(e *Entry) {
	d.byKey[e.Key] = append(d.byKey[e.Key], e)
	d.byID[e.ID] = e
	d.bytes += e.cost()
	d.evict.add(e.ID)
}

func (d *DiskStore) evictOneLocked() bool {
	id := d.evict.victim()
	if id == "" {
		return false
	}
	d.deleteLocked(id)
	d.evictions++
	return true
}

// Update implements Store.
func (d *DiskStore) Update(old, e *Entry) (*Entry, error) {
	e = e.Clone()
	e.ID, e.Size, e.Key = old.ID, old.Size, old.Key
	d.mu.Lock()
	cur, ok := d.byID[old.ID]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("httpcache: entry %s evicted", old.ID)
	}
	if err := d.writeMeta(e); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byID[old.ID] != cur {
		return nil, fmt.Errorf("httpcache: entry %s changed", old.ID)
	}
	d.bytes += e.cost() - cur.cost()
	d.byID[e.ID] = e
	items := d.byKey[e.Key]
	for i, x := range items {
		if x == cur {
			items[i] = e
		}
	}
	return e, nil
}

// Delete implements Store.
func (d *DiskStore) Delete(e *Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deleteLocked(e.ID)
}

func (d *DiskStore) deleteLocked(id string) {
	e, ok := d.byID[id]
	if !ok {
		return
	}
	delete(d.byID, id)
	d.evict.remove(id)
	d.bytes -= e.cost()
	items := slices.DeleteFunc(d.byKey[e.Key], func(x *Entry) bool { return x == e })
	if len(items) == 0 {
		delete(d.byKey, e.Key)
	} else {
		d.byKey[e.Key] = items
	}
	d.removeFiles(id)
}

// DeleteKey implements Store.
func (d *DiskStore) DeleteKey(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	items := slices.Clone(d.byKey[key])
	for _, e := range items {
		d.deleteLocked(e.ID)
	}
	return len(items)
}

// DeletePrefix implements Store.
func (d *DiskStore) DeletePrefix(prefix string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for id, e := range d.byID {
		if strings.HasPrefix(e.Key, prefix) {
			d.deleteLocked(id)
			n++
		}
	}
	return n
}

// Stats implements Store.
func (d *DiskStore) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{Entries: len(d.byID), Bytes: d.bytes, Budget: d.budget, Evictions: d.evictions}
}

// Close implements Store. The files stay for the next start.
func (d *DiskStore) Close() error { return nil }
