package webmail

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pail/internal/message"
	"pail/internal/store"
)

// appCSP is the Content-Security-Policy of the application's own pages:
// scripts and styles only from the server's files, frames only from the
// server (the sandboxed message body), and the pages may not be framed.
const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setSecurityHeaders sets the headers every response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", appCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// sessionCookie names the session cookie.
const sessionCookie = "pail_session"

// user is the logged-in account of a request.
type user struct {
	sess *session
	acct store.Account
}

// current returns the request's user, or nil when it has no live session
// or its account is gone.
func (s *Server) current(r *http.Request) *user {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	sess, err := s.sessions.get(r.Context(), c.Value)
	if err != nil {
		s.deps.Log.Error("webmail: session", "err", err)
	}
	if sess == nil {
		return nil
	}
	acct, err := s.deps.Store.AccountByID(r.Context(), sess.accountID)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && passwordTag(acct.PasswordHash) != sess.passwordTag:
		// The account is gone or its password changed: the session ends.
		if err := s.sessions.delete(r.Context(), sess.key); err != nil {
			s.deps.Log.Error("webmail: ending a session", "err", err)
		}
		return nil
	case err != nil:
		s.deps.Log.Error("webmail: account lookup", "err", err)
		return nil
	}
	return &user{sess: sess, acct: acct}
}

// page wraps a GET handler that needs a logged-in user; without one the
// browser is sent to the login page.
func (s *Server) page(h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		if u == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r, u)
	}
}

// post wraps a state-changing handler: the body is bounded by limit, the
// request must come from one of the server's own pages (Sec-Fetch-Site /
// Origin), carry a live session, and the session's CSRF token in the form
// field "csrf".
func (s *Server) post(limit int64, h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if !sameOrigin(r) {
			s.fail(w, r, nil, http.StatusForbidden, "This request did not come from this site's own page.")
			return
		}
		u := s.current(r)
		if u == nil {
			s.fail(w, r, nil, http.StatusForbidden, "Your session has ended. Please log in again.")
			return
		}
		if err := parseForm(r); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.fail(w, r, u, http.StatusRequestEntityTooLarge, "The upload is larger than the message size limit ("+message.FormatSize(s.cfg.MaxMessageBytes)+").")
				return
			}
			s.fail(w, r, u, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
		if !u.sess.validCSRF(r.PostFormValue("csrf")) {
			s.fail(w, r, u, http.StatusForbidden, "The form has expired or did not come from this site. Please try again.")
			return
		}
		h(w, r, u)
	}
}

// parseForm reads a urlencoded or multipart form.
func parseForm(r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return r.ParseMultipartForm(maxMemoryForm)
	}
	return r.ParseForm()
}

// sameOrigin reports whether a POST came from the server's own pages.
// Browsers send Sec-Fetch-Site with every request; older ones send Origin
// (as "null" under Referrer-Policy: no-referrer, which tells nothing). A
// request with neither (not a browser) has no ambient cookie to abuse; the
// CSRF token is checked in any case.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// render executes a page template into a buffer and writes it with
// status; a template error becomes a plain 500.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	t := s.pages[name]
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", data); err != nil {
		s.deps.Log.Error("webmail: template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	base
	Status  int
	Message string
}

// fail shows an error page. Messages are fixed texts, never input.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, u *user, status int, msg string) {
	p := errorPage{Status: status, Message: msg}
	p.Title = http.StatusText(status)
	if u != nil {
		p.base = s.base(r, u, p.Title, 0)
	}
	s.render(w, status, "error", p)
}

// notFound answers 404 for anything the user may not see, whether it
// exists or not.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, u *user) {
	s.fail(w, r, u, http.StatusNotFound, "There is no such message or folder.")
}

// internal logs an unexpected error and answers a generic 500.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, u *user, err error) {
	s.deps.Log.Error("webmail: request failed", "path", r.URL.Path, "user", u.acct.Address, "err", err)
	s.fail(w, r, u, http.StatusInternalServerError, "Something went wrong on the server. Please try again.")
}

// base is what every logged-in page shows: the user, the folder list and
// the CSRF token for its forms.
type base struct {
	Title   string
	User    string
	Admin   bool // the user may see the admin pages
	CSRF    string
	Folders []folderView
	Current int64 // the folder shown or holding the message shown
}

// folderView is one folder in the folder list.
type folderView struct {
	ID      int64
	Name    string
	Special string // RFC 6154 special use without the backslash, lower case
	Unread  uint32
	Total   uint32
	Current bool
}

// base builds the common page data; a failure to count a folder only
// leaves its count out.
func (s *Server) base(r *http.Request, u *user, title string, current int64) base {
	b := base{Title: title, User: u.acct.Address, Admin: u.acct.Admin && s.deps.Admin != nil, CSRF: u.sess.csrf, Current: current}
	boxes, err := s.deps.Store.Mailboxes(r.Context(), u.acct.ID)
	if err != nil {
		s.deps.Log.Error("webmail: mailboxes", "err", err)
		return b
	}
	for _, mb := range boxes {
		f := folderView{ID: mb.ID, Name: mb.Name, Special: strings.ToLower(strings.TrimPrefix(mb.SpecialUse, `\`)), Current: mb.ID == current}
		if c, err := s.deps.Store.MailboxStatus(r.Context(), mb.ID); err == nil {
			f.Unread, f.Total = c.Unseen, c.Messages
		}
		b.Folders = append(b.Folders, f)
	}
	return b
}

// specialMailbox returns the account's mailbox with a special use (such
// as `\Sent`), falling back to the default name.
func (s *Server) specialMailbox(r *http.Request, u *user, use, fallback string) (store.Mailbox, error) {
	boxes, err := s.deps.Store.Mailboxes(r.Context(), u.acct.ID)
	if err != nil {
		return store.Mailbox{}, err
	}
	for _, mb := range boxes {
		if use != "" && strings.EqualFold(mb.SpecialUse, use) {
			return mb, nil
		}
	}
	for _, mb := range boxes {
		if strings.EqualFold(mb.Name, fallback) {
			return mb, nil
		}
	}
	return store.Mailbox{}, store.ErrNotFound
}

// ownMailbox returns a mailbox of the user by id, or store.ErrNotFound.
func (s *Server) ownMailbox(r *http.Request, u *user, id int64) (store.Mailbox, error) {
	mb, err := s.deps.Store.MailboxByID(r.Context(), id)
	if err != nil {
		return store.Mailbox{}, err
	}
	if mb.AccountID != u.acct.ID {
		return store.Mailbox{}, store.ErrNotFound
	}
	return mb, nil
}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"size": message.FormatSize,
		"date": func(t time.Time) string { return formatDate(t, s.deps.Now()) },
		"longdate": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Format("Mon, 2 Jan 2006 15:04 -0700")
		},
	}
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"login", "list", "read", "compose", "error", "settings", "filters", "vacation",
		"admin-accounts", "admin-aliases", "admin-queue", "admin-queuemsg", "admin-dns", "admin-doctor"} {
		files := []string{"templates/layout.html", "templates/" + name + ".html"}
		if strings.HasPrefix(name, "admin-") {
			files = append(files, "templates/admin-tabs.html")
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return err
		}
		s.pages[name] = t
	}
	return nil
}

// formatDate shows today's times as "15:04", this year's dates as
// "2 Jan", older ones as "2 Jan 2006".
func formatDate(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(now.Location())
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("2 Jan")
	}
	return t.Format("2 Jan 2006")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// localPath returns p when it is a path on this site (for redirects after
// a form), else "/mail".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) || strings.ContainsAny(p, "\r\n") {
		return "/mail"
	}
	return p
}
