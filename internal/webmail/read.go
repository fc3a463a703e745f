package webmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pail/internal/message"
	"pail/internal/store"
)

// readPage is the data of the page that shows one message.
type readPage struct {
	base
	ID        int64
	Folder    store.Mailbox
	Msg       *message.Parsed
	Date      string
	HTML      bool   // the message has an HTML body, shown in a frame
	ShowText  bool   // show the text body instead of the HTML one
	BodyURL   string // the frame's source
	Remote    bool   // remote images are shown
	HasRemote bool   // the HTML refers to remote resources
	Parts     []partView
	PrevID    int64 // the newer message in the folder, or 0
	NextID    int64 // the older message in the folder, or 0
	Unread    bool
	Flagged   bool
	IsDraft   bool
	IsTrash   bool
	Targets   []folderView
	Back      string
}

// partView is one attachment in the list under a message.
type partView struct {
	Index  int
	Name   string
	Type   string
	Size   int64
	Inline bool
}

// loadMessage returns the user's message named by the URL's {id}, and its
// folder. Another account's message is store.ErrNotFound, exactly like a
// message that does not exist.
func (s *Server) loadMessage(r *http.Request, u *user) (store.Message, store.Mailbox, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return store.Message{}, store.Mailbox{}, store.ErrNotFound
	}
	m, err := s.deps.Store.MessageOfAccount(r.Context(), u.acct.ID, id)
	if err != nil {
		return store.Message{}, store.Mailbox{}, err
	}
	mb, err := s.ownMailbox(r, u, m.MailboxID)
	return m, mb, err
}

// parseMessage reads and parses a stored message.
func (s *Server) parseMessage(ctx context.Context, m store.Message) (*message.Parsed, error) {
	f, c, err := s.openBody(ctx, m)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return message.Parse(f)
}

// openBody opens a stored message's bytes as a stream; the caller closes
// c.
func (s *Server) openBody(ctx context.Context, m store.Message) (r *io.SectionReader, c io.Closer, err error) {
	b, err := s.deps.Store.OpenBody(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	return io.NewSectionReader(b, 0, b.Size()), b, nil
}

// openMessage loads the message named by the request's id, checking that
// it belongs to the user, and parses it. On failure it has already answered
// (404 for a message that is missing or not the user's) and returns false.
func (s *Server) openMessage(w http.ResponseWriter, r *http.Request, u *user) (store.Message, store.Mailbox, *message.Parsed, bool) {
	m, mb, err := s.loadMessage(r, u)
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, u)
		return m, mb, nil, false
	}
	if err != nil {
		s.internal(w, r, u, err)
		return m, mb, nil, false
	}
	p, err := s.parseMessage(r.Context(), m)
	if err != nil {
		s.internal(w, r, u, err)
		return m, mb, nil, false
	}
	return m, mb, p, true
}

// handleRead shows a message and marks it read.
func (s *Server) handleRead(w http.ResponseWriter, r *http.Request, u *user) {
	m, mb, p, ok := s.openMessage(w, r, u)
	if !ok {
		return
	}
	ctx := r.Context()
	unread := !slices.Contains(m.Flags, `\Seen`)
	if unread {
		if _, _, err := s.deps.Store.SetFlags(ctx, mb.ID, []uint32{m.UID}, store.FlagsAdd, []string{`\Seen`}, 0); err != nil {
			s.deps.Log.Warn("webmail: mark read", "id", m.ID, "err", err)
		}
	}
	q := r.URL.Query()
	page := readPage{
		base:    s.base(r, u, p.Subject, mb.ID),
		ID:      m.ID,
		Folder:  mb,
		Msg:     p,
		Flagged: slices.Contains(m.Flags, `\Flagged`),
		IsDraft: mb.SpecialUse == `\Drafts` || slices.Contains(m.Flags, `\Draft`),
		IsTrash: mb.SpecialUse == `\Trash`,
		Remote:  q.Get("remote") == "1",
		Back:    "/mail?box=" + itoa(mb.ID),
	}
	if page.Title == "" {
		page.Title = "(no subject)"
	}
	date := p.Date
	if date.IsZero() {
		date = m.InternalDate
	}
	page.Date = date.Format("Mon, 2 Jan 2006 15:04 -0700")
	page.HTML = p.HTML != ""
	page.ShowText = !page.HTML || q.Get("view") == "text" && strings.TrimSpace(p.Text) != ""
	if page.HTML {
		page.HasRemote = hasRemote(p.HTML)
		page.BodyURL = fmt.Sprintf("/msg/%d/body", m.ID)
		if page.Remote {
			page.BodyURL += "?remote=1"
		}
	}
	for _, part := range p.Parts {
		page.Parts = append(page.Parts, partView{Index: part.Index, Name: displayName(part), Type: part.ContentType, Size: part.Size, Inline: part.Inline})
	}
	for _, f := range page.Folders {
		if f.ID != mb.ID {
			page.Targets = append(page.Targets, f)
		}
	}
	// The neighbours in the list's order, by keyset: two rows read,
	// whatever the folder's size.
	key := store.ListKey{Date: m.InternalDate.Unix(), UID: m.UID}
	if prev, err := s.deps.Store.ListMessages(ctx, mb.ID, store.ListQuery{Newer: key, Limit: 1}); err == nil && len(prev) == 1 {
		page.PrevID = prev[0].ID
	}
	if next, err := s.deps.Store.ListMessages(ctx, mb.ID, store.ListQuery{Older: key, Limit: 1}); err == nil && len(next) == 1 {
		page.NextID = next[0].ID
	}
	s.render(w, http.StatusOK, "read", page)
}

// displayName is an attachment's name, or one made from its index.
func displayName(p message.Part) string {
	if p.Name != "" {
		return p.Name
	}
	ext := ""
	if exts, _ := mime.ExtensionsByType(p.ContentType); len(exts) > 0 {
		ext = exts[0]
	}
	return fmt.Sprintf("part-%d%s", p.Index+1, ext)
}

// bodyCSP is the Content-Security-Policy of a message's HTML body: no
// script, no plugin, no form target, no font or frame, styles only inline,
// images only from data: URLs (the message's own inline parts) unless the
// reader asked for remote ones; and the document is sandboxed even when
// opened outside its frame.
const bodyCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:%s; form-action 'none'; " +
	"frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"

// bodyStyle is the frame document's own style sheet.
const bodyStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:15px;line-height:1.45;color:#1d1d1f;margin:12px;overflow-wrap:anywhere}img{max-width:100%;height:auto}pre{white-space:pre-wrap}blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:10px;color:#555}`

// handleBody serves a message's HTML body, sanitized, as its own
// document for the sandboxed frame of the read page.
func (s *Server) handleBody(w http.ResponseWriter, r *http.Request, u *user) {
	_, _, p, ok := s.openMessage(w, r, u)
	if !ok {
		return
	}
	remote := r.URL.Query().Get("remote") == "1"
	imgs := ""
	if remote {
		imgs = " https: http:"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", fmt.Sprintf(bodyCSP, imgs))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><style>`)
	b.WriteString(bodyStyle)
	b.WriteString("</style></head><body>")
	b.WriteString(s.sanitize(p.HTML, p.Parts, remote))
	b.WriteString("</body></html>")
	w.Write([]byte(b.String()))
}

// handlePart downloads one attachment. It is always an attachment
// download, never shown in the page, and never sniffed.
func (s *Server) handlePart(w http.ResponseWriter, r *http.Request, u *user) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		s.notFound(w, r, u)
		return
	}
	m, _, p, ok := s.openMessage(w, r, u)
	if !ok {
		return
	}
	i := slices.IndexFunc(p.Parts, func(x message.Part) bool { return x.Index == n })
	if i < 0 {
		s.notFound(w, r, u)
		return
	}
	part := p.Parts[i]
	f, c, err := s.openBody(r.Context(), m)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	defer c.Close()
	h := w.Header()
	ct := part.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		ct = "application/octet-stream"
	} else if strings.HasPrefix(ct, "text/") {
		ct += "; charset=utf-8" // text parts are decoded to UTF-8
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": displayName(part)}))
	h.Set("Content-Length", strconv.FormatInt(part.Size, 10))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	if _, err := message.Extract(f, n, w); err != nil {
		s.deps.Log.Warn("webmail: attachment", "id", m.ID, "part", n, "err", err)
	}
}
