package imapd

import (
	"context"

	"pail/internal/imapwire"
	"pail/internal/store"
)

// Copy answers COPY and UID COPY (RFC 9051 §6.4.7) with COPYUID (RFC
// 4315), and with move MOVE and UID MOVE (RFC 6851): one store
// transaction, then COPYUID in an untagged OK and the EXPUNGE responses
// (§4.3). The copies are durable before the reply.
func (sess *session) Copy(ctx context.Context, uid, move bool, a *imapwire.CopyArgs) (*imapwire.Code, error) {
	v := sess.sel
	if move && v.readOnly {
		return nil, errReadOnly
	}
	mb, err := sess.mailboxByName(ctx, a.Mailbox)
	if err != nil {
		return nil, err
	}
	uids := v.resolve(a.Set, uid)
	if len(uids) == 0 {
		return nil, nil
	}
	st := sess.srv.deps.Store
	if !move {
		// RFC 9208 §4.1.2: a COPY past the quota is NO [OVERQUOTA]
		// (a MOVE within the account uses no more).
		if err := sess.fitsCopy(ctx, v.mb.ID, uids); err != nil {
			return nil, err
		}
	}
	var res store.CopyResult
	if move {
		res, err = st.Move(ctx, v.mb.ID, uids, mb.ID)
	} else {
		res, err = st.Copy(ctx, v.mb.ID, uids, mb.ID)
	}
	if err != nil {
		return nil, sess.storeErr(err)
	}
	if l := sess.srv.deps.Learner; l != nil && len(res.DestUIDs) > 0 {
		l.Filed(v.mb, mb, res.DestUIDs)
	}
	code := copyUID(res)
	if !move {
		return code, nil
	}
	if code != nil {
		sess.conn.Writer().Status("", imapwire.OK, code, "Moved")
	}
	sess.reportExpunged(res.SrcUIDs)
	return nil, nil
}

// copyUID is the COPYUID response code (RFC 4315 §3), nil for nothing
// copied.
func copyUID(res store.CopyResult) *imapwire.Code {
	if len(res.SrcUIDs) == 0 {
		return nil
	}
	// The sets keep the order of the pairs: source UIDs ascend, and the
	// store gives destination UIDs in the same order.
	return imapwire.CodeCopyUID(res.UIDValidity, imapwire.SetOf(append([]uint32(nil), res.SrcUIDs...)), imapwire.SetOf(append([]uint32(nil), res.DestUIDs...)))
}
