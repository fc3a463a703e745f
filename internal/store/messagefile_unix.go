//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// rawFile is a file descriptor read with plain system calls; -1 when
// closed.
type rawFile int

func openRaw(path string) (rawFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return rawFile(fd), nil
	}
}

func (f *rawFile) pread(p []byte, off int64) (int, error) {
	for {
		n, err := syscall.Pread(int(*f), p, off)
		if err == syscall.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

func (f *rawFile) close() error {
	if *f < 0 {
		return nil
	}
	fd := int(*f)
	*f = -1
	// close(2) is not retried on EINTR: on Linux the descriptor is gone
	// either way.
	return syscall.Close(fd)
}
