package webmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"pail/internal/delivery"
	"pail/internal/message"
	"pail/internal/store"
)

// composePage is the data of the compose form.
type composePage struct {
	base
	To, Cc, Bcc string
	Subject     string
	Body        string
	InReplyTo   string
	References  string // space-separated message ids
	Reply       int64  // the message answered, marked \Answered once sent
	Src         int64  // the message whose attachments may be kept
	SrcParts    []partView
	Draft       int64 // the draft being edited, removed once replaced
	Error       string
	MaxSize     int64
}

// handleComposeForm shows an empty form, or one filled in for a reply
// (?reply=ID, &all=1 for reply-all), a forward (?forward=ID) or a draft
// (?draft=ID).
func (s *Server) handleComposeForm(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	p := composePage{base: s.base(r, u, "New message", 0), MaxSize: s.cfg.MaxMessageBytes}
	p.To = q.Get("to")
	var srcID string
	mode := ""
	for _, k := range []string{"reply", "forward", "draft"} {
		if v := q.Get(k); v != "" {
			srcID, mode = v, k
			break
		}
	}
	if mode != "" {
		id, err := strconv.ParseInt(srcID, 10, 64)
		if err != nil {
			s.notFound(w, r, u)
			return
		}
		m, err := s.deps.Store.MessageOfAccount(r.Context(), u.acct.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			s.notFound(w, r, u)
			return
		}
		if err != nil {
			s.internal(w, r, u, err)
			return
		}
		msg, err := s.parseMessage(r.Context(), m)
		if err != nil {
			s.internal(w, r, u, err)
			return
		}
		switch mode {
		case "reply":
			to, cc := message.ReplyRecipients(msg.Summary, u.acct.Address, q.Get("all") == "1")
			p.To, p.Cc = joinAddrs(to), joinAddrs(cc)
			p.Subject = message.ReplySubject(msg.Subject)
			p.Body = message.Quote(msg.PlainText(), msg.From, msg.Date)
			p.InReplyTo = msg.MessageID
			p.References = strings.Join(message.ReplyReferences(msg.Summary), " ")
			p.Reply = m.ID
			p.Title = p.Subject
		case "forward":
			p.Subject = message.ForwardSubject(msg.Subject)
			p.Body = message.ForwardText(msg)
			p.Src = m.ID
			p.Title = p.Subject
		case "draft":
			p.To, p.Cc = joinAddrs(msg.To), joinAddrs(msg.Cc)
			if bcc, err := bccOf(r.Context(), s, m); err == nil {
				p.Bcc = bcc
			}
			p.Subject = msg.Subject
			p.Body = msg.Text
			p.InReplyTo = strings.Join(msg.InReplyTo, " ")
			p.References = strings.Join(msg.References, " ")
			p.Src, p.Draft = m.ID, m.ID
			p.Title = "Draft"
		}
		if p.Src != 0 {
			for _, part := range msg.Parts {
				p.SrcParts = append(p.SrcParts, partView{Index: part.Index, Name: displayName(part), Type: part.ContentType, Size: part.Size})
			}
		}
	}
	s.render(w, http.StatusOK, "compose", p)
}

// bccOf reads the Bcc field a draft keeps.
func bccOf(ctx context.Context, s *Server, m store.Message) (string, error) {
	f, c, err := s.openBody(ctx, m)
	if err != nil {
		return "", err
	}
	defer c.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		return "", err
	}
	list, err := msg.Header.AddressList("Bcc")
	if err != nil {
		return "", err
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return strings.Join(out, ", "), nil
}

func joinAddrs(list []message.Address) string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = (&mail.Address{Name: a.Name, Address: a.Address}).String()
	}
	return strings.Join(out, ", ")
}

// formError is a mistake in the compose form, shown above it.
type formError struct{ msg string }

func (e *formError) Error() string { return e.msg }

// handleCompose sends the message (action=send) or saves it to Drafts
// (action=save).
func (s *Server) handleCompose(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	f := r.PostForm
	p := composePage{
		base:       s.base(r, u, "New message", 0),
		To:         f.Get("to"),
		Cc:         f.Get("cc"),
		Bcc:        f.Get("bcc"),
		Subject:    f.Get("subject"),
		Body:       f.Get("body"),
		InReplyTo:  f.Get("inreplyto"),
		References: f.Get("references"),
		MaxSize:    s.cfg.MaxMessageBytes,
	}
	p.Reply, _ = strconv.ParseInt(f.Get("reply"), 10, 64)
	p.Src, _ = strconv.ParseInt(f.Get("src"), 10, 64)
	p.Draft, _ = strconv.ParseInt(f.Get("draft"), 10, 64)
	send := f.Get("action") != "save"

	d, err := s.draftFromForm(r, u, &p, send)
	if err != nil {
		var fe *formError
		if errors.As(err, &fe) {
			p.Error = fe.msg
			s.render(w, http.StatusBadRequest, "compose", p)
			return
		}
		s.internal(w, r, u, err)
		return
	}

	if !send {
		d.IncludeBcc = true
		if err := s.saveCopy(r, u, d, `\Drafts`, "Drafts", []string{`\Seen`, `\Draft`}); err != nil {
			if errors.As(err, new(*formError)) {
				p.Error = err.Error()
				s.render(w, http.StatusRequestEntityTooLarge, "compose", p)
				return
			}
			s.internal(w, r, u, err)
			return
		}
		s.removeDraft(r, u, p.Draft)
		drafts, _ := s.specialMailbox(r, u, `\Drafts`, "Drafts")
		http.Redirect(w, r, "/mail?box="+itoa(drafts.ID)+"&note=saved", http.StatusSeeOther)
		return
	}

	var out bytes.Buffer
	if err := message.Compose(&out, d); err != nil {
		s.internal(w, r, u, err)
		return
	}
	if int64(out.Len()) > s.cfg.MaxMessageBytes {
		p.Error = "The message is larger than the size limit (" + message.FormatSize(s.cfg.MaxMessageBytes) + ")."
		s.render(w, http.StatusRequestEntityTooLarge, "compose", p)
		return
	}
	var rcpts []string
	for _, list := range [][]mail.Address{d.To, d.Cc, d.Bcc} {
		for _, a := range list {
			if !slices.Contains(rcpts, a.Address) {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	tr := delivery.Trace{Helo: "webmail", ClientIP: s.clientIP(r), Proto: "HTTP"}
	if r.TLS != nil {
		tr.Proto = "HTTPS"
	}
	id, err := s.deps.Submit.Submit(ctx, u.acct, u.acct.Address, rcpts, bytes.NewReader(out.Bytes()), tr)
	if err != nil {
		var re *delivery.RecipientError
		switch {
		case errors.As(err, &re):
			p.Error = "Cannot send to " + re.Rcpt + ": no such recipient."
		case errors.Is(err, delivery.ErrSenderNotOwned):
			p.Error = "You may not send as this address."
		default:
			s.deps.Log.Error("webmail: submit", "user", u.acct.Address, "err", err)
			p.Error = "The message could not be sent. Please try again later."
		}
		s.render(w, http.StatusBadRequest, "compose", p)
		return
	}
	s.deps.Log.Info("webmail: sent", "id", id, "user", u.acct.Address, "rcpts", len(rcpts))
	// The sender's copy keeps the Bcc recipients (RFC 5322 §3.6.3).
	d.IncludeBcc = true
	if err := s.saveCopy(r, u, d, `\Sent`, "Sent", []string{`\Seen`}); err != nil {
		s.deps.Log.Error("webmail: save to Sent", "id", id, "err", err)
	}
	if p.Reply != 0 {
		if m, err := s.deps.Store.MessageOfAccount(ctx, u.acct.ID, p.Reply); err == nil {
			s.deps.Store.SetFlags(ctx, m.MailboxID, []uint32{m.UID}, store.FlagsAdd, []string{`\Answered`}, 0)
		}
	}
	s.removeDraft(r, u, p.Draft)
	http.Redirect(w, r, "/mail?note=sent", http.StatusSeeOther)
}

// draftFromForm builds the message from the form: addresses, text, the
// uploaded files and the kept attachments of the source message.
func (s *Server) draftFromForm(r *http.Request, u *user, p *composePage, send bool) (*message.Draft, error) {
	d := &message.Draft{
		From:      mail.Address{Address: u.acct.Address},
		Subject:   strings.TrimSpace(p.Subject),
		Text:      p.Body,
		Date:      s.deps.Now(),
		MessageID: message.NewMessageID(s.cfg.Hostname),
		InReplyTo: firstID(p.InReplyTo),
	}
	for _, id := range strings.Fields(p.References) {
		if validMsgID(id) {
			d.References = append(d.References, id)
		}
	}
	var err error
	for _, fld := range []struct {
		name, value string
		dst         *[]mail.Address
	}{{"To", p.To, &d.To}, {"Cc", p.Cc, &d.Cc}, {"Bcc", p.Bcc, &d.Bcc}} {
		if *fld.dst, err = parseAddresses(fld.value); err != nil {
			return nil, &formError{fld.name + ": " + err.Error()}
		}
	}
	if send && len(d.To)+len(d.Cc)+len(d.Bcc) == 0 {
		return nil, &formError{"Please give at least one recipient."}
	}
	var total int64
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["attach"] {
			if fh.Size == 0 && fh.Filename == "" {
				continue
			}
			total += fh.Size
			if total > s.cfg.MaxMessageBytes {
				return nil, &formError{"The attachments are larger than the size limit (" + message.FormatSize(s.cfg.MaxMessageBytes) + ")."}
			}
			file, err := fh.Open()
			if err != nil {
				return nil, err
			}
			data, err := io.ReadAll(io.LimitReader(file, s.cfg.MaxMessageBytes+1))
			file.Close()
			if err != nil {
				return nil, err
			}
			d.Attachments = append(d.Attachments, message.Attachment{Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Data: data})
		}
	}
	if p.Src != 0 {
		keep := map[int]bool{}
		for _, v := range r.PostForm["keep"] {
			if n, err := strconv.Atoi(v); err == nil {
				keep[n] = true
			}
		}
		m, err := s.deps.Store.MessageOfAccount(r.Context(), u.acct.ID, p.Src)
		if err != nil {
			return nil, &formError{"The original message is gone; its attachments cannot be kept."}
		}
		msg, err := s.parseMessage(r.Context(), m)
		if err != nil {
			return nil, err
		}
		for _, part := range msg.Parts {
			if !keep[part.Index] {
				continue
			}
			total += part.Size
			if total > s.cfg.MaxMessageBytes {
				return nil, &formError{"The attachments are larger than the size limit (" + message.FormatSize(s.cfg.MaxMessageBytes) + ")."}
			}
			f, c, err := s.openBody(r.Context(), m)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			_, err = message.Extract(f, part.Index, &buf)
			c.Close()
			if err != nil {
				return nil, err
			}
			d.Attachments = append(d.Attachments, message.Attachment{Name: displayName(part), ContentType: part.ContentType, Data: buf.Bytes()})
			p.SrcParts = append(p.SrcParts, partView{Index: part.Index, Name: displayName(part), Type: part.ContentType, Size: part.Size})
		}
	}
	return d, nil
}

// parseAddresses reads a comma-separated address list as people type it.
func parseAddresses(s string) ([]mail.Address, error) {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), ",;"))
	if s == "" {
		return nil, nil
	}
	list, err := mail.ParseAddressList(strings.ReplaceAll(s, ";", ","))
	if err != nil {
		return nil, fmt.Errorf("%q is not a list of mail addresses", s)
	}
	out := make([]mail.Address, len(list))
	for i, a := range list {
		out[i] = *a
	}
	return out, nil
}

func firstID(s string) string {
	for _, id := range strings.Fields(s) {
		if validMsgID(id) {
			return id
		}
	}
	return ""
}

// validMsgID accepts an id without brackets that is safe to write into a
// header field.
func validMsgID(id string) bool {
	if id == "" || len(id) > 250 || !strings.Contains(id, "@") {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// saveCopy stores the message in one of the user's special folders.
func (s *Server) saveCopy(r *http.Request, u *user, d *message.Draft, use, fallback string, flags []string) error {
	mb, err := s.specialMailbox(r, u, use, fallback)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := message.Compose(&b, d); err != nil {
		return err
	}
	if int64(b.Len()) > s.cfg.MaxMessageBytes {
		return &formError{"The message is larger than the size limit (" + message.FormatSize(s.cfg.MaxMessageBytes) + ")."}
	}
	sp, err := s.deps.Store.NewBody()
	if err != nil {
		return err
	}
	if _, err := sp.Write(b.Bytes()); err != nil {
		sp.Discard()
		return err
	}
	_, err = s.deps.Store.DeliverBody(r.Context(), sp, []store.Delivery{{AccountID: u.acct.ID, Mailbox: mb.Name, Flags: flags}})
	return err
}

// removeDraft deletes the draft a saved or sent message replaces.
func (s *Server) removeDraft(r *http.Request, u *user, id int64) {
	if id == 0 {
		return
	}
	m, err := s.deps.Store.MessageOfAccount(r.Context(), u.acct.ID, id)
	if err != nil {
		return
	}
	mb, err := s.ownMailbox(r, u, m.MailboxID)
	if err != nil || mb.SpecialUse != `\Drafts` {
		return
	}
	if err := s.deps.Store.Expunge(r.Context(), mb.ID, []int64{m.ID}); err != nil {
		s.deps.Log.Warn("webmail: remove draft", "id", id, "err", err)
	}
}
