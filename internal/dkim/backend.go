package dkim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"pail/internal/blobdb"
	"pail/internal/safeio"
)

// backend is where a Store keeps each domain's manifest and key PEMs:
// files (fileBackend) or blobs in a cluster's database (dbBackend).
type backend interface {
	// stamp returns a token that changes whenever domain's manifest
	// does, cheaply; "" when domain has no manifest.
	stamp(domain string) (string, error)
	// manifest returns domain's manifest and its stamp; "" and no error
	// when there is none.
	manifest(domain string) ([]byte, string, error)
	// manifestName names domain's manifest in errors.
	manifestName(domain string) string
	// key returns the PEM of domain's selector, and its name for errors.
	key(domain, selector string) ([]byte, string, error)
	// commit stores the new keys' PEM and then the manifest, which
	// replaces the one at stamp ("": none), and removes the key PEMs of
	// remove after; it returns the new manifest's stamp ("" when it
	// cannot tell: the next load reads it). It returns errChanged,
	// having changed nothing, when the manifest is no longer at stamp.
	commit(domain, stamp string, manifest []byte, add []keyFile, remove []string) (string, error)
}

// errChanged is a backend's commit's answer when the manifest changed
// since it was read.
var errChanged = errors.New("dkim: the keys changed meanwhile")

// fileBackend keeps a domain's keys under dir/DOMAIN/: manifest.json and
// SELECTOR.pem, each written with safeio (mode 0600). The stamp is the
// manifest's modification time and size; commit does not compare it
// (one server owns a data directory).
type fileBackend struct {
	dir string
}

func (f fileBackend) manifestName(domain string) string {
	return filepath.Join(f.dir, domain, manifestName)
}

func fileStamp(st os.FileInfo) string {
	return strconv.FormatInt(st.ModTime().UnixNano(), 10) + "/" + strconv.FormatInt(st.Size(), 10)
}

func (f fileBackend) stamp(domain string) (string, error) {
	st, err := os.Stat(f.manifestName(domain))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	return fileStamp(st), nil
}

func (f fileBackend) manifest(domain string) ([]byte, string, error) {
	stamp, err := f.stamp(domain)
	if stamp == "" || err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(f.manifestName(domain))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("dkim: %w", err)
	}
	return data, stamp, nil
}

func (f fileBackend) key(domain, selector string) ([]byte, string, error) {
	path := filepath.Join(f.dir, domain, selector+".pem")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, path, fmt.Errorf("dkim: key: %w", err)
	}
	return data, path, nil
}

func (f fileBackend) commit(domain, _ string, manifest []byte, add []keyFile, remove []string) (string, error) {
	ddir := filepath.Join(f.dir, domain)
	if err := safeio.MkdirAll(ddir, 0o700); err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	// The key files first: a crash before the manifest names them
	// leaves only unused files.
	for _, k := range add {
		if err := safeio.WriteFile(filepath.Join(ddir, k.selector+".pem"), k.pem, 0o600); err != nil {
			return "", fmt.Errorf("dkim: %w", err)
		}
	}
	path := f.manifestName(domain)
	if err := safeio.WriteFile(path, manifest, 0o600); err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	// The manifest no longer names these: a crash before their removal
	// leaves only unused files.
	for _, sel := range remove {
		if err := os.Remove(filepath.Join(ddir, sel+".pem")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("dkim: %w", err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", nil
	}
	return fileStamp(st), nil
}

// dbTimeout bounds one call to the database: Store's methods take no
// context (their callers predate the database), so a database that does
// not answer in this long fails the call (a message is then queued
// unsigned or its signing retried, as for any key error).
const dbTimeout = 10 * time.Second

// dbBackend keeps a domain's keys as blobs named like the files:
// dkim/DOMAIN/manifest.json and dkim/DOMAIN/SELECTOR.pem, with the same
// content. The stamp is the manifest blob's version, read on every
// Store.Keys call (one indexed row), so that a change made on one node is
// used by every other from its next message on. commit is one
// transaction that swaps the manifest at the version it was read at,
// and fails with errChanged when another node changed it first.
type dbBackend struct {
	db *blobdb.DB
}

// OpenDB returns a Store that keeps its keys in db, shared by every node
// on that database; now gives the time for new keys (nil: time.Now).
func OpenDB(db *blobdb.DB, now func() time.Time) *Store {
	return newStore(dbBackend{db: db}, now)
}

func (d dbBackend) manifestName(domain string) string { return "dkim/" + domain + "/" + manifestName }

func keyName(domain, selector string) string { return "dkim/" + domain + "/" + selector + ".pem" }

func (d dbBackend) stamp(domain string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	v, err := d.db.Version(ctx, d.manifestName(domain))
	if err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	if v == 0 {
		return "", nil
	}
	return strconv.FormatInt(v, 10), nil
}

func (d dbBackend) manifest(domain string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	b, err := d.db.Load(ctx, d.manifestName(domain))
	if errors.Is(err, blobdb.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("dkim: %w", err)
	}
	return b.Data, strconv.FormatInt(b.Version, 10), nil
}

func (d dbBackend) key(domain, selector string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	name := keyName(domain, selector)
	data, err := d.db.Get(ctx, name)
	if err != nil {
		return nil, name, fmt.Errorf("dkim: key %s: %w", name, err)
	}
	return data, name, nil
}

func (d dbBackend) commit(domain, stamp string, manifest []byte, add []keyFile, remove []string) (string, error) {
	var version int64
	if stamp != "" {
		v, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil {
			return "", fmt.Errorf("dkim: stamp %q: %w", stamp, err)
		}
		version = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	var next int64
	err := d.db.Update(ctx, func(tx *blobdb.Tx) error {
		// The manifest first: its row serializes nodes changing the
		// same domain, and the loser writes nothing.
		v, err := tx.Swap(ctx, d.manifestName(domain), manifest, version)
		if err != nil {
			return err
		}
		next = v
		for _, k := range add {
			if err := tx.Put(ctx, keyName(domain, k.selector), k.pem); err != nil {
				return err
			}
		}
		for _, sel := range remove {
			if err := tx.Delete(ctx, keyName(domain, sel)); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, blobdb.ErrConflict) {
		return "", errChanged
	}
	if err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	return strconv.FormatInt(next, 10), nil
}

// OpenConfigured opens the keys a configuration names: in the PostgreSQL
// database at databaseURL when it is set (OpenDB on a blobdb there, shared
// by the cluster's nodes), else the files of dataDir (Open). release
// releases what it opened.
func OpenConfigured(ctx context.Context, dataDir, databaseURL string) (keys *Store, release func() error, err error) {
	if databaseURL == "" {
		keys, err := Open(DirIn(dataDir), nil)
		return keys, func() error { return nil }, err
	}
	db, err := blobdb.Open(ctx, databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("dkim: %w", err)
	}
	return OpenDB(db, nil), db.Close, nil
}
