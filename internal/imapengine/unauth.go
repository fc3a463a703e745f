package imapengine

import (
	"context"
	"runtime/debug"
	"strings"

	"pail/internal/imapwire"
)

// serverID is what ID tells the client about the server (RFC 2971 §3.3):
// its name and, when the binary was built from a module version, that
// version; nothing about the host (§5: disclose little).
func serverID() []imapwire.IDParam {
	p := []imapwire.IDParam{{Field: "name", Value: "pail"}}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		p = append(p, imapwire.IDParam{Field: "version", Value: bi.Main.Version})
	}
	return p
}

// id answers ID (RFC 2971 §3.1) in any state: the client's parameters
// (read within §3.3's bounds by imapwire) are kept for ClientID and the
// log, the server's own are the answer. A later ID replaces the first.
func (c *Conn) id(a *imapwire.IDArgs) {
	c.clientID = c.clientID[:0]
	for _, p := range a.Params {
		if p.Nil {
			continue // §3.3: NIL is no value
		}
		// §3.3: fields are not case-sensitive.
		c.clientID = append(c.clientID, imapwire.IDParam{Field: strings.ToLower(p.Field), Value: p.Value})
	}
	if len(c.clientID) > 0 {
		c.srv.cfg.Log.Info("imap: client id", "client", c.remote.String(), "name", c.ClientIDField("name"), "version", c.ClientIDField("version"))
	}
	c.output()
	c.wr.ID(serverID())
}

// ClientIDField returns the value the client gave a field of ID (RFC
// 2971 §3.3, "name", "version", ...; lower case), or "".
func (c *Conn) ClientIDField(field string) string {
	for _, p := range c.clientID {
		if p.Field == field {
			return p.Value
		}
	}
	return ""
}

// unauthenticate runs UNAUTHENTICATE (RFC 8437 §3): the selected mailbox
// is closed without an expunge, the session ends, and the connection is
// back in the not-authenticated state with TLS kept and what ENABLE
// turned on turned off; the client may log in again.
func (c *Conn) unauthenticate(ctx context.Context) error {
	if c.state == selected {
		if err := c.sess.Unselect(ctx, false); err != nil {
			return err
		}
	}
	if c.idleStop != nil { // NOTIFY's Watch (RFC 5465 ends with the session)
		c.idleStop()
		c.idleStop = nil
	}
	c.sess.Logout()
	c.sess, c.user, c.state, c.readOnly = nil, "", notAuthenticated, false
	c.condStore, c.qresync = false, false // RFC 8437 §3: what ENABLE turned on is off
	c.timeout = preAuthTimeout
	c.rd.SetLimits(preLoginLimits)
	if c.rev2 {
		c.rev2 = false
		c.rd.SetUTF8(false)
		c.wr.SetUTF8(false)
	}
	return nil
}
