package webmail

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"pail/internal/auth"
	"pail/internal/maillog"
)

// loginPage is the data of the login page.
type loginPage struct {
	base
	Address string
	Error   string
}

// Login answers. They never say whether the account exists.
const (
	msgLoginFailed  = "Login failed: the address or the password is wrong."
	msgLoginLimited = "Too many failed logins. Please wait a few minutes and try again."
	msgLoginBusy    = "The server is busy. Please try again later."
)

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if s.current(r) != nil {
		http.Redirect(w, r, "/mail", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "login", loginPage{base: base{Title: "Log in"}})
}

// handleLogin checks the password through the Authenticator, which slows
// and limits failed attempts, and starts a session.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !sameOrigin(r) {
		s.fail(w, r, nil, http.StatusForbidden, "This request did not come from this site's own page.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, nil, http.StatusBadRequest, "The form could not be read.")
		return
	}
	addr, password := r.PostFormValue("address"), r.PostFormValue("password")
	ip := s.clientIP(r)
	page := loginPage{base: base{Title: "Log in"}, Address: addr}
	acct, err := s.deps.Auth.Authenticate(r.Context(), ip, addr, password)
	if err != nil {
		status := http.StatusUnauthorized
		page.Error = msgLoginFailed
		switch {
		case errors.Is(err, auth.ErrLimited):
			status, page.Error = http.StatusTooManyRequests, msgLoginLimited
			s.deps.MailLog.Log(maillog.AuthFailed, "client", ip.String(), "user", addr, "proto", "HTTP", "reason", "limited")
		case errors.Is(err, auth.ErrFailed):
			s.deps.MailLog.Log(maillog.AuthFailed, "client", ip.String(), "user", addr, "proto", "HTTP")
		default:
			s.deps.Log.Error("webmail: authenticate", "err", err)
			status, page.Error = http.StatusServiceUnavailable, msgLoginBusy
		}
		s.render(w, status, "login", page)
		return
	}
	sess, err := s.sessions.create(r.Context(), acct.ID, acct.PasswordHash)
	if err != nil {
		if !errors.Is(err, errTooManySessions) {
			s.deps.Log.Error("webmail: starting a session", "err", err)
		}
		page.Error = msgLoginBusy
		s.render(w, http.StatusServiceUnavailable, "login", page)
		return
	}
	s.setSessionCookie(w, r, sess.token)
	http.Redirect(w, r, "/mail", http.StatusSeeOther)
}

// setSessionCookie gives the browser the cookie of a new session.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, u *user) {
	if err := s.sessions.delete(r.Context(), u.sess.key); err != nil {
		s.deps.Log.Error("webmail: ending a session", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// clientIP is the address of the client: the connection's peer, or,
// when the peer is one of Config.TrustedProxies, the address that proxy
// (and any trusted proxy before it) says it forwarded for. X-Forwarded-For
// is read from the right: the last address not of a trusted proxy is the
// client, since each proxy appends its peer and a client can write
// anything before that. From untrusted peers the header is ignored: it
// would let a client pick the address the login limiter counts.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ip := peerIP(r.RemoteAddr)
	if !s.trustedProxy(ip) {
		return ip
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := strings.Split(hops[i], ",")
		for j := len(list) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(list[j]))
			if err != nil {
				// Garbage from a proxy: the last sound hop is all
				// that can be trusted.
				return ip
			}
			ip = hop.Unmap()
			if !s.trustedProxy(ip) {
				return ip
			}
		}
	}
	return ip
}

// trustedProxy reports whether ip is in Config.TrustedProxies.
func (s *Server) trustedProxy(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerIP parses the address of a request's peer (http.Request.RemoteAddr).
func peerIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return ip.Unmap()
}
