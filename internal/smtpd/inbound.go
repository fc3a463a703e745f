package smtpd

import (
	"strings"

	"pail/internal/dnsbl"
	"pail/internal/smtpserver"
)

// Checks of the MX role on who is sending: DNS blocklists (RFC 5782) and
// greylisting. Both judge the client of an unauthenticated MX session;
// loopback clients are exempt (they are this machine) unless
// Config.CheckLoopback says otherwise, as the rate limits do.
//
// The blocklists are asked once per connection, when the client first
// greets (newSession), in the background, so that the lookup overlaps
// the client's EHLO and MAIL; the answer is awaited at the first RCPT,
// and a listing refuses each recipient with 554 5.7.1 naming the list.
// Refusing at RCPT rather than in the greeting (RFC 5321 §3.1 allows a
// 554 greeting) lets the client log a reply to a transaction it can show
// its user, which clients do better than for a greeting, and lets mail to
// postmaster through (RFC 5321 §4.5.1): a listed sender can still ask why.

// errGreylisted defers a triple seen for the first time (RFC 5321
// §4.2.5: a 4yz reply asks the client to retry later; 4.7.1, delivery
// not authorized for now, RFC 3463 §3.8).
var errGreylisted = &smtpserver.Error{Code: 451, Enhanced: "4.7.1", Message: "Greylisted: first contact from your network for this sender and recipient, please retry later"}

// checked reports whether the session's client is subject to the
// blocklists and greylisting.
func (s *session) checked() bool {
	return s.srv.cfg.Role == RoleMX && s.account == nil && (!s.ip.IsLoopback() || s.srv.cfg.CheckLoopback)
}

// startBlocklist starts the blocklist lookup of the connection's client,
// once per connection (a session made again after STARTTLS does not ask
// again).
func (s *session) startBlocklist() {
	bl := s.srv.deps.Blocklist
	if bl == nil || !s.checked() {
		return
	}
	s.c.dnsblOnce.Do(func() {
		s.c.dnsblDone = make(chan struct{})
		ip, ctx := s.ip, s.srv.ctx
		go func() {
			s.c.dnsbl = bl.Check(ctx, ip)
			close(s.c.dnsblDone)
		}()
	})
}

// blocklisted waits for the connection's blocklist answer (the lookup is
// bounded by its own deadline) and returns it; an empty Result when the
// client is not looked up.
func (s *session) blocklisted() dnsbl.Result {
	if s.c.dnsblDone == nil {
		return dnsbl.Result{}
	}
	select {
	case <-s.c.dnsblDone:
		return s.c.dnsbl
	case <-s.srv.ctx.Done():
		return dnsbl.Result{}
	}
}

// blocklistKnown returns the blocklist answer if it is in, without
// waiting.
func (s *session) blocklistKnown() dnsbl.Result {
	if s.c.dnsblDone == nil {
		return dnsbl.Result{}
	}
	select {
	case <-s.c.dnsblDone:
		return s.c.dnsbl
	default:
		return dnsbl.Result{}
	}
}

// checkInbound applies the blocklists and greylisting to a local
// recipient that the router accepted.
func (s *session) checkInbound(to string) error {
	if !s.checked() {
		return nil
	}
	if res := s.blocklisted(); len(res.Listed) > 0 && !s.srv.cfg.DNSBLScore && !isPostmaster(to) {
		e := listedError(s.ip.String(), res)
		s.logReject(s.from, to, e)
		return s.fail(e)
	}
	if gl := s.srv.deps.Greylist; gl != nil {
		ok, err := gl.Check(s.srv.ctx, s.ip, s.from, to)
		switch {
		case err != nil:
			// Greylisting only delays strangers: without its store it
			// lets mail pass rather than defer everyone.
			s.srv.deps.Log.Error("greylist", "client", s.ip, "err", err)
		case !ok:
			// Not counted against the client (fail): a server that
			// sends to many recipients is deferred once for each.
			s.logReject(s.from, to, errGreylisted)
			return errGreylisted
		}
	}
	return nil
}

// listedError is the reply to a recipient from a listed client: 554 5.7.1
// (RFC 3463 §3.8, delivery not authorized), naming the lists and the first
// reason a list gave.
func listedError(client string, res dnsbl.Result) *smtpserver.Error {
	msg := "Client address " + client + " listed by " + strings.Join(res.Lists(), ", ")
	for _, l := range res.Listed {
		if l.Reason != "" {
			msg += ": " + l.Reason
			break
		}
	}
	return &smtpserver.Error{Code: 554, Enhanced: "5.7.1", Message: msg}
}

// isPostmaster reports whether a (local) recipient is the postmaster,
// whose local part is case-insensitive (RFC 5321 §4.5.1).
func isPostmaster(rcpt string) bool {
	i := strings.LastIndexByte(rcpt, '@')
	return i > 0 && strings.EqualFold(rcpt[:i], "postmaster")
}
