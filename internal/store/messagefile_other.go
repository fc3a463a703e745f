//go:build !unix

package store

import (
	"errors"
	"io"
	"os"
)

// rawFile is an os.File where plain system calls are not available.
type rawFile struct{ f *os.File }

func openRaw(path string) (rawFile, error) {
	f, err := os.Open(path)
	return rawFile{f}, err
}

func (f *rawFile) pread(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		err = nil // the caller reports a short file (it reads again, gets 0)
	}
	return n, err
}

func (f *rawFile) close() error {
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}
