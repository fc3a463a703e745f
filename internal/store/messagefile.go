package store

import (
	"fmt"
	"io"
)

// MessageFile reads one message's bytes, up to the size recorded for it.
// It is for readers that take whole messages one after another, as POP3
// RETR does: on Unix it reads the file with plain system calls (open, read,
// close), without the os.File machinery that costs a regular file several
// more per open (non-blocking mode probes, an attempt to register it with
// the network poller) and a finalizer.
type MessageFile struct {
	f    rawFile
	id   int64
	left int64 // octets of the message not yet read
}

// OpenMessageFile opens m's bytes for reading. A message file never
// changes after delivery, so it holds exactly m.Size octets; Read reports
// io.EOF after them and an error wrapping io.ErrUnexpectedEOF if the file
// ends before. A missing file gives an error matching fs.ErrNotExist.
func (s *Store) OpenMessageFile(m Message) (*MessageFile, error) {
	f, err := openRaw(m.Path)
	if err != nil {
		return nil, fmt.Errorf("store: open message %d: %w", m.ID, err)
	}
	return &MessageFile{f: f, id: m.ID, left: m.Size}, nil
}

// Size returns the number of octets not yet read.
func (mf *MessageFile) Size() int64 { return mf.left }

// Read reads the next octets of the message into p.
func (mf *MessageFile) Read(p []byte) (int, error) {
	if mf.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > mf.left {
		p = p[:mf.left]
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := mf.f.read(p)
	mf.left -= int64(n)
	switch {
	case err != nil:
		return n, fmt.Errorf("store: read message %d: %w", mf.id, err)
	case n == 0:
		return 0, fmt.Errorf("store: message %d: file ends %d octets short: %w", mf.id, mf.left, io.ErrUnexpectedEOF)
	}
	return n, nil
}

// Close closes the file. Closing twice is harmless.
func (mf *MessageFile) Close() error {
	if err := mf.f.close(); err != nil {
		return fmt.Errorf("store: close message %d: %w", mf.id, err)
	}
	return nil
}
