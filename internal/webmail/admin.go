package webmail

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"pail/internal/admin"
	"pail/internal/queue"
	"pail/internal/store"
)

// Bounds of the admin pages.
const (
	// maxAdminForm bounds the body of an admin or settings form: a few
	// addresses and passwords.
	maxAdminForm = 64 << 10
	// maxQueueShown bounds how much of a queued message its page shows;
	// pail queue show prints it all.
	maxQueueShown = 256 << 10
	// maxAliasTargets bounds the targets added to an alias in one form.
	maxAliasTargets = 100
)

// adminPage wraps a GET handler of the admin pages: a logged-in user who
// is not an admin gets 403, whatever the page.
func (s *Server) adminPage(h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request, u *user) {
		if !s.allowAdmin(w, r, u) {
			return
		}
		h(w, r, u)
	})
}

// adminPost wraps a state-changing handler of the admin pages: post's
// origin, session and CSRF checks, then the admin check.
func (s *Server) adminPost(h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return s.post(maxAdminForm, func(w http.ResponseWriter, r *http.Request, u *user) {
		if !s.allowAdmin(w, r, u) {
			return
		}
		h(w, r, u)
	})
}

// allowAdmin answers 403 unless u is an admin, and 404 when the server
// has no admin operations.
func (s *Server) allowAdmin(w http.ResponseWriter, r *http.Request, u *user) bool {
	switch {
	case !u.acct.Admin:
		s.fail(w, r, u, http.StatusForbidden, "Only admin accounts may use the admin pages.")
		return false
	case s.deps.Admin == nil:
		s.fail(w, r, u, http.StatusNotFound, "This server has no admin pages.")
		return false
	}
	return true
}

// adminBase is what every admin page shows: the common page, which admin
// page it is, and the outcome of the form just sent.
type adminBase struct {
	base
	Tab    string // accounts, aliases, queue, dns, doctor
	Notice string // what the form did
	Error  string // why the form was refused
}

func (s *Server) adminBase(r *http.Request, u *user, title, tab string) adminBase {
	return adminBase{base: s.base(r, u, title, 0), Tab: tab}
}

// refused reports whether err is a refusal the admin can act on, and its
// text; anything else is an unexpected failure.
func refused(err error) (string, bool) {
	var ref *admin.Refusal
	if errors.As(err, &ref) {
		return ref.Msg, true
	}
	if errors.Is(err, queue.ErrNotFound) {
		return "There is no such message in the queue.", true
	}
	return "", false
}

// outcome puts the result of an admin form into p and returns the status
// to answer with: 200, 400 for a refusal, or 0 after an unexpected
// error, which has been answered with a 500.
func (s *Server) outcome(w http.ResponseWriter, r *http.Request, u *user, p *adminBase, notice string, err error) int {
	if err == nil {
		p.Notice = notice
		return http.StatusOK
	}
	if msg, ok := refused(err); ok {
		p.Error = msg
		return http.StatusBadRequest
	}
	s.internal(w, r, u, err)
	return 0
}

// itemsPage is the data of an admin page that lists things (accounts,
// aliases) with forms to change them.
type itemsPage[T any] struct {
	adminBase
	Items []T
}

// showList renders the admin page name listing what list returns, with
// the outcome res of the form just sent.
func showList[T any](s *Server, w http.ResponseWriter, r *http.Request, u *user, status int, res adminBase,
	title, name string, list func(context.Context) ([]T, error)) {
	p := itemsPage[T]{adminBase: s.adminBase(r, u, title, strings.TrimPrefix(name, "admin-"))}
	p.Notice, p.Error = res.Notice, res.Error
	items, err := list(r.Context())
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	p.Items = items
	s.render(w, status, name, p)
}

func (s *Server) handleAdminAccounts(w http.ResponseWriter, r *http.Request, u *user) {
	s.showAccounts(w, r, u, http.StatusOK, adminBase{})
}

func (s *Server) showAccounts(w http.ResponseWriter, r *http.Request, u *user, status int, res adminBase) {
	showList(s, w, r, u, status, res, "Accounts", "admin-accounts", s.deps.Admin.Accounts)
}

// handleAdminAccountsPost adds, deletes and changes accounts through the
// admin operations `pail user` runs.
func (s *Server) handleAdminAccountsPost(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	addr := strings.TrimSpace(r.PostFormValue("address"))
	var res adminBase
	var notice string
	var err error
	switch r.PostFormValue("op") {
	case "add":
		var acct store.Account
		acct, err = s.deps.Admin.AddAccount(ctx, addr, r.PostFormValue("password"), r.PostFormValue("admin") == "on")
		notice = "Added " + acct.Address + "."
		if acct.Admin {
			notice = "Added " + acct.Address + " (admin)."
		}
	case "delete":
		addr, err = s.deps.Admin.DeleteAccount(ctx, addr)
		notice = "Deleted " + addr + " and all its mail."
	case "password":
		addr, err = s.deps.Admin.SetPassword(ctx, addr, r.PostFormValue("password"))
		notice = "Changed the password of " + addr + "; its sessions have ended."
	case "admin", "unadmin":
		on := r.PostFormValue("op") == "admin"
		addr, err = s.deps.Admin.SetAdmin(ctx, addr, on)
		notice = addr + " is an admin now."
		if !on {
			notice = addr + " is no longer an admin."
		}
	default:
		s.fail(w, r, u, http.StatusBadRequest, "Unknown action.")
		return
	}
	status := s.outcome(w, r, u, &res, notice, err)
	if status == 0 {
		return
	}
	if err == nil && addr == u.acct.Address {
		// The admin changed their own account: its session may have
		// ended (deleted, new password) or lost the admin pages.
		http.Redirect(w, r, "/mail", http.StatusSeeOther)
		return
	}
	s.showAccounts(w, r, u, status, res)
}

func (s *Server) handleAdminAliases(w http.ResponseWriter, r *http.Request, u *user) {
	s.showAliases(w, r, u, http.StatusOK, adminBase{})
}

func (s *Server) showAliases(w http.ResponseWriter, r *http.Request, u *user, status int, res adminBase) {
	showList(s, w, r, u, status, res, "Aliases", "admin-aliases", s.deps.Admin.Aliases)
}

// handleAdminAliasesPost adds and deletes aliases through the admin
// operations `pail alias` runs. Targets are separated by spaces, commas
// or new lines.
func (s *Server) handleAdminAliasesPost(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	alias := strings.TrimSpace(r.PostFormValue("alias"))
	targets := strings.FieldsFunc(r.PostFormValue("targets"), func(c rune) bool {
		return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
	})
	if len(targets) > maxAliasTargets {
		s.fail(w, r, u, http.StatusBadRequest, "Too many targets in one form.")
		return
	}
	var res adminBase
	var notice string
	var err error
	switch r.PostFormValue("op") {
	case "add":
		var al store.Alias
		al, err = s.deps.Admin.AddAlias(ctx, alias, targets)
		notice = al.Address + " → " + strings.Join(al.Targets, ", ")
	case "delete":
		var addrs []string
		addrs, err = s.deps.Admin.DeleteAlias(ctx, alias, targets)
		notice = "Deleted " + strings.Join(addrs, " ") + "."
	default:
		s.fail(w, r, u, http.StatusBadRequest, "Unknown action.")
		return
	}
	if status := s.outcome(w, r, u, &res, notice, err); status != 0 {
		s.showAliases(w, r, u, status, res)
	}
}
