package imapd

import (
	"context"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// quotaRoot is the one quota root of every account, holding all its
// mailboxes (RFC 9208 §3.2: the root names are the server's choice).
const quotaRoot = ""

// kibibyte is the unit of the STORAGE resource (RFC 9208 §5.1).
const kibibyte = 1024

var (
	_ imapengine.QuotaSession  = (*session)(nil)
	_ imapengine.AppendChecker = (*session)(nil)

	// errOverQuota refuses APPEND and COPY past the quota (RFC 9208
	// §4.1.1, §4.1.2: NO [OVERQUOTA]).
	errOverQuota = imapengine.No("OVERQUOTA", "Over quota: the message does not fit in the account's storage quota")
	// errNoRoot answers a root other than the account's, or a root when
	// the account has no quota.
	errNoRoot = imapengine.No("NONEXISTENT", "No such quota root")
)

// writeQuota writes the QUOTA response of the account's root: STORAGE
// in KiB, usage rounded up (RFC 9208 §5.1).
func (sess *session) writeQuota(q store.Quota) {
	sess.conn.Writer().Quota(quotaRoot, []imapwire.QuotaUsage{{
		Name: "STORAGE", Usage: uint64((q.Used + kibibyte - 1) / kibibyte), Limit: uint64(q.Limit / kibibyte),
	}})
}

// GetQuota answers GETQUOTA (RFC 9208 §4.2): the root "" exists while the
// account has a quota.
func (sess *session) GetQuota(ctx context.Context, root string) error {
	q, err := sess.srv.deps.Store.Quota(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	if root != quotaRoot || q.Limit == 0 {
		return errNoRoot
	}
	sess.writeQuota(q)
	return nil
}

// GetQuotaRoot answers GETQUOTAROOT (RFC 9208 §4.3): every mailbox is in
// the root "", which is listed with its QUOTA while the account has a
// quota (without one, no root: §4.3 lets a mailbox have none).
func (sess *session) GetQuotaRoot(ctx context.Context, mailbox string) error {
	mb, err := sess.mailboxByName(ctx, mailbox)
	if err != nil {
		return err
	}
	q, err := sess.srv.deps.Store.Quota(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	var roots []string
	if q.Limit > 0 {
		roots = []string{quotaRoot}
	}
	sess.conn.Writer().QuotaRoot(mb.Name, roots)
	if q.Limit > 0 {
		sess.writeQuota(q)
	}
	return nil
}

// SetQuota refuses SETQUOTA (RFC 9208 §4.1.3: the server may refuse):
// quotas are set by the administrator (pail user quota).
func (sess *session) SetQuota(ctx context.Context, a *imapwire.SetQuotaArgs) error {
	return imapengine.No("NOPERM", "Quotas are set by the administrator")
}

// CheckAppend refuses an APPEND message literal before the client sends
// it when the command's messages so far with it do not fit in the quota
// (RFC 9208 §4.1.1); Append checks the total again once all are read.
func (sess *session) CheckAppend(ctx context.Context, total int64) error {
	return sess.fits(ctx, total)
}

// fits reports whether size more octets fit in the account's quota.
func (sess *session) fits(ctx context.Context, size int64) error {
	room, limited, err := sess.srv.deps.Store.Room(ctx, sess.acct.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	if limited && size > room {
		return errOverQuota
	}
	return nil
}

// fitsCopy reports whether copies of the messages fit in the quota; their
// sizes are read only when the account has one.
func (sess *session) fitsCopy(ctx context.Context, mailboxID int64, uids []uint32) error {
	room, limited, err := sess.srv.deps.Store.Room(ctx, sess.acct.ID)
	if err != nil || !limited {
		return sess.storeErr(err)
	}
	msgs, err := sess.srv.deps.Store.MessagesByUID(ctx, mailboxID, uids)
	if err != nil {
		return sess.storeErr(err)
	}
	var size int64
	for _, m := range msgs {
		size += m.Size
	}
	if size > room {
		return errOverQuota
	}
	return nil
}
