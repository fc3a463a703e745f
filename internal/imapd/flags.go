package imapd

import (
	"context"
	"strings"

	"pail/internal/imapwire"
	"pail/internal/store"
)

// Store answers STORE and UID STORE (RFC 9051 §6.4.6): the change is
// durable before the reply, and unless .SILENT the new flags are returned.
// \Recent cannot be stored (RFC 3501 §2.3.2: only the server sets it).
func (sess *session) Store(ctx context.Context, uid bool, a *imapwire.StoreArgs) error {
	v := sess.sel
	if v.readOnly {
		return errReadOnly
	}
	uids := v.resolve(a.Set, uid)
	if len(uids) == 0 {
		return nil
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
	states, _, err := sess.srv.deps.Store.SetFlags(ctx, v.mb.ID, uids, op, fs, a.UnchangedSince)
	if err != nil {
		return sess.storeErr(err)
	}
	for _, st := range states {
		v.flags[st.UID] = st.Flags
		if a.Silent {
			sess.announce(st.Flags)
			continue
		}
		if seq := v.seqOf(st.UID); seq > 0 {
			sess.writeFlags(seq, st.UID, st.Flags)
		}
	}
	return nil
}
