package pop3d

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"pail/internal/store"
)

// message returns the message a command names. RFC 1939 §5: messages are
// numbered from 1 in the snapshot, and a message marked as deleted may not
// be named again.
func (s *session) message(arg string) (int, *entry, error) {
	n, ok := parseNumber(arg)
	if !ok {
		return 0, nil, errf("Invalid message number")
	}
	if n < 1 || n > len(s.msgs) {
		return 0, nil, errf("No such message")
	}
	e := &s.msgs[n-1]
	if e.deleted {
		return 0, nil, errf("Message %d already deleted", n)
	}
	return n, e, nil
}

// count returns the number and total size of the messages not marked as
// deleted.
func (s *session) count() (n int, size int64) {
	for _, e := range s.msgs {
		if !e.deleted {
			n++
			size += e.Size
		}
	}
	return n, size
}

// uid is a message's unique id (RFC 1939 §7 UIDL): the INBOX's
// UIDVALIDITY and the message's UID. Both never change for a message and a
// UID is never given to another message in the same mailbox, so the id is
// stable across sessions and never reused.
func (s *session) uid(e *entry) string {
	return strconv.FormatUint(uint64(s.mailbox.UIDValidity), 10) + "." + strconv.FormatUint(uint64(e.UID), 10)
}

// stat answers "+OK count size" (RFC 1939 §5: exactly that form).
func (s *session) stat(command) error {
	n, size := s.count()
	s.ok(fmt.Sprintf("%d %d", n, size))
	return nil
}

// list gives sizes in octets as stored, with CRLF line endings (RFC 1939
// §5 LIST).
func (s *session) list(c command) error {
	if len(c.args) == 1 {
		n, e, err := s.message(c.args[0])
		if err != nil {
			return err
		}
		s.ok(fmt.Sprintf("%d %d", n, e.Size))
		return nil
	}
	n, size := s.count()
	s.ok(fmt.Sprintf("%d messages (%d octets)", n, size))
	for i := range s.msgs {
		if !s.msgs[i].deleted {
			s.reply(fmt.Sprintf("%d %d", i+1, s.msgs[i].Size))
		}
	}
	s.reply(".")
	return nil
}

// uidl gives unique ids (RFC 1939 §7 UIDL).
func (s *session) uidl(c command) error {
	if len(c.args) == 1 {
		n, e, err := s.message(c.args[0])
		if err != nil {
			return err
		}
		s.ok(fmt.Sprintf("%d %s", n, s.uid(e)))
		return nil
	}
	s.ok("Unique-ID listing follows")
	for i := range s.msgs {
		if !s.msgs[i].deleted {
			s.reply(fmt.Sprintf("%d %s", i+1, s.uid(&s.msgs[i])))
		}
	}
	s.reply(".")
	return nil
}

// readBufSize is RETR's read buffer. A message up to this
// size (nearly all mail) is read whole before the +OK, so that a failure to
// read it is still a -ERR; a larger one streams through the buffer.
const readBufSize = 64 << 10

// retr sends a whole message (RFC 1939 §5 RETR), read from its body through
// a pooled buffer and byte-stuffed on the way into the session's writer.
func (s *session) retr(c command) error {
	_, e, err := s.message(c.args[0])
	if err != nil {
		return err
	}
	b, err := s.open(e)
	if err != nil {
		return err
	}
	defer b.Close()
	bp := s.srv.bufs.Get().(*[]byte)
	defer s.srv.bufs.Put(bp)
	buf := *bp
	n, err := fill(b, buf, 0)
	if err != nil {
		s.log.Error("pop3 read message", "id", e.ID, "err", err)
		return errTemporary
	}
	var num [20]byte
	s.w.WriteString("+OK ")
	s.w.Write(strconv.AppendInt(num[:0], e.Size, 10))
	s.w.WriteString(" octets\r\n")
	dw := newDotWriter(s.w)
	for off := int64(0); ; {
		if _, err := dw.Write(buf[:n]); err != nil {
			return s.broken(err)
		}
		if off += int64(n); off >= b.Size() {
			break
		}
		if n, err = fill(b, buf, off); err != nil {
			s.log.Error("pop3 read message", "id", e.ID, "err", err)
			return errHangUp
		}
	}
	return s.broken(dw.Close())
}

// fill reads b from off on until buf is full or the message ends.
func fill(b store.Body, buf []byte, off int64) (int, error) {
	if rest := b.Size() - off; int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	n, err := b.ReadAt(buf, off)
	if n == len(buf) && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// top sends the header and the first lines of the body (RFC 1939 §7 TOP).
func (s *session) top(c command) error {
	_, e, err := s.message(c.args[0])
	if err != nil {
		return err
	}
	lines, ok := parseNumber(c.args[1])
	if !ok {
		return errf("Invalid number of lines")
	}
	b, err := s.open(e)
	if err != nil {
		return err
	}
	defer b.Close()
	s.ok("Top of message follows")
	dw := newDotWriter(s.w)
	if err := copyTop(&dw, io.NewSectionReader(b, 0, b.Size()), lines); err != nil {
		return s.broken(err)
	}
	return s.broken(dw.Close())
}

// broken turns an error in the middle of a multi-line response, after
// which no reply can be framed, into the end of the session.
func (s *session) broken(err error) error {
	if err == nil {
		return nil
	}
	s.log.Debug("pop3 response broken off", "err", err)
	return errHangUp
}

// open opens a message's bytes before anything is sent about it.
func (s *session) open(e *entry) (store.Body, error) {
	f, err := s.srv.deps.Store.OpenBody(s.srv.ctx, e.Message)
	if errors.Is(err, fs.ErrNotExist) {
		// Another client (IMAP, webmail) removed it during this session.
		return nil, errf("Message was removed by another session")
	}
	if err != nil {
		s.log.Error("pop3 open message", "id", e.ID, "err", err)
		return nil, errTemporary
	}
	return f, nil
}

// dele marks a message as deleted (RFC 1939 §5 DELE); only QUIT removes
// it.
func (s *session) dele(c command) error {
	n, e, err := s.message(c.args[0])
	if err != nil {
		return err
	}
	e.deleted = true
	s.ok(fmt.Sprintf("Message %d deleted", n))
	return nil
}

// noop does nothing (RFC 1939 §5 NOOP).
func (s *session) noop(command) error {
	s.ok("")
	return nil
}

// rset unmarks every message marked as deleted (RFC 1939 §5 RSET).
func (s *session) rset(command) error {
	for i := range s.msgs {
		s.msgs[i].deleted = false
	}
	n, size := s.count()
	s.ok(fmt.Sprintf("Maildrop has %d messages (%d octets)", n, size))
	return nil
}

// quit ends the session. In the TRANSACTION state it enters the UPDATE
// state (RFC 1939 §6): the messages marked as deleted are removed, durably,
// and only then does the client get +OK. If the removal fails nothing is
// removed and the client gets -ERR. Either way the session ends.
func (s *session) quit(command) error {
	if s.state == stateAuthorization {
		s.ok("pail POP3 server signing off")
		return errHangUp
	}
	var ids []int64
	for _, e := range s.msgs {
		if e.deleted {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(s.srv.ctx, updateTimeout)
		defer cancel()
		if s.lock.lost != nil {
			// A lock lost meanwhile cancels the removal: the
			// maildrop may be another session's now.
			defer context.AfterFunc(s.lock.lost, cancel)()
			if s.lock.lost.Err() != nil {
				cancel()
			}
		}
		if err := s.srv.deps.Store.Expunge(ctx, s.mailbox.ID, ids); err != nil {
			s.log.Error("pop3 update", "err", err)
			// RFC 1939 §6: "-ERR some deleted messages not removed".
			return &replyError{code: "SYS/TEMP", text: "Deleted messages not removed, try again later", hangUp: true}
		}
	}
	s.log.Debug("pop3 update", "removed", len(ids))
	// The update is done: release the maildrop before the +OK, so that a
	// client that reconnects as soon as it reads it (a poller) finds the
	// maildrop free rather than [IN-USE] (RFC 2449 §8.1.1).
	s.releaseLock()
	s.ok(fmt.Sprintf("pail POP3 server signing off (%d messages removed)", len(ids)))
	return errHangUp
}
