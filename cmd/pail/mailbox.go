package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"pail/internal/address"
	"pail/internal/mbox"
	"pail/internal/store"
)

func cmdExport(e *env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	folder := fs.String("folder", store.Inbox, "mailbox to export")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "export ADDR [--folder NAME]"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	mb, err := findMailbox(e, st, pos[0], *folder)
	if err != nil {
		return err
	}
	msgs, err := st.Messages(e.ctx, mb.ID)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(e.stdout, 64<<10)
	w := mbox.NewWriter(bw)
	for _, m := range msgs {
		if err := exportOne(e.ctx, st, w, m); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

func exportOne(ctx context.Context, st *store.Store, w *mbox.Writer, m store.Message) error {
	b, err := st.OpenBody(ctx, m)
	if err != nil {
		return err
	}
	defer b.Close()
	br := bufio.NewReader(io.NewSectionReader(b, 0, b.Size()))
	return w.WriteMessage(returnPath(br), m.InternalDate, br)
}

// returnPath peeks at the Return-Path header that delivery puts first and
// returns the envelope sender it names ("" for the null sender or none).
func returnPath(br *bufio.Reader) string {
	const name = "return-path:"
	line, _ := br.Peek(512)
	if len(line) < len(name) || !strings.EqualFold(string(line[:len(name)]), name) {
		return ""
	}
	s := string(line[len(name):])
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}

func cmdImport(e *env, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	folder := fs.String("folder", store.Inbox, "mailbox to import into")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 2, "import ADDR FILE [--folder NAME]"); err != nil {
		return err
	}
	// The file is opened before openStore may give up root's identity,
	// so a file only root can read still imports.
	var in io.Reader = e.stdin
	if pos[1] != "-" {
		f, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	cfg, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	mb, err := findMailbox(e, st, pos[0], *folder)
	if err != nil {
		return err
	}
	r := mbox.NewReader(bufio.NewReaderSize(in, 64<<10))
	r.MaxMessageBytes = cfg.Limits.MaxMessageBytes
	n, skipped, err := importMbox(e.ctx, st, mb, r, e.stderr)
	if err != nil {
		return fmt.Errorf("%s: after %d messages: %w", pos[1], n, err)
	}
	fmt.Fprintf(e.stdout, "imported %d messages into %s of %s\n", n, mb.Name, pos[0])
	if skipped > 0 {
		return fmt.Errorf("%d messages were too large and not imported", skipped)
	}
	return nil
}

// findMailbox finds an account's mailbox by name.
func findMailbox(e *env, st *store.Store, addr, name string) (store.Mailbox, error) {
	norm, err := address.Normalize(addr)
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("%q: %w", addr, err)
	}
	acct, err := st.AccountByAddress(e.ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		return store.Mailbox{}, fmt.Errorf("no account %s", norm)
	}
	if err != nil {
		return store.Mailbox{}, err
	}
	mb, err := st.MailboxByName(e.ctx, acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Mailbox{}, fmt.Errorf("%s has no mailbox %q", norm, name)
	}
	return mb, err
}

// importChunk is how many messages of an import one transaction stores
// (store.DeliverBodies): a commit, with its fsyncs of the database and of
// the message directories, per chunk instead of per message, and the
// chunk's spool files synced in parallel. 64 messages of at most
// limits.max_message_bytes each are spool files on disk, not memory; two
// chunks (one stored, one being read) keep 128 files open at most.
const importChunk = 64

// importMbox stores the messages of r in mailbox mb in their order in the
// file, importChunk at a time: while one chunk is being stored the next
// is read and spooled (group commit), and a chunk is stored only after
// the one before it has committed, so the UIDs follow the mbox's order.
// Each chunk is all or nothing, so an interrupted import leaves whole
// messages only, the first n of the file; every message counted in n is
// committed when importMbox returns; after a failure to read the file the
// whole messages read before it are stored. Messages over r.MaxMessageBytes are
// skipped (and counted) with a line on stderr.
func importMbox(ctx context.Context, st *store.Store, mb store.Mailbox, r *mbox.Reader, stderr io.Writer) (n, skipped int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		stored int
		err    error
	}
	chunks := make(chan []store.BodyBatch, 1) // the chunk read ahead of the one being stored
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		for bs := range chunks {
			if o.err != nil {
				discard(bs)
				continue
			}
			if _, err := st.DeliverBodies(ctx, bs); err != nil {
				o.err = err
				cancel() // the reader stops spooling what will not be stored
				continue
			}
			o.stored += len(bs)
		}
		done <- o
	}()
	var readErr error
	var bs []store.BodyBatch
	for ctx.Err() == nil {
		msg, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooLarge *mbox.TooLargeError
		if errors.As(err, &tooLarge) {
			fmt.Fprintf(stderr, "pail: skipped: %v (limits.max_message_bytes)\n", err)
			skipped++
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		w, err := st.NewBody()
		if err != nil {
			readErr = err
			break
		}
		if _, err := w.Write(msg.Body); err != nil {
			w.Discard()
			readErr = err
			break
		}
		bs = append(bs, store.BodyBatch{Body: w, Deliveries: []store.Delivery{{AccountID: mb.AccountID, Mailbox: mb.Name, Date: msg.Date}}})
		if len(bs) == importChunk {
			chunks <- bs
			bs = nil
		}
	}
	if len(bs) > 0 {
		// The whole messages read before a failure of the file are
		// stored too, as they were one by one.
		chunks <- bs
	}
	close(chunks)
	o := <-done
	switch {
	case o.err != nil:
		return o.stored, skipped, o.err
	case readErr != nil:
		return o.stored, skipped, readErr
	case ctx.Err() != nil:
		return o.stored, skipped, ctx.Err()
	}
	return o.stored, skipped, nil
}

// discard drops the bodies of batches that will not be stored.
func discard(bs []store.BodyBatch) {
	for _, b := range bs {
		b.Body.Discard()
	}
}
