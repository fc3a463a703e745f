package imapengine

import (
	"context"

	"pail/internal/imapwire"
)

// QuotaSession is an optional interface of a Session: QUOTA (RFC 9208).
// Without it GETQUOTA, GETQUOTAROOT and SETQUOTA are unknown commands.
type QuotaSession interface {
	// GetQuota writes the QUOTA response of a root (RFC 9208 §4.2).
	GetQuota(ctx context.Context, root string) error
	// GetQuotaRoot writes the QUOTAROOT response of a mailbox and the
	// QUOTA response of each of its roots (§4.3).
	GetQuotaRoot(ctx context.Context, mailbox string) error
	// SetQuota changes a root's limits (§4.1.3), or refuses.
	SetQuota(ctx context.Context, a *imapwire.SetQuotaArgs) error
}

// quota runs GETQUOTA, GETQUOTAROOT and SETQUOTA through the Session's
// QuotaSession.
func (c *Conn) quota(ctx context.Context, cmd *imapwire.Command) error {
	qs, ok := c.sess.(QuotaSession)
	if !ok {
		return Bad("CLIENTBUG", "Unknown command")
	}
	switch cmd.Name {
	case "GETQUOTA":
		return qs.GetQuota(ctx, cmd.Args.(*imapwire.QuotaRootArgs).Root)
	case "GETQUOTAROOT":
		return qs.GetQuotaRoot(ctx, cmd.Args.(*imapwire.MailboxArgs).Mailbox)
	default:
		return qs.SetQuota(ctx, cmd.Args.(*imapwire.SetQuotaArgs))
	}
}
