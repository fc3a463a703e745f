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

func (f *rawFile) read(p []byte) (int, error) {
	n, err := f.f.Read(p)
	if n == 0 && errors.Is(err, io.EOF) {
		err = nil // the caller reports a short file
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
