package imapd

import (
	"context"
	"errors"
	"strings"

	"pail/internal/imapwire"
	"pail/internal/store"
)

// Append answers APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315),
// MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469). The engine refuses a
// literal over the APPEND limit before it is sent (RFC 7889), and every
// message and TEXT part was received into a store.BodyWriter
// (MessageSink) while the command was read. The messages are stored in
// one transaction (store.DeliverBodies), all or nothing (RFC 3502
// §6.3.11), durable before the reply; their total must fit in the quota
// (RFC 9208 §4.1.1). A missing mailbox is NO [TRYCREATE] (the store would
// otherwise fall back to INBOX).
func (sess *session) Append(ctx context.Context, a *imapwire.AppendArgs) (*imapwire.Code, error) {
	// Every body of the command is this method's to discard; Discard
	// is harmless on a body the store has consumed.
	var bodies []store.BodyWriter
	own := func(w any) {
		if bw, ok := w.(store.BodyWriter); ok {
			bodies = append(bodies, bw)
		}
	}
	for _, m := range a.Messages {
		own(m.Body)
		for _, p := range m.Parts {
			own(p.Text)
		}
	}
	defer func() {
		for _, bw := range bodies {
			bw.Discard()
		}
	}()
	mb, err := sess.mailboxByName(ctx, a.Mailbox)
	if err != nil {
		return nil, err
	}
	bs := make([]store.BodyBatch, 0, len(a.Messages))
	var total int64
	for _, m := range a.Messages {
		var bw store.BodyWriter
		if m.Parts != nil {
			if bw, err = sess.catenate(ctx, m.Parts); err != nil {
				return nil, err
			}
			bodies = append(bodies, bw)
		} else if bw, _ = m.Body.(store.BodyWriter); bw == nil {
			return nil, sess.internalErr("imapd: append", errNotSpooled)
		}
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
		total += bw.Size()
		bs = append(bs, store.BodyBatch{Body: bw, Deliveries: []store.Delivery{d}})
	}
	// RFC 9208 §4.1.1: the messages together must fit; one that does not
	// fails them all (RFC 3502 §6.3.11).
	if err := sess.fits(ctx, total); err != nil {
		return nil, err
	}
	out, err := sess.srv.deps.Store.DeliverBodies(ctx, bs)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	// RFC 3502 §6.3.11, RFC 4315 §3: APPENDUID gives the UIDs of all
	// the messages, in the order they were given.
	uids := make([]uint32, len(out))
	for i, ds := range out {
		uids[i] = ds[0].UID
	}
	return imapwire.CodeAppendUID(out[0][0].UIDValidity, imapwire.SetOf(uids)), nil
}

// errNotSpooled: a message literal did not reach a store.BodyWriter
// (MessageSink).
var errNotSpooled = errors.New("imapd: a message literal was not received into a store body")
