package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"pail/internal/store"
)

// Store answers STORE and UID STORE (RFC 9051 §6.4.6): the change is
// durable before the reply, and unless .SILENT the new flags are returned.
// \Recent cannot be stored (RFC 3501 §2.3.2: only the server sets it).
func (sess *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	v := sess.sel
	if v.readOnly {
		return errReadOnly
	}
	uids := v.resolve(numSet)
	if len(uids) == 0 {
		return nil
	}
	var fs []string
	for _, f := range flags.Flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		fs = append(fs, string(f))
	}
	var op store.FlagOp
	switch flags.Op {
	case imap.StoreFlagsAdd:
		op = store.FlagsAdd
	case imap.StoreFlagsDel:
		op = store.FlagsRemove
	default:
		op = store.FlagsReplace
	}
	var since uint64
	if options != nil {
		since = options.UnchangedSince
	}
	states, _, err := sess.srv.deps.Store.SetFlags(sess.srv.ctx, v.mb.ID, uids, op, fs, since)
	if err != nil {
		return sess.storeErr(err)
	}
	for _, st := range states {
		v.flags[st.UID] = st.Flags
		if flags.Silent {
			continue
		}
		seq := v.seqOf(st.UID)
		if seq == 0 {
			continue
		}
		rw := w.CreateMessage(seq)
		rw.WriteUID(imap.UID(st.UID))
		rw.WriteFlags(sess.flagList(st.UID, st.Flags))
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}
