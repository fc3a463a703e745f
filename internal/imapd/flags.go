package imapd

import (
	"context"
	"slices"
	"strings"

	"pail/internal/imapwire"
	"pail/internal/store"
)

// Store answers STORE and UID STORE (RFC 9051 §6.4.6): the change is
// durable before the reply, and unless .SILENT the new flags are returned.
// \Recent cannot be stored (RFC 3501 §2.3.2: only the server sets it).
// With UNCHANGEDSINCE (RFC 7162 §3.1.3) a message changed after the given
// mod-sequence is left alone and named in OK [MODIFIED set]; with
// CONDSTORE enabled each changed message's FETCH carries its new MODSEQ,
// .SILENT or not.
func (sess *session) Store(ctx context.Context, uid bool, a *imapwire.StoreArgs) (*imapwire.Code, error) {
	v := sess.sel
	if a.HasUnchangedSince {
		sess.conn.EnableCondStore() // RFC 7162 §3.1: an enabling command
	}
	if v.readOnly {
		return nil, errReadOnly
	}
	uids := v.resolve(a.Set, uid)
	if len(uids) == 0 {
		return nil, nil
	}
	var fs []string
	for _, f := range a.Flags {
		if strings.EqualFold(f, `\Recent`) {
			continue
		}
		fs = append(fs, f)
	}
	op := store.FlagsReplace
	switch a.Op {
	case '+':
		op = store.FlagsAdd
	case '-':
		op = store.FlagsRemove
	}
	var states []store.MessageState
	var failed []uint32
	if a.HasUnchangedSince && a.UnchangedSince == 0 {
		// Every message's mod-sequence is above 0 (RFC 7162 §3.1.3:
		// UNCHANGEDSINCE 0 fails for all); the store reads 0 as "no test".
		failed = uids
	} else {
		res, err := sess.srv.deps.Store.ChangeFlags(ctx, v.mb.ID, uids, op, fs, a.UnchangedSince)
		if err != nil {
			return nil, sess.storeErr(err)
		}
		states, failed = res.States, res.Failed
		// The new flags go into the view below: it need not read them
		// back at the command's end.
		sess.followed(res)
	}
	w := sess.conn.Writer()
	condStore := sess.conn.CondStore()
	// states and failed are both in UID order.
	nf := 0
	for _, st := range states {
		for nf < len(failed) && failed[nf] < st.UID {
			nf++
		}
		if nf < len(failed) && failed[nf] == st.UID {
			continue // untouched: no FETCH (RFC 7162 §3.1.3, example 7)
		}
		changed := !slices.Equal(v.flags[st.UID], st.Flags)
		v.flags[st.UID] = st.Flags
		seq := v.seqOf(st.UID)
		if a.Silent {
			sess.announce(st.Flags)
			if changed && seq > 0 && condStore {
				// RFC 7162 §3.1.3: .SILENT still reports the new
				// MODSEQ of each message changed (example 8).
				w.BeginFetch(seq)
				w.FetchNumber("UID", uint64(st.UID))
				writeModSeq(w, st.ModSeq)
				w.EndFetch()
			}
			continue
		}
		if seq > 0 {
			sess.writeFlags(seq, st.UID, st.Flags, st.ModSeq)
		}
	}
	if !a.HasUnchangedSince || len(failed) == 0 {
		return nil, w.Err()
	}
	// MODIFIED names the messages as the command did: UIDs for UID
	// STORE, sequence numbers otherwise.
	nums := make([]uint32, 0, len(failed))
	for _, u := range failed {
		if uid {
			nums = append(nums, u)
		} else if seq := v.seqOf(u); seq > 0 {
			nums = append(nums, seq)
		}
	}
	return imapwire.CodeModified(imapwire.SetOf(nums)), w.Err()
}
