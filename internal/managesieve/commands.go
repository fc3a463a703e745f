package managesieve

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"pail/internal/auth"
	"pail/internal/maillog"
	"pail/internal/sieve"
	"pail/internal/store"
)

// exec runs one command in the session's state.
func (s *session) exec(name string, args []string) error {
	want := func(min, max int) error {
		if len(args) < min || len(args) > max {
			return no("", "Wrong number of arguments to %s", name)
		}
		return nil
	}
	switch name {
	case "CAPABILITY":
		if err := want(0, 0); err != nil {
			return err
		}
		s.capabilities()
		return ok("")
	case "LOGOUT":
		s.send(&response{kind: "OK", text: "Bye"})
		return errHangUp
	case "NOOP":
		if err := want(0, 1); err != nil {
			return err
		}
		if len(args) == 1 {
			// RFC 5804 §2.15: the tag comes back in a TAG code.
			return &response{kind: "OK", code: "TAG " + quote(args[0]), text: "Done"}
		}
		return ok("Done")
	case "STARTTLS":
		return s.starttls()
	case "AUTHENTICATE":
		if err := want(1, 2); err != nil {
			return err
		}
		return s.authenticate(args)
	}
	if s.acct == nil {
		return no("", "Log in first")
	}
	ctx, id := s.srv.ctx, s.acct.ID
	switch name {
	case "UNAUTHENTICATE":
		// RFC 5804 §2.14.
		s.acct = nil
		return ok("")
	case "HAVESPACE":
		if err := want(2, 2); err != nil {
			return err
		}
		size, err := strconv.Atoi(args[1])
		if err != nil || size < 0 {
			return no("", "Bad size")
		}
		return s.storeErr(s.srv.deps.Store.CheckSieveQuota(ctx, id, args[0], size, s.srv.cfg.Limits), "")
	case "PUTSCRIPT":
		if err := want(2, 2); err != nil {
			return err
		}
		if err := s.compile(args[1]); err != nil {
			return err
		}
		return s.storeErr(s.srv.deps.Store.PutSieveScript(ctx, id, args[0], []byte(args[1]), s.srv.cfg.Limits), "")
	case "CHECKSCRIPT":
		if err := want(1, 1); err != nil {
			return err
		}
		if err := s.compile(args[0]); err != nil {
			return err
		}
		return ok("")
	case "LISTSCRIPTS":
		if err := want(0, 0); err != nil {
			return err
		}
		list, err := s.srv.deps.Store.SieveScripts(ctx, id)
		if err != nil {
			return err
		}
		for _, sc := range list {
			s.w.WriteString(quote(sc.Name))
			if sc.Active {
				s.w.WriteString(" ACTIVE")
			}
			s.w.WriteString("\r\n")
		}
		return ok("")
	case "SETACTIVE":
		if err := want(1, 1); err != nil {
			return err
		}
		return s.storeErr(s.srv.deps.Store.SetActiveSieveScript(ctx, id, args[0]), "")
	case "GETSCRIPT":
		if err := want(1, 1); err != nil {
			return err
		}
		sc, err := s.srv.deps.Store.SieveScript(ctx, id, args[0])
		if err != nil {
			return s.storeErr(err, "")
		}
		fmt.Fprintf(s.w, "{%d}\r\n", len(sc.Text))
		s.w.Write(sc.Text)
		s.w.WriteString("\r\n")
		return ok("")
	case "DELETESCRIPT":
		if err := want(1, 1); err != nil {
			return err
		}
		return s.storeErr(s.srv.deps.Store.DeleteSieveScript(ctx, id, args[0]), "")
	case "RENAMESCRIPT":
		if err := want(2, 2); err != nil {
			return err
		}
		return s.storeErr(s.srv.deps.Store.RenameSieveScript(ctx, id, args[0], args[1]), "")
	}
	return no("", "Unknown command %s", name)
}

func ok(text string) *response { return &response{kind: "OK", text: text} }

// compile checks a script as PUTSCRIPT and CHECKSCRIPT must (RFC 5804
// §2.6, §2.12): an error is NO with its line and column.
func (s *session) compile(text string) error {
	if lim := s.srv.cfg.Limits.MaxBytes; lim > 0 && len(text) > lim {
		return no("QUOTA/MAXSIZE", "The script is %d octets, more than %d", len(text), lim)
	}
	if _, err := sieve.Compile([]byte(text), s.srv.cfg.Options); err != nil {
		return no("", "%s", strings.TrimPrefix(err.Error(), "sieve: "))
	}
	return nil
}

// storeErr turns a store error into its response (RFC 5804 §1.3 codes);
// nil is OK.
func (s *session) storeErr(err error, text string) error {
	switch {
	case err == nil:
		return ok(text)
	case errors.Is(err, store.ErrSieveQuota):
		if strings.Contains(err.Error(), "scripts already") {
			return no("QUOTA/MAXSCRIPTS", "Too many scripts")
		}
		return no("QUOTA/MAXSIZE", "The script is too large")
	case errors.Is(err, store.ErrNotFound):
		return no("NONEXISTENT", "There is no such script")
	case errors.Is(err, store.ErrSieveActive):
		return no("ACTIVE", "The script is active")
	case errors.Is(err, store.ErrExists):
		return no("ALREADYEXISTS", "A script of that name exists")
	case errors.Is(err, store.ErrBadName):
		return no("", "Bad script name")
	}
	return err
}

// plaintextAllowed says whether a password may be sent: over TLS, or
// from loopback (as POP3, IMAP and submission allow).
func (s *session) plaintextAllowed() bool { return s.tls || s.srv.plaintextOK(s.ip) }

// capabilities writes the capability list (RFC 5804 §1.7).
func (s *session) capabilities() {
	line := func(k, v string) {
		s.w.WriteString(quote(k))
		if v != "" {
			s.w.WriteString(" " + quote(v))
		}
		s.w.WriteString("\r\n")
	}
	line("IMPLEMENTATION", "pail")
	if s.acct == nil {
		sasl := ""
		if s.plaintextAllowed() {
			sasl = "PLAIN"
		}
		s.w.WriteString(quote("SASL") + " " + quote(sasl) + "\r\n")
	}
	line("SIEVE", strings.Join(sieve.Extensions(), " "))
	if s.srv.cfg.TLS != nil && !s.tls {
		line("STARTTLS", "")
	}
	if n := s.srv.cfg.MaxRedirects; n > 0 {
		line("MAXREDIRECTS", strconv.Itoa(n))
	}
	if s.acct != nil {
		line("OWNER", s.acct.Address)
	}
	line("VERSION", "1.0")
}

// starttls runs STARTTLS (RFC 5804 §2.2). Commands pipelined behind it
// were sent in the clear: it is refused when any follow (CVE-2011-0411).
func (s *session) starttls() error {
	if s.srv.cfg.TLS == nil || s.tls {
		return no("", "STARTTLS not available")
	}
	if s.r.Buffered() > 0 {
		return &response{kind: "BYE", text: "STARTTLS must be the last command before the handshake"}
	}
	s.send(ok("Begin TLS negotiation"))
	if err := s.w.Flush(); err != nil {
		return errHangUp
	}
	if err := s.startTLS(); err != nil {
		s.log.Debug("managesieve STARTTLS failed", "err", err)
		return errHangUp
	}
	// §2.2: the capabilities again, then OK.
	s.capabilities()
	return ok("TLS active")
}

// authenticate runs AUTHENTICATE "PLAIN" (RFC 5804 §2.1, RFC 4616), with
// the initial response as the second argument (SASL-IR) or after an
// empty challenge.
func (s *session) authenticate(args []string) error {
	if s.acct != nil {
		return no("", "Already logged in")
	}
	if !strings.EqualFold(args[0], "PLAIN") {
		return no("", "Unsupported mechanism")
	}
	if !s.plaintextAllowed() {
		return no("ENCRYPT-NEEDED", "Use STARTTLS first")
	}
	var resp string
	if len(args) == 2 {
		resp = args[1]
	} else {
		// §2.1: the challenge is a string; PLAIN's is empty.
		s.w.WriteString(`""` + "\r\n")
		if err := s.w.Flush(); err != nil {
			return errHangUp
		}
		words, err := s.readResponse()
		if err != nil {
			return err
		}
		if len(words) != 1 || words[0] == "*" {
			return no("", "Authentication cancelled")
		}
		resp = words[0]
	}
	data, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return no("", "Invalid base64 data")
	}
	// RFC 4616 §2: [authzid] NUL authcid NUL passwd; no acting as another.
	parts := strings.Split(string(data), "\x00")
	if len(parts) != 3 || parts[1] == "" || parts[0] != "" && parts[0] != parts[1] {
		s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "proto", "MANAGESIEVE", "reason", "bad PLAIN message")
		return no("", "Authentication failed")
	}
	acct, err := s.srv.deps.Auth.Authenticate(s.srv.ctx, s.ip, parts[1], parts[2])
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrLimited):
		s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", parts[1], "proto", "MANAGESIEVE", "reason", "limited")
		return no("TRYLATER", "Too many failed logins, try again later")
	case errors.Is(err, auth.ErrFailed):
		s.srv.deps.MailLog.Log(maillog.AuthFailed, "client", s.ip.String(), "user", parts[1], "proto", "MANAGESIEVE")
		return no("", "Authentication failed")
	default:
		return err
	}
	s.acct = &acct
	s.log = s.log.With("user", acct.Address)
	return ok("Logged in")
}

// readResponse reads a client's SASL response: one string and CRLF.
func (s *session) readResponse() ([]string, error) {
	return s.readCommand()
}
