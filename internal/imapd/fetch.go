package imapd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"

	"pail/internal/imapengine"
	"pail/internal/imapmsg"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// Fetch answers FETCH and UID FETCH (RFC 9051 §6.4.5). ENVELOPE,
// BODYSTRUCTURE and BODY come from the wire forms the store kept at
// delivery, read with the messages in one store.EachMessage query whose
// rows are written as they come; a message without them
// and sections other than the whole message are parsed from the
// message's bytes in memory (imapmsg, one pread of the store.Body); BODY[]
// and its partials stream the octets asked for from the Body (pread,
// nothing else read). PREVIEW is the text kept at
// delivery (store.KeptPreviews, one query); SAVEDATE, EMAILID and
// THREADID come with the message rows. A body fetch without
// .PEEK sets \Seen first, durably, and reports the new flags with the data.
// Messages expunged by another session but not yet reported are skipped.
func (sess *session) Fetch(ctx context.Context, uid bool, a *imapwire.FetchArgs) error {
	v := sess.sel
	if a.Vanished {
		if err := sess.fetchVanished(ctx, uid, a); err != nil {
			return err
		}
	}
	items := a.Items
	if a.HasChangedSince && !slices.ContainsFunc(items, func(it imapwire.FetchItem) bool { return it.Name == "MODSEQ" }) {
		// RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ.
		items = append(slices.Clip(items), imapwire.FetchItem{Name: "MODSEQ"})
	}
	flagsOnly, markSeen := true, false
	for i := range items {
		it := &items[i]
		switch it.Name {
		case "MODSEQ":
			// The view keeps no per-message mod-sequences: read them.
			flagsOnly = false
			sess.conn.EnableCondStore() // RFC 7162 §3.1: an enabling command
		case "UID", "FLAGS":
		case "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "RFC822.HEADER", "BINARY.SIZE",
			"SAVEDATE", "EMAILID", "THREADID", "PREVIEW":
			flagsOnly = false
		case "BODY", "BINARY":
			flagsOnly = false
			markSeen = markSeen || (it.Section != nil && !it.Peek)
		case "RFC822", "RFC822.TEXT":
			flagsOnly = false
			markSeen = true
		default:
			return imapengine.Bad("CLIENTBUG", "FETCH "+it.Name+" is not supported")
		}
	}
	uids := v.resolve(a.Set, uid)
	if len(uids) == 0 {
		return nil
	}
	w := sess.conn.Writer()
	if flagsOnly {
		// UID and FLAGS come from the view, which the last sync made
		// current; no store read (clients ask for 1:* FLAGS often).
		wantFlags := slices.ContainsFunc(a.Items, func(it imapwire.FetchItem) bool { return it.Name == "FLAGS" })
		for _, u := range uids {
			if v.pending[u] {
				continue
			}
			if wantFlags {
				sess.announce(v.flags[u])
			}
			w.BeginFetch(v.seqOf(u))
			w.FetchNumber("UID", uint64(u))
			if wantFlags {
				w.FetchFlags(sess.flagList(u, v.flags[u]))
			}
			w.EndFetch()
		}
		return w.Err()
	}
	st := sess.srv.deps.Store
	var previews map[uint32]string
	if i := slices.IndexFunc(items, func(it imapwire.FetchItem) bool { return it.Name == "PREVIEW" }); i >= 0 {
		// RFC 8970: the preview computed at delivery, read in one query.
		var err error
		if previews, err = st.KeptPreviews(ctx, v.mb.ID, uids, items[i].Lazy); err != nil {
			return sess.storeErr(err)
		}
	}
	// seen are the messages this fetch set \Seen on, in UID order: those
	// the store's one statement changed (their mod-sequence is the new
	// one), whatever the view thought of them.
	var seen []uint32
	if markSeen && !v.readOnly {
		res, err := st.ChangeFlags(ctx, v.mb.ID, uids, store.FlagsAdd, []string{`\Seen`}, 0)
		if err != nil {
			return sess.storeErr(err)
		}
		if res.After != res.Before {
			for _, s := range res.States {
				if s.ModSeq == res.After {
					seen = append(seen, s.UID)
				}
			}
		}
		// The view takes their new flags below (fetchOne).
		sess.followed(res)
	}
	kept := store.KeptNone
	if want, structure := keptItems(items); structure {
		kept = store.KeptStructure
	} else if want {
		kept = store.KeptEnvelope
	}
	// The rows are streamed to the client as they are read (no structure
	// the size of the mailbox, issue 17); the writer sends them in
	// writes of its buffer's size.
	var fetchErr error
	err := st.EachMessage(ctx, v.mb.ID, uids, kept, func(m *store.Message, d imapmsg.Described) error {
		_, changed := slices.BinarySearch(seen, m.UID)
		if a.HasChangedSince && m.ModSeq <= a.ChangedSince {
			// RFC 7162 §3.1.4.1: only messages whose mod-sequence is
			// above CHANGEDSINCE's value; the view still takes what
			// this fetch changed.
			if changed {
				v.flags[m.UID] = m.Flags
			}
			return nil
		}
		seq := v.seqOf(m.UID)
		if seq == 0 {
			return nil
		}
		preview, ok := previews[m.UID]
		if err := sess.fetchOne(ctx, w, seq, m, d, fetchPreview{preview, ok}, items, changed); err != nil {
			fetchErr = err
			return err
		}
		return nil
	})
	if fetchErr != nil {
		return fetchErr // a response or a write error, as fetchOne gave it
	}
	if err != nil {
		return sess.storeErr(err)
	}
	return w.Err()
}

// keptItems reports whether items ask for a kept wire form (ENVELOPE,
// BODYSTRUCTURE, BODY without a section), and whether for a structure.
func keptItems(items []imapwire.FetchItem) (kept, structure bool) {
	for i := range items {
		switch it := &items[i]; {
		case it.Name == "ENVELOPE":
			kept = true
		case it.Name == "BODYSTRUCTURE", it.Name == "BODY" && it.Section == nil:
			kept, structure = true, true
		}
	}
	return kept, structure
}

// keptWire returns the kept wire form of an ENVELOPE, BODYSTRUCTURE or
// BODY item, nil when the message has none (store.EachMessage).
func keptWire(d imapmsg.Described, it *imapwire.FetchItem) *imapmsg.Wire {
	switch it.Name {
	case "ENVELOPE":
		return d.Envelope
	case "BODYSTRUCTURE":
		return d.BodyStructure
	}
	return d.Body
}

// wireFor is the kept form for a session that may or may not be sent
// UTF-8 (imapmsg.Wire.For, without a copy).
func wireFor(k *imapmsg.Wire, utf8OK bool) string {
	if utf8OK && k.UTF8 != "" {
		return k.UTF8
	}
	return k.Plain
}

// needsBytes reports whether an item needs the message parsed in memory
// (everything but the whole message, which is streamed, and the items
// whose wire form was kept).
func needsBytes(it *imapwire.FetchItem, info imapmsg.Described) bool {
	switch it.Name {
	case "ENVELOPE", "BODYSTRUCTURE":
		return keptWire(info, it) == nil
	case "BINARY", "BINARY.SIZE", "RFC822.HEADER", "RFC822.TEXT":
		return true
	case "BODY":
		if it.Section == nil {
			return keptWire(info, it) == nil
		}
		return !wholeMessage(it)
	}
	return false
}

// fetchPreview is one message's PREVIEW, ok false when it is not at
// hand (PREVIEW (LAZY) of a message without a kept summary).
type fetchPreview struct {
	text string
	ok   bool
}

func (sess *session) fetchOne(ctx context.Context, w *imapwire.Writer, seq uint32, m *store.Message, info imapmsg.Described, preview fetchPreview, items []imapwire.FetchItem, flagsChanged bool) error {
	v := sess.sel
	wantFlags := flagsChanged
	needBytes, needFile := false, false
	for i := range items {
		it := &items[i]
		wantFlags = wantFlags || it.Name == "FLAGS"
		nb := needsBytes(it, info)
		needBytes = needBytes || nb
		needFile = needFile || nb || it.Name == "RFC822" || it.Name == "BODY" && it.Section != nil
	}
	if wantFlags {
		v.flags[m.UID] = m.Flags
		sess.announce(m.Flags)
	}
	var body store.Body
	var buf []byte
	if needFile {
		var err error
		body, err = sess.srv.deps.Store.OpenBody(ctx, *m)
		if err != nil {
			// Expunged meanwhile: no response for it.
			return nil
		}
		defer body.Close()
		if needBytes {
			if buf, err = readBody(body); err != nil {
				return sess.internalErr("imapd: read message", err)
			}
		}
	}
	utf8OK := sess.conn.IMAP4rev2()
	var root *imapmsg.Part
	if needBytes {
		root = imapmsg.Parse(buf)
	}
	for i := range items {
		// Refused before the response begins (RFC 3516 §4.3).
		if it := &items[i]; it.Name == "BINARY" || it.Name == "BINARY.SIZE" {
			if _, ok := imapmsg.BinarySection(buf, root, it.Section.Part); !ok {
				return imapengine.No("UNKNOWN-CTE", "Unknown Content-Transfer-Encoding")
			}
		}
	}
	w.BeginFetch(seq)
	w.FetchNumber("UID", uint64(m.UID))
	if wantFlags {
		w.FetchFlags(sess.flagList(m.UID, m.Flags))
	}
	// MODSEQ when asked, and with CONDSTORE enabled whenever the fetch
	// set \Seen (RFC 7162 §3.1.4: a flag change's FETCH carries it).
	if slices.ContainsFunc(items, func(it imapwire.FetchItem) bool { return it.Name == "MODSEQ" }) ||
		flagsChanged && sess.conn.CondStore() {
		writeModSeq(w, m.ModSeq)
	}
	for i := range items {
		it := &items[i]
		switch it.Name {
		case "INTERNALDATE":
			w.FetchDate("INTERNALDATE", m.InternalDate)
		case "RFC822.SIZE":
			w.FetchNumber("RFC822.SIZE", uint64(m.Size))
		case "SAVEDATE":
			// RFC 8514 §4.1: NIL when the save date is not known (mail
			// stored before pail kept it).
			if m.SaveDate.IsZero() {
				w.FetchNString("SAVEDATE", "", true)
				continue
			}
			w.FetchDate("SAVEDATE", m.SaveDate)
		case "EMAILID", "THREADID":
			// RFC 8474 §5.1, §5.2: THREADID is NIL when none is
			// computed yet (mail stored before pail computed them,
			// until the store's background fill reaches it).
			id := m.EmailID
			if it.Name == "THREADID" {
				id = m.ThreadID
			}
			w.FetchID(it.Name, id)
		case "PREVIEW":
			// RFC 8970 §3.1: an empty string when the message has no
			// text; NIL only for LAZY when it is not at hand (§3.2).
			w.FetchNString("PREVIEW", preview.text, !preview.ok)
		case "ENVELOPE":
			if k := keptWire(info, it); k != nil {
				w.FetchRawString("ENVELOPE", wireFor(k, utf8OK))
				continue
			}
			w.FetchEnvelope(imapmsg.Envelope(root.Header))
		case "BODYSTRUCTURE":
			if k := keptWire(info, it); k != nil {
				w.FetchRawString("BODYSTRUCTURE", wireFor(k, utf8OK))
				continue
			}
			w.FetchRaw("BODYSTRUCTURE", imapmsg.AppendBodyStructure(nil, root, true, utf8OK))
		case "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT":
			if it.Name == "BODY" && it.Section == nil {
				if k := keptWire(info, it); k != nil {
					w.FetchRawString("BODY", wireFor(k, utf8OK))
					continue
				}
				w.FetchRaw("BODY", imapmsg.AppendBodyStructure(nil, root, false, utf8OK))
				continue
			}
			if wholeMessage(it) {
				if err := writeWhole(w, it, body); err != nil {
					return err
				}
				continue
			}
			b := bodySection(buf, root, it)
			if err := w.FetchSection(it, b); err == imapwire.ErrNUL {
				// A plain literal cannot carry NUL (RFC 9051 §4.3);
				// like Dovecot, send 0x80 in its place.
				w.FetchSection(it, bytes.ReplaceAll(b, []byte{0}, []byte{0x80}))
			}
		case "BINARY":
			b, _ := imapmsg.BinarySection(buf, root, it.Section.Part)
			if p := it.Partial; p != nil {
				b = imapmsg.Partial(b, p.Offset, p.Count)
			}
			w.FetchBinary(it, b)
		case "BINARY.SIZE":
			b, _ := imapmsg.BinarySection(buf, root, it.Section.Part)
			w.FetchBinarySize(it, uint64(len(b)))
		}
	}
	w.EndFetch()
	return w.Err()
}

// wholeMessage reports whether an item is the entire message (BODY[],
// BODY[]<partial>, RFC822), which is streamed from the body as stored.
func wholeMessage(it *imapwire.FetchItem) bool {
	if it.Name == "RFC822" {
		return true
	}
	s := it.Section
	return it.Name == "BODY" && s != nil && len(s.Part) == 0 && s.Specifier == ""
}

// writeWhole streams the message, or the <offset.size> part of it (RFC
// 9051 §6.4.5 partial fetch): an io.SectionReader of the body, so that
// only those octets are read.
func writeWhole(w *imapwire.Writer, it *imapwire.FetchItem, body store.Body) error {
	size := body.Size()
	off, n := int64(0), size
	if p := it.Partial; p != nil {
		off = min(int64(p.Offset), size)
		n = min(int64(p.Count), size-off)
	}
	// The literal's length is promised; a body whose stored bytes end
	// early (a damaged store) is padded so the protocol stream stays
	// intact.
	return w.FetchLiteralFrom(it, n, io.MultiReader(untilShort{io.NewSectionReader(body, off, n)}, padding{}), false)
}

// readBody reads a whole message with one pread, for parsing (sections,
// BINARY, a structure not kept). A body whose stored bytes end early (a
// damaged store) gives the octets there are, as a short file did.
func readBody(body store.Body) ([]byte, error) {
	buf := make([]byte, body.Size())
	n, err := body.ReadAt(buf, 0)
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return buf[:n], err
}

// untilShort reads r, ending (io.EOF) where a body's stored bytes end
// before its size (store.Body: an error wrapping io.ErrUnexpectedEOF).
type untilShort struct{ r io.Reader }

func (u untilShort) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// padding reads spaces forever.
type padding struct{}

func (padding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// bodySection returns the bytes of a BODY[section]<partial>, RFC822.HEADER
// or RFC822.TEXT item.
func bodySection(raw []byte, root *imapmsg.Part, it *imapwire.FetchItem) []byte {
	var b []byte
	switch {
	case it.Name == "RFC822.HEADER":
		b = root.Header
	case it.Name == "RFC822.TEXT":
		b = root.Body
	default:
		b = imapmsg.Section(raw, root, it.Section.Part, it.Section.Specifier, it.Section.Fields)
	}
	if p := it.Partial; p != nil && b != nil {
		b = imapmsg.Partial(b, p.Offset, p.Count)
	}
	return b
}
