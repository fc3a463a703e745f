package webmail

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"pail/internal/autoconfig"
)

// ProfilePath is where a logged-in user downloads the Apple
// configuration profile of their account (the settings page links to
// it).
const ProfilePath = "/settings/profile.mobileconfig"

// Profiles makes the Apple configuration profile (.mobileconfig) of an
// account: autoconfig.Services.MobileConfig, which names the services
// that listen.
type Profiles interface {
	MobileConfig(address string) ([]byte, error)
}

var _ Profiles = autoconfig.Services{}

// handleProfile sends the user's own configuration profile as a
// download; a user gets only their own, named by the session.
func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request, u *user) {
	if s.deps.Profiles == nil {
		s.fail(w, r, u, http.StatusNotFound, "This server offers no configuration profile.")
		return
	}
	doc, err := s.deps.Profiles.MobileConfig(u.acct.Address)
	if errors.Is(err, autoconfig.ErrNoProfile) {
		s.fail(w, r, u, http.StatusNotFound, "This server does not run both a mailbox service (IMAP or POP3) and submission, so there is no profile to install.")
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	_, domain, _ := strings.Cut(u.acct.Address, "@")
	h := w.Header()
	h.Set("Content-Type", autoconfig.MobileConfigType)
	h.Set("Content-Disposition", `attachment; filename="`+profileFileName(domain)+`"`)
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	h.Set("Cache-Control", "no-store")
	w.Write(doc)
}

// profileFileName is the download's name: the domain, kept to letters,
// digits, dots and hyphens so it needs no quoting.
func profileFileName(domain string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, domain)
	if name == "" {
		name = "mail"
	}
	return name + ".mobileconfig"
}
