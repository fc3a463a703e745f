package webmail

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"pail/internal/message"
	"pail/internal/store"
)

// Search bounds.
const (
	// maxSearchMessages is how many messages of a folder one search reads,
	// newest first.
	maxSearchMessages = 5000
	// maxSearchBody is how much of each message's text a search reads.
	maxSearchBody = 1 << 20
)

// listPage is the data of a folder's message list.
type listPage struct {
	base
	Folder      folderView
	Items       []listItem
	Page, Pages int
	PrevURL     string
	NextURL     string
	Query       string
	Field       string
	Total       int
	Truncated   bool // the search stopped at maxSearchMessages
	ShowTo      bool // Sent and Drafts show the recipients
	IsTrash     bool
	Editable    bool // the user's own folder: it can be renamed and deleted
	Note        string
	Targets     []folderView // folders messages can be moved to
	Back        string
}

// listItem is one row of the message list.
type listItem struct {
	ID         int64
	From       string
	Subject    string
	Date       time.Time
	Size       int64
	Unread     bool
	Flagged    bool
	Answered   bool
	Attachment bool
}

// notes are the fixed confirmations a redirect may ask a page to show.
var notes = map[string]string{
	"sent":           "Message sent.",
	"saved":          "Draft saved.",
	"moved":          "Moved.",
	"deleted":        "Deleted.",
	"updated":        "Updated.",
	"created":        "Folder created.",
	"renamed":        "Folder renamed.",
	"folder-deleted": "Folder deleted; its messages are in Trash.",
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request, u *user) {
	http.Redirect(w, r, "/mail", http.StatusSeeOther)
}

// handleList shows a folder's messages newest first, a page at a time,
// optionally only those matching a search.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	q := r.URL.Query()
	var mb store.Mailbox
	var err error
	if box := q.Get("box"); box != "" {
		id, perr := strconv.ParseInt(box, 10, 64)
		if perr != nil {
			s.notFound(w, r, u)
			return
		}
		mb, err = s.ownMailbox(r, u, id)
	} else {
		mb, err = s.specialMailbox(r, u, "", store.Inbox)
	}
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, u)
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	msgs, err := s.sortedMessages(ctx, mb.ID)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	p := listPage{base: s.base(r, u, mb.Name, mb.ID), Query: strings.TrimSpace(q.Get("q")), Field: q.Get("in"), Note: notes[q.Get("note")]}
	p.IsTrash = mb.SpecialUse == `\Trash`
	p.Editable = mb.Name != store.Inbox && mb.SpecialUse == ""
	p.ShowTo = mb.SpecialUse == `\Sent` || mb.SpecialUse == `\Drafts`
	for _, f := range p.Folders {
		if f.ID == mb.ID {
			p.Folder = f
		} else {
			p.Targets = append(p.Targets, f)
		}
	}
	if p.Query != "" {
		msgs, p.Truncated = s.search(ctx, msgs, p.Query, p.Field)
	}
	p.Total = len(msgs)
	size := s.cfg.PageSize
	p.Pages = max(1, (len(msgs)+size-1)/size)
	p.Page, _ = strconv.Atoi(q.Get("page"))
	p.Page = min(max(p.Page, 1), p.Pages)
	pageURL := func(n int) string {
		v := url.Values{"box": {itoa(mb.ID)}, "page": {strconv.Itoa(n)}}
		if p.Query != "" {
			v.Set("q", p.Query)
			v.Set("in", p.Field)
		}
		return "/mail?" + v.Encode()
	}
	if p.Page > 1 {
		p.PrevURL = pageURL(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.NextURL = pageURL(p.Page + 1)
	}
	p.Back = pageURL(p.Page)
	lo := (p.Page - 1) * size
	hi := min(lo+size, len(msgs))
	for _, m := range msgs[lo:hi] {
		p.Items = append(p.Items, s.listItem(m, p.ShowTo))
	}
	s.render(w, http.StatusOK, "list", p)
}

// sortedMessages lists a folder newest first (by arrival).
func (s *Server) sortedMessages(ctx context.Context, mailboxID int64) ([]store.Message, error) {
	msgs, err := s.deps.Store.Messages(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	slices.Reverse(msgs) // UID order is arrival order
	slices.SortStableFunc(msgs, func(a, b store.Message) int { return b.InternalDate.Compare(a.InternalDate) })
	return msgs, nil
}

// listItem reads a message's header for its row. A message that cannot
// be read still gets a row.
func (s *Server) listItem(m store.Message, showTo bool) listItem {
	it := listItem{
		ID:       m.ID,
		Date:     m.InternalDate,
		Size:     m.Size,
		Unread:   !slices.Contains(m.Flags, `\Seen`),
		Flagged:  slices.Contains(m.Flags, `\Flagged`),
		Answered: slices.Contains(m.Flags, `\Answered`),
	}
	sum, err := s.summary(m)
	if err != nil {
		s.deps.Log.Warn("webmail: read message header", "id", m.ID, "err", err)
		it.Subject = "(unreadable message)"
		return it
	}
	addrs := sum.From
	if showTo {
		addrs = append(slices.Clone(sum.To), sum.Cc...)
	}
	names := make([]string, 0, len(addrs))
	for _, a := range addrs {
		names = append(names, a.Short())
	}
	it.From = strings.Join(names, ", ")
	it.Subject = sum.Subject
	if !sum.Date.IsZero() {
		it.Date = sum.Date
	}
	it.Attachment = sum.Multipart
	return it
}

func (s *Server) summary(m store.Message) (message.Summary, error) {
	f, err := s.deps.Store.OpenMessage(m)
	if err != nil {
		return message.Summary{}, err
	}
	defer f.Close()
	return message.ReadSummary(f)
}

// search keeps the messages whose sender, subject or text (field "from",
// "subject", "body", or anything else for all three) contain query,
// ignoring case.
func (s *Server) search(ctx context.Context, msgs []store.Message, query, field string) ([]store.Message, bool) {
	needle := strings.ToLower(query)
	truncated := len(msgs) > maxSearchMessages
	if truncated {
		msgs = msgs[:maxSearchMessages]
	}
	var out []store.Message
	for _, m := range msgs {
		if ctx.Err() != nil {
			return out, true
		}
		if s.matches(m, needle, field) {
			out = append(out, m)
		}
	}
	return out, truncated
}

func (s *Server) matches(m store.Message, needle, field string) bool {
	f, err := s.deps.Store.OpenMessage(m)
	if err != nil {
		return false
	}
	defer f.Close()
	if field == "from" || field == "subject" {
		sum, err := message.ReadSummary(f)
		if err != nil {
			return false
		}
		if field == "subject" {
			return strings.Contains(strings.ToLower(sum.Subject), needle)
		}
		for _, a := range sum.From {
			if strings.Contains(strings.ToLower(a.String()), needle) {
				return true
			}
		}
		return false
	}
	p, err := message.Parse(io.LimitReader(f, maxSearchBody))
	if err != nil {
		return false
	}
	if field != "body" {
		if strings.Contains(strings.ToLower(p.Subject), needle) {
			return true
		}
		for _, a := range p.From {
			if strings.Contains(strings.ToLower(a.String()), needle) {
				return true
			}
		}
	}
	return strings.Contains(strings.ToLower(p.PlainText()), needle)
}
