package imapengine

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"pail/internal/imapwire"
)

// allowed reports whether a command may run in a state (RFC 9051 §6:
// §6.1 any state, §6.2 not authenticated, §6.3 authenticated, §6.4
// selected, which takes the commands of the authenticated state too).
func allowed(name string, st state) bool {
	switch name {
	case "CAPABILITY", "NOOP", "LOGOUT", "ID":
		return true
	case "COMPRESS":
		// RFC 4978 §3: in the authenticated and selected states.
		return st == authenticated || st == selected
	case "STARTTLS", "AUTHENTICATE", "LOGIN":
		return st == notAuthenticated
	case "UNAUTHENTICATE":
		// RFC 8437 §3: in the authenticated and selected states.
		return st == authenticated || st == selected
	case "ENABLE":
		// RFC 5161 §3.1: only in the authenticated state.
		return st == authenticated
	case "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE",
		"LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE",
		"GETQUOTA", "GETQUOTAROOT", "SETQUOTA", // RFC 9208 §4
		"NOTIFY": // RFC 5465 §3
		return st == authenticated || st == selected
	case "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE",
		"SORT", "THREAD", // RFC 5256 §3: in the selected state
		"CANCELUPDATE": // RFC 5267 §5: command-select
		return st == selected
	}
	return false
}

// capabilities lists what the session offers now (RFC 9051 §7.2.2).
func (c *Conn) capabilities() []string {
	caps := []string{"IMAP4rev1", "IMAP4rev2"}
	if c.state == notAuthenticated {
		if c.srv.cfg.TLS != nil && !c.isTLS {
			caps = append(caps, "STARTTLS")
		}
		if c.authAllowed() {
			caps = append(caps, "AUTH=PLAIN")
		} else {
			// RFC 9051 §6.2.3: no cleartext LOGIN on the network.
			caps = append(caps, "LOGINDISABLED")
		}
	}
	caps = append(caps, "SASL-IR", "LITERAL+", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "ID",
		"COMPRESS=DEFLATE") // RFC 4978
	if c.state != notAuthenticated {
		caps = append(caps, "UNAUTHENTICATE") // RFC 8437 §2: once it can be used
	}
	return append(caps, c.srv.cfg.Caps...)
}

// authAllowed: LOGIN and AUTHENTICATE only over TLS or from a trusted
// address (RFC 8314 §3, RFC 9051 §11.1).
func (c *Conn) authAllowed() bool { return c.isTLS || c.srv.cfg.Trusted(c.remote) }

// run runs one command and writes its tagged reply.
func (c *Conn) run(cmd *imapwire.Command) {
	ctx := c.srv.ctx
	c.tag = cmd.Tag
	if !allowed(cmd.Name, c.state) {
		c.reply(cmd, Bad("CLIENTBUG", "Command not allowed in this state"), nil)
		return
	}
	var code *imapwire.Code
	var err error
	text := ""
	allowExpunge := true
	switch cmd.Name {
	case "CAPABILITY":
		c.output()
		c.wr.Capability(c.capabilities())
	case "NOOP", "CHECK":
		// RFC 9051 §6.1.2: NOOP lets the server send updates, which
		// the poll below does; CHECK (RFC 3501 §6.4.1) is a NOOP here.
	case "LOGOUT":
		c.output()
		c.wr.Status("", imapwire.BYE, nil, "Logging out")
		c.state = logout
		text = "Logged out"
	case "ID":
		c.id(cmd.Args.(*imapwire.IDArgs))
	case "UNAUTHENTICATE":
		err = c.unauthenticate(ctx)
	case "STARTTLS":
		if c.startTLS(cmd) {
			return // the OK is sent before the handshake
		}
		err = Bad("", "TLS is not available here")
	case "LOGIN":
		a := cmd.Args.(*imapwire.LoginArgs)
		code, err = c.login(ctx, a.User, a.Password)
		text = "Logged in"
	case "AUTHENTICATE":
		code, err = c.authenticate(ctx, cmd)
		text = "Authenticated"
	case "ENABLE":
		c.enable(cmd.Args.(*imapwire.EnableArgs))
	case "COMPRESS":
		var done bool
		if done, err = c.compress(cmd); done {
			return // the OK is sent before compression starts
		}
	case "IDLE":
		if err = c.startIdle(ctx); err == nil {
			c.idleCmd = cmd
			return // the tagged reply comes after DONE (finishIdle)
		}
	case "NAMESPACE":
		// RFC 2342 §5: one personal namespace, no shared ones.
		c.output()
		c.wr.Namespace("", c.srv.cfg.Delimiter)
	case "SELECT", "EXAMINE":
		code, err = c.selectMailbox(ctx, cmd)
	case "CREATE":
		code, err = c.sess.Create(ctx, cmd.Args.(*imapwire.CreateArgs))
	case "DELETE":
		err = c.sess.Delete(ctx, cmd.Args.(*imapwire.MailboxArgs).Mailbox)
	case "RENAME":
		a := cmd.Args.(*imapwire.RenameArgs)
		err = c.sess.Rename(ctx, a.From, a.To)
	case "SUBSCRIBE", "UNSUBSCRIBE":
		err = c.sess.Subscribe(ctx, cmd.Args.(*imapwire.MailboxArgs).Mailbox, cmd.Name == "SUBSCRIBE")
	case "LIST", "LSUB":
		err = c.list(ctx, cmd.Args.(*imapwire.ListArgs))
	case "STATUS":
		err = c.sess.Status(ctx, cmd.Args.(*imapwire.StatusArgs))
	case "GETQUOTA", "GETQUOTAROOT", "SETQUOTA":
		err = c.quota(ctx, cmd)
	case "NOTIFY":
		err = c.notify(ctx, cmd.Args.(*imapwire.NotifyArgs))
	case "APPEND":
		code, err = c.sess.Append(ctx, cmd.Args.(*imapwire.AppendArgs))
		c.sinks = c.sinks[:0] // the Session's now
	case "CLOSE", "UNSELECT":
		err = c.sess.Unselect(ctx, cmd.Name == "CLOSE")
		c.state = authenticated
		allowExpunge = false // nothing is selected to report on
	case "EXPUNGE":
		var uids *imapwire.SeqSet
		if cmd.UID {
			uids = &cmd.Args.(*imapwire.SeqArgs).Set
		}
		err = c.sess.Expunge(ctx, uids)
	case "SEARCH":
		allowExpunge = cmd.UID // RFC 9051 §7.5.1
		err = c.sess.Search(ctx, cmd.UID, cmd.Args.(*imapwire.SearchArgs))
	case "CANCELUPDATE":
		err = c.cancelUpdate(ctx, cmd.Args.(*imapwire.CancelUpdateArgs))
	case "SORT", "THREAD":
		// They answer with sequence numbers as SEARCH does, so no
		// EXPUNGE after them either (RFC 9051 §7.5.1).
		allowExpunge = cmd.UID
		err = c.sortThread(ctx, cmd)
	case "FETCH":
		allowExpunge = cmd.UID
		a := cmd.Args.(*imapwire.FetchArgs)
		if err = c.checkSeqSet(cmd.UID, a.Set); err == nil {
			err = c.sess.Fetch(ctx, cmd.UID, a)
		}
	case "STORE":
		allowExpunge = cmd.UID
		a := cmd.Args.(*imapwire.StoreArgs)
		if err = c.checkSeqSet(cmd.UID, a.Set); err == nil {
			code, err = c.sess.Store(ctx, cmd.UID, a)
		}
	case "COPY", "MOVE":
		a := cmd.Args.(*imapwire.CopyArgs)
		if err = c.checkSeqSet(cmd.UID, a.Set); err == nil {
			code, err = c.sess.Copy(ctx, cmd.UID, cmd.Name == "MOVE", a)
		}
	}
	if c.state == logout && cmd.Name != "LOGOUT" {
		return // the connection failed during the command (IDLE)
	}
	if c.sess != nil && (c.state == authenticated || c.state == selected) && cmd.Name != "LOGOUT" {
		if perr := c.sess.Poll(ctx, allowExpunge); perr != nil && err == nil {
			err = perr
		}
	}
	if (cmd.Name == "EXPUNGE" || cmd.Name == "MOVE") && c.qresync && err == nil && code == nil {
		// RFC 7162 §3.2.7, §3.2.9: with QRESYNC the client cannot
		// learn the mod-sequence an expunge reached from VANISHED, so
		// the tagged OK says it; the Poll above told of everything up
		// to it. MOVE expunges as EXPUNGE does (RFC 6851 §3.3).
		if rs, ok := c.resyncSession(); ok {
			code = imapwire.CodeNumber("HIGHESTMODSEQ", rs.HighestModSeq())
		}
	}
	c.replyText(cmd, err, code, text)
}

// reply writes a command's tagged reply.
func (c *Conn) reply(cmd *imapwire.Command, err error, code *imapwire.Code) {
	c.replyText(cmd, err, code, "")
}

func (c *Conn) replyText(cmd *imapwire.Command, err error, code *imapwire.Code, text string) {
	c.output()
	if err == nil {
		if text == "" {
			text = cmd.Name + " completed"
		}
		c.wr.Status(cmd.Tag, imapwire.OK, code, text)
		c.countReply(imapwire.OK)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		c.srv.cfg.Log.Error("imap: command failed", "command", cmd.Name, "client", c.remote.String(), "user", c.user, "err", err)
		e = No("SERVERBUG", "Internal server error")
	}
	var cd *imapwire.Code
	if e.Code != "" {
		cd = &imapwire.Code{Name: e.Code, Arg: e.Arg}
	}
	c.wr.Status(cmd.Tag, e.Status, cd, e.Text)
	if !c.countReply(e.Status) {
		c.state = logout
	}
}

// checkSeqSet refuses message sequence numbers past the end of the
// mailbox, "*" in an empty one included (RFC 9051 §9, seq-number: the
// server answers BAD). UID sets may name any UID.
func (c *Conn) checkSeqSet(uid bool, set imapwire.SeqSet) error {
	if uid || set.Saved {
		return nil
	}
	n := c.sess.Exists()
	for _, r := range set.Ranges {
		if r.Start > n || r.Stop > n || (n == 0 && (r.Start == 0 || r.Stop == 0)) {
			return Bad("CLIENTBUG", "Message sequence number past the end of the mailbox ("+strconv.FormatUint(uint64(n), 10)+" messages)")
		}
	}
	return nil
}

// selectMailbox runs SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3). A
// mailbox selected before is closed first, without an expunge, and the
// client told so with OK [CLOSED] (RFC 9051 §7.1, RFC 7162 §3.2.11).
func (c *Conn) selectMailbox(ctx context.Context, cmd *imapwire.Command) (*imapwire.Code, error) {
	a := cmd.Args.(*imapwire.SelectArgs)
	rs, canResync := c.resyncSession()
	if a.QResync != nil {
		// RFC 7162 §3.2.5: BAD unless the client enabled QRESYNC.
		if !c.qresync || !canResync {
			return nil, Bad("CLIENTBUG", "QRESYNC is not enabled (ENABLE QRESYNC first)")
		}
		if err := checkQResync(a.QResync); err != nil {
			return nil, err
		}
	}
	if a.CondStore {
		// RFC 7162 §3.1.8: SELECT (CONDSTORE) enables CONDSTORE.
		if !c.offers("CONDSTORE") {
			return nil, Bad("CLIENTBUG", "CONDSTORE is not supported")
		}
		c.condStore = true
	}
	if c.state == selected {
		if err := c.sess.Unselect(ctx, false); err != nil {
			return nil, err
		}
		c.state = authenticated
		c.output()
		c.wr.Status("", imapwire.OK, imapwire.NewCode("CLOSED"), "Previous mailbox closed")
	}
	readOnly := cmd.Name == "EXAMINE"
	if err := c.sess.Select(ctx, a.Mailbox, readOnly); err != nil {
		return nil, err
	}
	c.state, c.readOnly = selected, readOnly
	if a.QResync != nil {
		if err := rs.Resync(ctx, a.QResync); err != nil {
			// A SELECT that fails leaves no mailbox selected (RFC
			// 9051 §6.3.2).
			c.sess.Unselect(ctx, false)
			c.state = authenticated
			return nil, err
		}
	}
	if readOnly {
		return imapwire.NewCode("READ-ONLY"), nil
	}
	return imapwire.NewCode("READ-WRITE"), nil
}

// list answers LIST "" "" itself (RFC 9051 §6.3.9: the hierarchy
// delimiter and the root name, "" for a reference that is ""), and
// passes every other LIST and LSUB to the Session.
func (c *Conn) list(ctx context.Context, a *imapwire.ListArgs) error {
	if !a.Lsub && len(a.Patterns) == 1 && a.Patterns[0] == "" && len(a.Select) == 0 {
		c.output()
		c.wr.List(imapwire.ListData{Attrs: []string{`\Noselect`}, Delimiter: c.srv.cfg.Delimiter, Name: ""})
		return nil
	}
	return c.sess.List(ctx, a)
}

// enable answers ENABLE (RFC 5161): IMAP4rev2 (RFC 9051 §6.3.1), which
// also makes mailbox names UTF-8 (§5.1), and CONDSTORE and QRESYNC when
// the Session offers them (RFC 7162 §3.1, §3.2.3: QRESYNC enables
// CONDSTORE too). Capabilities pail does not know are ignored, as RFC
// 5161 §3.1 says.
func (c *Conn) enable(a *imapwire.EnableArgs) {
	var on []string
	for _, cp := range a.Caps {
		if cp == "QRESYNC" && !c.qresync {
			if _, ok := c.resyncSession(); ok {
				c.qresync = true
				on = append(on, "QRESYNC")
				if !c.condStore {
					c.condStore = true
					// Said only when asked for, as ENABLED lists what
					// the command named (RFC 5161 §3.2).
					if slices.Contains(a.Caps, "CONDSTORE") {
						on = append(on, "CONDSTORE")
					}
				}
			}
		}
		if cp == "IMAP4REV2" && !c.rev2 {
			c.rev2 = true
			c.rd.SetUTF8(true)
			c.wr.SetUTF8(true)
			on = append(on, "IMAP4rev2")
		}
		if cp == "CONDSTORE" && !c.condStore && c.offers("CONDSTORE") {
			c.condStore = true
			on = append(on, "CONDSTORE")
		}
	}
	c.output()
	c.wr.Enabled(on)
}
