package imapengine

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/emersion/go-sasl"

	"pail/internal/imapwire"
)

// errPrivacy refuses a login without TLS from an untrusted address (RFC
// 9051 §6.2.3, RFC 5530 PRIVACYREQUIRED).
var errPrivacy = No("PRIVACYREQUIRED", "Use STARTTLS or implicit TLS first")

// login checks credentials with the backend and enters the authenticated
// state, raising the input bounds; the tagged OK carries the capabilities
// (RFC 9051 §6.2.3), which change with the state.
func (c *Conn) login(ctx context.Context, user, password string) (*imapwire.Code, error) {
	if !c.authAllowed() {
		return nil, errPrivacy
	}
	sess, err := c.srv.backend.Login(ctx, c, user, password)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			c.srv.cfg.Log.Error("imap: login", "client", c.remote.String(), "err", err)
			err = No("UNAVAILABLE", "Temporary failure, try again")
		}
		return nil, err
	}
	c.sess, c.user, c.state = sess, user, authenticated
	c.timeout = c.srv.cfg.authTimeout
	c.rd.SetLimits(imapwire.Limits{MaxMessage: c.srv.cfg.AppendLimit})
	return imapwire.CodeCapability(c.capabilities()), nil
}

// authenticate runs AUTHENTICATE PLAIN (RFC 9051 §6.2.2, RFC 4616), with
// the initial response on the command line when the client sends one
// (SASL-IR, RFC 4959).
func (c *Conn) authenticate(ctx context.Context, cmd *imapwire.Command) (*imapwire.Code, error) {
	a := cmd.Args.(*imapwire.AuthenticateArgs)
	if a.Mechanism != "PLAIN" {
		return nil, No("CANNOT", "Unsupported authentication mechanism")
	}
	if !c.authAllowed() {
		return nil, errPrivacy
	}
	resp := a.InitialResponse
	if resp == nil {
		c.output()
		c.wr.Continue("")
		if err := c.flush(); err != nil {
			return nil, err
		}
		if err := c.waitInput(); err != nil {
			return nil, err
		}
		line, err := c.rd.ReadLine()
		if err != nil {
			var we *imapwire.Error
			if errors.As(err, &we) {
				return nil, Bad("CLIENTBUG", "Authentication response too long")
			}
			return nil, err
		}
		r, cancel, err := imapwire.DecodeSASL(line)
		switch {
		case cancel:
			return nil, Bad("", "Authentication canceled")
		case err != nil:
			return nil, Bad("CLIENTBUG", "Invalid base64 in the authentication response")
		}
		resp = r
	}
	var code *imapwire.Code
	var loginErr error
	srv := sasl.NewPlainServer(func(identity, user, password string) error {
		if identity != "" && identity != user {
			loginErr = No("AUTHORIZATIONFAILED", "Acting as another user is not allowed")
			return loginErr
		}
		code, loginErr = c.login(ctx, user, password)
		return loginErr
	})
	if _, _, err := srv.Next(resp); err != nil {
		if loginErr != nil {
			return nil, loginErr
		}
		return nil, Bad("CLIENTBUG", "Invalid PLAIN response")
	}
	return code, nil
}

// startTLS performs STARTTLS (RFC 9051 §6.2.1): OK, then the handshake;
// whatever the client sent after the command in cleartext is dropped, so
// that it cannot run inside the TLS session (CVE-2011-0411). It reports
// false when STARTTLS is not offered here.
func (c *Conn) startTLS(cmd *imapwire.Command) bool {
	if c.srv.cfg.TLS == nil || c.isTLS {
		return false
	}
	c.output()
	c.wr.Status(cmd.Tag, imapwire.OK, nil, "Begin TLS negotiation now")
	if c.flush() != nil {
		c.state = logout
		return true
	}
	if c.br != nil {
		c.br.Discard(c.br.Buffered())
	}
	c.pre.start, c.pre.end = 0, 0
	c.releaseInput()
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		c.srv.cfg.Log.Debug("imap: STARTTLS handshake", "client", c.remote.String(), "err", err)
		c.state = logout
		return true
	}
	c.mu.Lock()
	c.conn = tc
	c.mu.Unlock()
	c.isTLS = true
	return true
}
