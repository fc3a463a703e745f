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
	n, skipped := 0, 0
	for {
		msg, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooLarge *mbox.TooLargeError
		if errors.As(err, &tooLarge) {
			fmt.Fprintf(e.stderr, "pail: skipped: %v (limits.max_message_bytes)\n", err)
			skipped++
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: after %d messages: %w", pos[1], n, err)
		}
		sp, err := st.NewBody()
		if err != nil {
			return err
		}
		if _, err := sp.Write(msg.Body); err != nil {
			sp.Discard()
			return err
		}
		if _, err := st.DeliverBody(e.ctx, sp, []store.Delivery{{AccountID: mb.AccountID, Mailbox: mb.Name, Date: msg.Date}}); err != nil {
			return err
		}
		n++
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
