// Package safeio writes files so that they survive a crash: write to a
// temporary name, fsync, rename into place, fsync the directory. Nothing else
// in pail writes data that matters with os.WriteFile; WriteNew does the
// same for a file that must not replace one already there. CheckWritable says,
// before a database is opened, which file this process may not write and
// why.
package safeio

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data: after it returns nil the new
// content is on disk, and a crash at any point leaves either the old or the
// new file, never a mix.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmpName, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("safeio: %w", err)
	}
	return SyncDir(filepath.Dir(path))
}

// WriteNew creates path with data, and fails with an error satisfying
// errors.Is(err, fs.ErrExist) when path already exists: it never replaces
// a file, even one created a moment before by another process. A crash
// leaves either no file or the whole of data, never part of it: the data
// is written and fsynced under a temporary name, then hard-linked to path
// (link(2) refuses an existing name atomically, where rename(2) would
// replace it).
func WriteNew(path string, data []byte, perm os.FileMode) error {
	tmpName, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName)
	if err := os.Link(tmpName, path); err != nil {
		return fmt.Errorf("safeio: create %s: %w", path, err)
	}
	if err := os.Remove(tmpName); err != nil {
		return fmt.Errorf("safeio: %w", err)
	}
	return SyncDir(filepath.Dir(path))
}

// writeTemp writes data with perm to a new temporary file next to path,
// fsynced and closed, and returns its name.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("safeio: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return "", fmt.Errorf("safeio: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return "", fmt.Errorf("safeio: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("safeio: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("safeio: close %s: %w", path, err)
	}
	ok = true
	return tmpName, nil
}

// SyncDir fsyncs a directory so that entries created, renamed or removed in
// it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("safeio: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("safeio: sync dir %s: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and its parents and makes each new entry durable by
// syncing the parent directories.
func MkdirAll(dir string, perm os.FileMode) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !os.IsExist(err) {
		return fmt.Errorf("safeio: %w", err)
	}
	return SyncDir(parent)
}

// RandomName returns a fresh random file name of 32 hex digits.
func RandomName() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
