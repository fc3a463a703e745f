package imapd

import (
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"pail/internal/store"
)

// systemFlags are the flags every mailbox defines (RFC 9051 §2.3.2).
var systemFlags = []imap.Flag{imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagSeen, imap.FlagDraft}

// Select opens a mailbox (RFC 9051 §6.3.2; EXAMINE §6.3.3 when read-only).
// SELECT claims the mailbox's \Recent messages for this session; EXAMINE
// shows them without claiming.
func (sess *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	sess.sel = nil
	name, err := cleanName(name)
	if err != nil {
		return nil, errNoMailbox
	}
	st := sess.srv.deps.Store
	ctx := sess.srv.ctx
	mb, err := st.MailboxByName(ctx, sess.acct.ID, name)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	v := &view{mb: mb, readOnly: options.ReadOnly, flags: map[uint32][]string{}, recent: map[uint32]bool{}, pending: map[uint32]bool{}, saved: imap.UIDSet{}}
	if !v.readOnly {
		claimed, err := st.ClaimRecent(ctx, mb.ID)
		if err != nil {
			return nil, sess.storeErr(err)
		}
		for _, u := range claimed {
			v.recent[u] = true
		}
	}
	modseq, states, err := st.MessageStates(ctx, mb.ID)
	if err != nil {
		return nil, sess.storeErr(err)
	}
	v.modseq = modseq
	keywords := map[string]bool{}
	var firstUnseen uint32
	for i, m := range states {
		v.uids = append(v.uids, m.UID)
		v.flags[m.UID] = m.Flags
		if v.readOnly && m.Recent {
			v.recent[m.UID] = true
		}
		if firstUnseen == 0 && !slices.Contains(m.Flags, string(imap.FlagSeen)) {
			firstUnseen = uint32(i + 1)
		}
		for _, f := range m.Flags {
			if !strings.HasPrefix(f, `\`) {
				keywords[f] = true
			}
		}
	}
	for u := range v.recent {
		if _, ok := v.flags[u]; !ok {
			delete(v.recent, u)
		}
	}
	flags := slices.Clone(systemFlags)
	for _, k := range slices.Sorted(maps.Keys(keywords)) {
		flags = append(flags, imap.Flag(k))
	}
	perm := []imap.Flag{}
	if !v.readOnly {
		// RFC 9051 §7.1: \* means clients may create keywords.
		perm = append(slices.Clone(flags), imap.FlagWildcard)
	}
	uidNext := max(mb.UIDNext, v.maxUID()+1)
	sess.sel = v
	return &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    perm,
		NumMessages:       uint32(len(v.uids)),
		NumRecent:         uint32(len(v.recent)),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(uidNext),
		UIDValidity:       mb.UIDValidity,
	}, nil
}

// Unselect leaves the selected state (RFC 3691 UNSELECT, and CLOSE after
// its expunge).
func (sess *session) Unselect() error {
	sess.sel = nil
	return nil
}

// mailboxByName looks up a destination mailbox of COPY, MOVE or APPEND;
// a missing one is NO [TRYCREATE] (RFC 9051 §6.3.12, §6.4.7).
func (sess *session) mailboxByName(name string) (store.Mailbox, error) {
	name, err := cleanName(name)
	if err != nil {
		return store.Mailbox{}, errTryCreate
	}
	mb, err := sess.srv.deps.Store.MailboxByName(sess.srv.ctx, sess.acct.ID, name)
	if err != nil {
		if e := sess.storeErr(err); e == errNoMailbox {
			return store.Mailbox{}, errTryCreate
		}
		return store.Mailbox{}, sess.storeErr(err)
	}
	return mb, nil
}
