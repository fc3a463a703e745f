package webmail

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"pail/internal/admin"
	"pail/internal/auth"
	"pail/internal/maillog"
)

// profilePath is where a logged-in user downloads the Apple
// configuration profile of their account (profile.go).
const profilePath = "/settings/profile.mobileconfig"

// Settings page texts.
const (
	msgPasswordChanged  = "Your password has been changed. Your other sessions have ended; mail clients need the new password."
	msgPasswordWrong    = "The current password is wrong."
	msgPasswordMismatch = "The two new passwords differ; nothing changed."
)

// settingsPage is the data of the settings page.
type settingsPage struct {
	base
	Profile string
	Filters bool // the Filters and Vacation pages are served
	Notice  string
	Error   string
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, u *user) {
	p := settingsPage{base: s.base(r, u, "Settings", 0), Profile: profilePath, Filters: s.deps.Sieve != nil}
	if r.URL.Query().Get("done") == "password" {
		p.Notice = msgPasswordChanged
	}
	s.render(w, http.StatusOK, "settings", p)
}

// handleSettingsPassword changes the user's own password: the current
// one is checked through the Authenticator (so guesses here are slowed
// and limited as at login), the new one is given twice and set by the
// admin operation pail user passwd runs. Every session made with the old
// password ends; this browser gets a new one.
func (s *Server) handleSettingsPassword(w http.ResponseWriter, r *http.Request, u *user) {
	p := settingsPage{base: s.base(r, u, "Settings", 0), Profile: profilePath}
	if s.deps.Admin == nil {
		s.fail(w, r, u, http.StatusNotFound, "Passwords cannot be changed on this server.")
		return
	}
	current, pw, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	if subtle.ConstantTimeCompare([]byte(pw), []byte(again)) != 1 {
		p.Error = msgPasswordMismatch
		s.render(w, http.StatusBadRequest, "settings", p)
		return
	}
	if err := admin.CheckPassword(pw); err != nil {
		p.Error, _ = refused(err)
		s.render(w, http.StatusBadRequest, "settings", p)
		return
	}
	ip := s.clientIP(r)
	if _, err := s.deps.Auth.Authenticate(r.Context(), ip, u.acct.Address, current); err != nil {
		status := http.StatusForbidden
		p.Error = msgPasswordWrong
		switch {
		case errors.Is(err, auth.ErrLimited):
			status, p.Error = http.StatusTooManyRequests, msgLoginLimited
			s.deps.MailLog.Log(maillog.AuthFailed, "client", ip.String(), "user", u.acct.Address, "proto", "HTTP", "reason", "limited")
		case errors.Is(err, auth.ErrFailed):
			s.deps.MailLog.Log(maillog.AuthFailed, "client", ip.String(), "user", u.acct.Address, "proto", "HTTP")
		default:
			s.internal(w, r, u, err)
			return
		}
		s.render(w, status, "settings", p)
		return
	}
	if _, err := s.deps.Admin.SetPassword(r.Context(), u.acct.Address, pw); err != nil {
		msg, ok := refused(err)
		if !ok {
			s.internal(w, r, u, err)
			return
		}
		p.Error = msg
		s.render(w, http.StatusBadRequest, "settings", p)
		return
	}
	// The old session ended with the old password (current); this
	// browser goes on with a new one.
	if err := s.sessions.delete(r.Context(), u.sess.key); err != nil {
		s.deps.Log.Error("webmail: ending a session", "err", err)
	}
	acct, err := s.deps.Store.AccountByID(r.Context(), u.acct.ID)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	sess, err := s.sessions.create(r.Context(), acct.ID, acct.PasswordHash)
	if err != nil {
		if !errors.Is(err, errTooManySessions) {
			s.deps.Log.Error("webmail: starting a session", "err", err)
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.setSessionCookie(w, r, sess.token)
	http.Redirect(w, r, "/settings?done=password", http.StatusSeeOther)
}
