package imapengine

import (
	"context"

	"pail/internal/imapwire"
)

// ContextSession is an optional interface of a Session: the updating
// searches of CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4). The Session
// sets them up in Search and Sort (RETURN (UPDATE)) and sends their
// ADDTO and REMOVEFROM in Poll; the engine only passes CANCELUPDATE on.
// Without it CANCELUPDATE is an unknown command.
type ContextSession interface {
	// CancelUpdate ends the updates of the searching commands with the
	// tags given (RFC 5267 §4.3.5).
	CancelUpdate(ctx context.Context, tags []string) error
}

// cancelUpdate runs CANCELUPDATE through the Session's ContextSession.
func (c *Conn) cancelUpdate(ctx context.Context, a *imapwire.CancelUpdateArgs) error {
	cs, ok := c.sess.(ContextSession)
	if !ok {
		return Bad("CLIENTBUG", "Unknown command")
	}
	return cs.CancelUpdate(ctx, a.Tags)
}
