package imapengine

import (
	"context"

	"pail/internal/imapwire"
)

// SortSession is an optional interface of a Session: SORT and THREAD
// (RFC 5256), with ESORT's RETURN options (RFC 5267 §3). Without it SORT
// and THREAD are unknown commands.
type SortSession interface {
	// Sort answers SORT and UID SORT: "* SORT", or "* ESEARCH" when the
	// command has RETURN.
	Sort(ctx context.Context, uid bool, a *imapwire.SortArgs) error
	// Thread answers THREAD and UID THREAD with "* THREAD".
	Thread(ctx context.Context, uid bool, a *imapwire.ThreadArgs) error
}

// sortThread runs SORT and THREAD through the Session's SortSession.
func (c *Conn) sortThread(ctx context.Context, cmd *imapwire.Command) error {
	ss, ok := c.sess.(SortSession)
	if !ok {
		return Bad("CLIENTBUG", "Unknown command")
	}
	if cmd.Name == "SORT" {
		return ss.Sort(ctx, cmd.UID, cmd.Args.(*imapwire.SortArgs))
	}
	return ss.Thread(ctx, cmd.UID, cmd.Args.(*imapwire.ThreadArgs))
}
