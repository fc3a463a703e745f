package imapd

import (
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"

	"pail/internal/store"
)

// Append answers APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315). The
// library refuses literals over AppendLimit before reading them. The
// message is durable before the reply. A missing mailbox is NO [TRYCREATE]
// (the store would otherwise fall back to INBOX).
func (sess *session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	mb, err := sess.mailboxByName(mailbox)
	if err != nil {
		return nil, err
	}
	st := sess.srv.deps.Store
	sp, err := st.NewSpool()
	if err != nil {
		return nil, sess.storeErr(err)
	}
	if _, err := io.Copy(sp, io.LimitReader(r, int64(sess.AppendLimit())+1)); err != nil {
		sp.Discard()
		return nil, sess.internalErr("imapd: append", err)
	}
	if sp.Size() > int64(sess.AppendLimit()) {
		sp.Discard()
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too big"}
	}
	var flags []string
	for _, f := range options.Flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			flags = append(flags, string(f))
		}
	}
	ds, err := st.Deliver(sess.srv.ctx, sp, []store.Delivery{{AccountID: sess.acct.ID, Mailbox: mb.Name, Flags: flags, Date: options.Time}})
	if err != nil {
		return nil, sess.storeErr(err)
	}
	return &imap.AppendData{UIDValidity: ds[0].UIDValidity, UID: imap.UID(ds[0].UID)}, nil
}
