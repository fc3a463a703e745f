package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"pail/internal/store"
)

// Copy answers COPY and UID COPY (RFC 9051 §6.4.7) with COPYUID (RFC 4315).
// The copies are durable before the reply.
func (sess *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	v := sess.sel
	mb, err := sess.mailboxByName(dest)
	if err != nil {
		return nil, err
	}
	uids := v.resolve(numSet)
	if len(uids) == 0 {
		return nil, nil
	}
	res, err := sess.srv.deps.Store.Copy(sess.srv.ctx, v.mb.ID, uids, mb.ID)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	sess.filed(v.mb, mb, res)
	return copyData(res), nil
}

// Move answers MOVE and UID MOVE (RFC 6851): one store transaction, then
// COPYUID and the EXPUNGE responses.
func (sess *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	v := sess.sel
	if v.readOnly {
		return errReadOnly
	}
	mb, err := sess.mailboxByName(dest)
	if err != nil {
		return err
	}
	uids := v.resolve(numSet)
	if len(uids) == 0 {
		return nil
	}
	res, err := sess.srv.deps.Store.Move(sess.srv.ctx, v.mb.ID, uids, mb.ID)
	if err != nil {
		return sess.storeErr(err)
	}
	sess.filed(v.mb, mb, res)
	if len(res.SrcUIDs) > 0 {
		if err := w.WriteCopyData(copyData(res)); err != nil {
			return err
		}
	}
	return sess.reportExpunged(w, res.SrcUIDs)
}

// filed tells the Learner, if any, where the messages went.
func (sess *session) filed(from, to store.Mailbox, res store.CopyResult) {
	if l := sess.srv.deps.Learner; l != nil && len(res.DestUIDs) > 0 {
		l.Filed(from, to, res.DestUIDs)
	}
}

func copyData(res store.CopyResult) *imap.CopyData {
	if len(res.SrcUIDs) == 0 {
		return nil
	}
	d := &imap.CopyData{UIDValidity: res.UIDValidity}
	for i := range res.SrcUIDs {
		d.SourceUIDs.AddNum(imap.UID(res.SrcUIDs[i]))
		d.DestUIDs.AddNum(imap.UID(res.DestUIDs[i]))
	}
	return d
}

// expungeWriter is what EXPUNGE and MOVE report through.
type expungeWriter interface {
	WriteExpunge(seqNum uint32) error
}

// reportExpunged removes uids from the view, reporting each, highest
// sequence number first.
func (sess *session) reportExpunged(w expungeWriter, uids []uint32) error {
	v := sess.sel
	gone := map[uint32]bool{}
	for _, u := range uids {
		gone[u] = true
	}
	for i := len(v.uids) - 1; i >= 0; i-- {
		uid := v.uids[i]
		if !gone[uid] {
			continue
		}
		if err := w.WriteExpunge(uint32(i + 1)); err != nil {
			return err
		}
		v.uids = append(v.uids[:i], v.uids[i+1:]...)
		delete(v.flags, uid)
		delete(v.recent, uid)
	}
	return nil
}
