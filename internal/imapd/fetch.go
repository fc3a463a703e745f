package imapd

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"pail/internal/store"
)

// Fetch answers FETCH and UID FETCH (RFC 9051 §6.4.5). ENVELOPE,
// BODYSTRUCTURE and sections other than the whole message come from the
// library's MIME helpers; BODY[] streams the file. A body fetch without
// .PEEK sets \Seen first, durably, and reports the new flags with the data.
// Messages expunged by another session but not yet reported are skipped.
func (sess *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	v := sess.sel
	st := sess.srv.deps.Store
	uids := v.resolve(numSet)
	if len(uids) == 0 {
		return nil
	}
	if flagsOnly(options) {
		// UID and FLAGS come from the view, which the last sync made
		// current; no store read (clients ask for 1:* FLAGS often).
		for _, uid := range uids {
			if v.pending[uid] {
				continue
			}
			mw := w.CreateMessage(v.seqOf(uid))
			mw.WriteUID(imap.UID(uid))
			if options.Flags {
				mw.WriteFlags(sess.flagList(uid, v.flags[uid]))
			}
			if err := mw.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	msgs, err := st.MessagesByUID(sess.srv.ctx, v.mb.ID, uids)
	if err != nil {
		return sess.storeErr(err)
	}
	markSeen := false
	if !v.readOnly {
		for _, bs := range options.BodySection {
			markSeen = markSeen || !bs.Peek
		}
		for _, bs := range options.BinarySection {
			markSeen = markSeen || !bs.Peek
		}
	}
	changed := map[uint32]bool{}
	if markSeen {
		var unseen []uint32
		for _, m := range msgs {
			if !slices.Contains(m.Flags, string(imap.FlagSeen)) {
				unseen = append(unseen, m.UID)
			}
		}
		if len(unseen) > 0 {
			states, _, err := st.SetFlags(sess.srv.ctx, v.mb.ID, unseen, store.FlagsAdd, []string{string(imap.FlagSeen)}, 0)
			if err != nil {
				return sess.storeErr(err)
			}
			byUID := map[uint32][]string{}
			for _, s := range states {
				byUID[s.UID] = s.Flags
			}
			for i := range msgs {
				if f, ok := byUID[msgs[i].UID]; ok {
					msgs[i].Flags = f
					changed[msgs[i].UID] = true
				}
			}
		}
	}
	for _, m := range msgs {
		seq := v.seqOf(m.UID)
		if seq == 0 {
			continue
		}
		if err := sess.fetchOne(w.CreateMessage(seq), m, options, changed[m.UID]); err != nil {
			return err
		}
	}
	return nil
}

// flagsOnly reports whether a FETCH asks for nothing but UID and FLAGS.
func flagsOnly(o *imap.FetchOptions) bool {
	return o.BodyStructure == nil && !o.Envelope && !o.InternalDate && !o.RFC822Size && !o.ModSeq &&
		len(o.BodySection) == 0 && len(o.BinarySection) == 0 && len(o.BinarySectionSize) == 0
}

func (sess *session) fetchOne(w *imapserver.FetchResponseWriter, m store.Message, options *imap.FetchOptions, flagsChanged bool) error {
	v := sess.sel
	w.WriteUID(imap.UID(m.UID))
	if options.Flags || flagsChanged {
		v.flags[m.UID] = m.Flags
		w.WriteFlags(sess.flagList(m.UID, m.Flags))
	}
	if options.InternalDate {
		w.WriteInternalDate(m.InternalDate)
	}
	if options.RFC822Size {
		w.WriteRFC822Size(m.Size)
	}
	needBytes := options.Envelope || options.BodyStructure != nil || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for _, bs := range options.BodySection {
		needBytes = needBytes || !wholeMessage(bs)
	}
	var f *os.File
	var buf []byte
	if needBytes || len(options.BodySection) > 0 {
		var err error
		f, err = sess.srv.deps.Store.OpenMessage(m)
		if err != nil {
			// Expunged meanwhile: end the response with what it has.
			return w.Close()
		}
		defer f.Close()
		if needBytes {
			buf, err = io.ReadAll(io.LimitReader(f, m.Size+1))
			if err != nil {
				return sess.internalErr("imapd: read message", err)
			}
		}
	}
	if options.Envelope {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(buf)))
		w.WriteEnvelope(imapserver.ExtractEnvelope(h))
	}
	if options.BodyStructure != nil {
		w.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(buf)))
	}
	for _, bs := range options.BodySection {
		var err error
		if wholeMessage(bs) {
			err = writeWhole(w, bs, f, m.Size)
			if se, ok := err.(seekError); ok {
				return sess.internalErr("imapd: seek message", se.err)
			}
		} else {
			b := imapserver.ExtractBodySection(bytes.NewReader(buf), bs)
			err = writeBytes(w.WriteBodySection(bs, int64(len(b))), b)
		}
		if err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		b := imapserver.ExtractBinarySection(bytes.NewReader(buf), bs)
		if err := writeBytes(w.WriteBinarySection(bs, int64(len(b))), b); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySectionSize {
		w.WriteBinarySectionSize(bs, imapserver.ExtractBinarySectionSize(bytes.NewReader(buf), bs))
	}
	return w.Close()
}

// wholeMessage reports whether a section is the entire message (BODY[] or
// BODY[]<partial>), which is streamed from the file as stored.
func wholeMessage(bs *imap.FetchItemBodySection) bool {
	return bs.Specifier == imap.PartSpecifierNone && len(bs.Part) == 0 && len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0
}

// writeWhole streams the message file, or the <offset.size> part of it
// (RFC 9051 §6.4.5 partial fetch).
func writeWhole(w *imapserver.FetchResponseWriter, bs *imap.FetchItemBodySection, f *os.File, size int64) error {
	off, n := int64(0), size
	if p := bs.Partial; p != nil {
		off = min(p.Offset, size)
		n = min(p.Size, size-off)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return seekError{err}
	}
	wc := w.WriteBodySection(bs, n)
	// The literal's length is promised; a short file is padded so the
	// protocol stream stays intact.
	copied, err := io.Copy(wc, io.LimitReader(f, n))
	if err == nil && copied < n {
		_, err = wc.Write(bytes.Repeat([]byte{' '}, int(n-copied)))
	}
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// seekError is a failed seek in a message file, told apart from the
// failed writes to the client that writeWhole also returns.
type seekError struct{ err error }

func (e seekError) Error() string { return "imapd: seek message: " + e.err.Error() }

func writeBytes(wc io.WriteCloser, b []byte) error {
	_, err := wc.Write(b)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}
