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
	// maxSearchTime bounds the work of one search page; past it the page
	// shows what was found and its next link continues the scan.
	maxSearchTime = 5 * time.Second
	// searchBatch is how many messages a search reads from the store at
	// a time.
	searchBatch = 200
	// maxSearchUIDs is how many search candidates are handed to the store
	// to list by UID; with more, the folder is scanned and the candidates
	// picked out as it goes.
	maxSearchUIDs = 5000
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
	Truncated   bool // the search page stopped at maxSearchTime
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
	size := s.cfg.PageSize
	// The page is asked of the store by keyset (older= or newer= the key
	// of the row next to it), so that its cost does not grow with the
	// folder; page= (a page number) is kept for old links and costs what
	// it skips. n= only numbers the page for display.
	older, okOlder := parseListKey(q.Get("older"))
	newer, okNewer := parseListKey(q.Get("newer"))
	p.Page, _ = strconv.Atoi(q.Get("n"))
	lq := store.ListQuery{Limit: size + 1}
	switch {
	case okOlder:
		lq.Older = older
	case okNewer:
		lq.Newer = newer
	default:
		p.Page, _ = strconv.Atoi(q.Get("page"))
		p.Pages = max(1, (int(p.Folder.Total)+size-1)/size)
		p.Page = min(max(p.Page, 1), p.Pages)
		lq.Offset = (p.Page - 1) * size
	}
	p.Page = max(p.Page, 1)
	// The page's rows, newest first, and the keys that the links to the
	// newer and the older page start from (zero: no such page).
	var rows []store.Listed
	var newerKey, olderKey store.ListKey
	if p.Query != "" {
		var beyond store.ListKey
		rows, beyond, p.Truncated, err = s.search(ctx, mb.ID, lq, size, p.Query, p.Field)
		if okNewer {
			newerKey = beyond
		} else {
			olderKey = beyond
		}
	} else {
		rows, err = s.deps.Store.ListMessages(ctx, mb.ID, lq)
		if len(rows) > size {
			if okNewer {
				rows = rows[len(rows)-size:]
				newerKey = rows[0].Key()
			} else {
				rows = rows[:size]
				olderKey = rows[size-1].Key()
			}
		}
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	if len(rows) > 0 {
		// The way back is always there: the page came from it.
		if okOlder || lq.Offset > 0 {
			newerKey = rows[0].Key()
		}
		if okNewer && olderKey.IsZero() {
			olderKey = rows[len(rows)-1].Key()
		}
	}
	if okNewer && newerKey.IsZero() {
		p.Page = 1 // back at the newest page, whatever n said
	}
	p.Pages = max(p.Page, (int(p.Folder.Total)+size-1)/size)
	pageURL := func(k string, key store.ListKey, n int) string {
		v := url.Values{"box": {itoa(mb.ID)}}
		if k != "" {
			v.Set(k, formatListKey(key))
			v.Set("n", strconv.Itoa(n))
		}
		if p.Query != "" {
			v.Set("q", p.Query)
			v.Set("in", p.Field)
		}
		return "/mail?" + v.Encode()
	}
	if !newerKey.IsZero() {
		p.PrevURL = pageURL("newer", newerKey, max(p.Page-1, 1))
	}
	if !olderKey.IsZero() {
		p.NextURL = pageURL("older", olderKey, p.Page+1)
	}
	// Back from an action shows this same page again: the rows older
	// than the one just above its first.
	p.Back = pageURL("", store.ListKey{}, 0)
	if len(rows) > 0 && (okOlder || okNewer || lq.Offset > 0) {
		first := rows[0].Key()
		p.Back = pageURL("older", store.ListKey{Date: first.Date, UID: first.UID + 1}, p.Page)
	}
	for _, m := range rows {
		p.Items = append(p.Items, s.listItem(m, p.ShowTo))
	}
	s.render(w, http.StatusOK, "list", p)
}

// parseListKey reads a list position written by formatListKey.
func parseListKey(s string) (store.ListKey, bool) {
	d, u, ok := strings.Cut(s, ".")
	if !ok {
		return store.ListKey{}, false
	}
	date, err1 := strconv.ParseInt(d, 10, 64)
	uid, err2 := strconv.ParseUint(u, 10, 32)
	if err1 != nil || err2 != nil {
		return store.ListKey{}, false
	}
	return store.ListKey{Date: date, UID: uint32(uid)}, true
}

// formatListKey writes a list position for a URL: date.uid.
func formatListKey(k store.ListKey) string {
	return strconv.FormatInt(k.Date, 10) + "." + strconv.FormatUint(uint64(k.UID), 10)
}

// listItem makes a message's row from its kept summary. A message that
// cannot be read still gets a row.
func (s *Server) listItem(m store.Listed, showTo bool) listItem {
	it := listItem{
		ID:       m.ID,
		Date:     m.InternalDate,
		Size:     m.Size,
		Unread:   !slices.Contains(m.Flags, `\Seen`),
		Flagged:  slices.Contains(m.Flags, `\Flagged`),
		Answered: slices.Contains(m.Flags, `\Answered`),
	}
	if m.Info == nil {
		s.deps.Log.Warn("webmail: unreadable message", "id", m.ID)
		it.Subject = "(unreadable message)"
		return it
	}
	sum := m.Info.Summary
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
	it.Attachment = m.Info.HasAttachment
	return it
}

// search finds a page of the messages whose sender, subject or text
// (field "from", "subject", "body", or anything else for all three)
// contain query by i;unicode-casemap (message.Casemap), as IMAP SEARCH
// matches: "cafe" finds "Café". It scans the folder from the page's place
// (lq: older than a key, newer than a key, or from the newest), in batches
// read by keyset, until it has a page and one more (beyond: the key to
// continue from) or maxSearchTime has passed (stopped; beyond is where the
// scan stopped). The full-text index (store.SearchText) narrows the scan
// to its candidates first, unless the query is under three characters;
// each candidate is confirmed: sender and subject on the kept summaries,
// the text on the message file. The page is newest first.
func (s *Server) search(ctx context.Context, mailboxID int64, lq store.ListQuery, size int, query, field string) (page []store.Listed, beyond store.ListKey, stopped bool, err error) {
	needle := message.Casemap(query)
	deadline := time.Now().Add(maxSearchTime)
	up := !lq.Newer.IsZero() // towards newer messages: nearest the key first
	lq.Limit = searchBatch
	// The full-text index narrows the folder to the candidates, which the
	// scan then confirms; a few enough are asked of the store by UID.
	cands, narrowed, err := s.candidates(ctx, mailboxID, query, field)
	if err != nil {
		return nil, store.ListKey{}, false, err
	}
	if narrowed && len(cands) <= maxSearchUIDs {
		lq.UIDs = cands
	}
	defer func() {
		if up {
			slices.Reverse(page)
		}
	}()
	for {
		batch, err := s.deps.Store.ListMessages(ctx, mailboxID, lq)
		if err != nil {
			return nil, store.ListKey{}, false, err
		}
		if up {
			slices.Reverse(batch)
		}
		for _, m := range batch {
			if narrowed && !inSorted(cands, m.UID) || !s.matches(ctx, m, needle, field) {
				continue
			}
			if len(page) == size {
				return page, page[size-1].Key(), false, nil
			}
			page = append(page, m)
		}
		if len(batch) < searchBatch {
			return page, store.ListKey{}, false, nil
		}
		last := batch[len(batch)-1].Key()
		if ctx.Err() != nil || time.Now().After(deadline) {
			return page, last, true, nil
		}
		if up {
			lq = store.ListQuery{Newer: last, Limit: searchBatch, UIDs: lq.UIDs}
		} else {
			lq = store.ListQuery{Older: last, Limit: searchBatch, UIDs: lq.UIDs}
		}
	}
}

// searchFields are the full-text fields each webmail search field looks
// in (the default, all three).
var searchFields = map[string][]string{"from": {"FROM"}, "subject": {"SUBJECT"}, "body": {"BODY"}}

// candidates returns, ascending, the UIDs of the folder that may match
// (store.SearchText); narrowed false means all may.
func (s *Server) candidates(ctx context.Context, mailboxID int64, query, field string) ([]uint32, bool, error) {
	fields, ok := searchFields[field]
	if !ok {
		fields = []string{"FROM", "SUBJECT", "BODY"}
	}
	var all []uint32
	for _, f := range fields {
		uids, narrowed, err := s.deps.Store.SearchText(ctx, mailboxID, f, query)
		if err != nil || !narrowed {
			return nil, false, err
		}
		all = append(all, uids...)
	}
	slices.Sort(all)
	return slices.Compact(all), true, nil
}

// inSorted reports whether uid is in the ascending uids.
func inSorted(uids []uint32, uid uint32) bool {
	_, ok := slices.BinarySearch(uids, uid)
	return ok
}

func (s *Server) matches(ctx context.Context, m store.Listed, needle, field string) bool {
	if m.Info == nil {
		return false
	}
	sum := m.Info.Summary
	if field != "body" {
		if field != "from" && strings.Contains(message.Casemap(sum.Subject), needle) {
			return true
		}
		if field != "subject" {
			for _, a := range sum.From {
				if strings.Contains(message.Casemap(a.String()), needle) {
					return true
				}
			}
		}
		if field == "from" || field == "subject" {
			return false
		}
	}
	f, c, err := s.openBody(ctx, m.Message)
	if err != nil {
		return false
	}
	defer c.Close()
	p, err := message.Parse(io.LimitReader(f, maxSearchBody))
	if err != nil {
		return false
	}
	return strings.Contains(message.Casemap(p.PlainText()), needle)
}
