package imapd

import (
	"context"
	"strings"

	"pail/internal/imapengine"
	"pail/internal/imapwire"
	"pail/internal/store"
)

// Append answers APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315). The
// engine refuses literals over the APPEND limit before they are sent, and
// the message was spooled (MessageSink) while the command was read. It is
// durable before the reply. A missing mailbox is NO [TRYCREATE] (the store
// would otherwise fall back to INBOX).
func (sess *session) Append(ctx context.Context, a *imapwire.AppendArgs) (*imapwire.Code, error) {
	spools := make([]*store.Spool, 0, len(a.Messages))
	for _, m := range a.Messages {
		if sp, ok := m.Body.(*store.Spool); ok {
			spools = append(spools, sp)
		}
	}
	discard := func() {
		for _, sp := range spools {
			sp.Discard()
		}
	}
	if len(a.Messages) != 1 || len(spools) != 1 {
		// MULTIAPPEND and CATENATE are not advertised.
		discard()
		return nil, imapengine.Bad("CLIENTBUG", "One message literal per APPEND")
	}
	mb, err := sess.mailboxByName(ctx, a.Mailbox)
	if err != nil {
		discard()
		return nil, err
	}
	m, sp := a.Messages[0], spools[0]
	var flags []string
	for _, f := range m.Flags {
		if !strings.EqualFold(f, `\Recent`) {
			flags = append(flags, f)
		}
	}
	d := store.Delivery{AccountID: sess.acct.ID, Mailbox: mb.Name, Flags: flags}
	if m.HasDate {
		d.Date = m.Date
	}
	if err := sess.fits(ctx, sp.Size()); err != nil {
		discard()
		return nil, err
	}
	ds, err := sess.srv.deps.Store.Deliver(ctx, sp, []store.Delivery{d})
	if err != nil {
		return nil, sess.storeErr(err)
	}
	return imapwire.CodeAppendUID(ds[0].UIDValidity, imapwire.SetOf([]uint32{ds[0].UID})), nil
}
