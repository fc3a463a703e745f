package rspamd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"pail/internal/verify"
)

// Judge is the end-of-DATA judge backed by rspamd (issue 15, item 5): a
// verify.Judge that sends each message to Check with its envelope and
// turns the action rspamd returns into pail's (Result.Verdict):
//
//	reject                      → refused, 554 5.7.1, nothing stored
//	soft reject, greylist       → refused for now, 451 4.7.1
//	add header, rewrite subject → Junk, with X-Spam-Flag: YES
//	no action (or unknown)      → INBOX
//
// Every message it delivers carries rspamd's X-Spam-Status, X-Spam-Score
// and X-Spam-Action (and the fields rspamd's milter_headers asks for);
// fields of those names already in the message are removed, as are the
// fields rspamd asks to remove.
//
// rspamd never refuses mail by failing: when it gives no answer in the
// client's timeout (down, slow, a bad reply) the failure is logged and
// counted (pail_rspamd_checks_total{result="error"}) and the message is
// judged by Fallback (pail's built-in score) instead, or delivered as it
// came without one. Forged X-Spam-* fields are removed either way.
type Judge struct {
	Client *Client
	// Fallback judges the messages rspamd gave no answer for; nil: they
	// are delivered.
	Fallback verify.Judge
	// Log receives a line for each message rspamd gave no answer for.
	Log *slog.Logger
}

var _ verify.Judge = (*Judge)(nil)

// Judge implements verify.Judge. rspamd sees the message as it will be
// stored: pail's Authentication-Results field on top (m.Results, when the
// checks ran; rspamd's protocol has no request header for them, and its
// rules and Bayes read that field), the forged Authentication-Results
// fields the Pipeline removes left out. The call takes at most the
// client's timeout.
func (j *Judge) Judge(ctx context.Context, m *verify.Message) verify.Verdict {
	var header []byte // nil when incomplete: nothing is removed from it
	if m.HeaderComplete {
		header = m.Header
	}
	res, err := j.Client.Check(ctx, j.content(m), envelope(m))
	if err != nil {
		var v verify.Verdict
		if j.Fallback != nil {
			v = j.Fallback.Judge(ctx, m)
		}
		if v.Judge == "" {
			v.Judge = "rspamd"
		}
		if j.Log != nil {
			j.Log.Warn("rspamd gave no answer; message judged without it", "id", m.ID, "client", m.ClientIP, "fallback", v.Judge, "err", err)
		}
		// The zero Result's verdict adds nothing and removes the forged
		// fields.
		_, forged := Result{}.Verdict().Edit(header)
		v.Remove = append(v.Remove, forged...)
		return v
	}
	rv := res.Verdict()
	v := verify.Verdict{Judge: "rspamd", Reason: fmt.Sprintf("rspamd: %s, score %.2f/%.2f", printable(string(res.Action), 40), res.Score, res.RequiredScore)}
	switch rv.Disposition {
	case Refuse:
		v.Action, v.Code, v.Enhanced, v.Reason = verify.Reject, rv.Code, rv.Enhanced, rv.Text
	case Defer:
		v.Action, v.Code, v.Enhanced, v.Reason = verify.TempFail, rv.Code, rv.Enhanced, rv.Text
	case Junk:
		v.Action = verify.Junk
	}
	v.Header, v.Remove = rv.Edit(header)
	return v
}

// envelope is what rspamd's request headers say of m. The client's host
// name goes only when iprev confirmed it.
func envelope(m *verify.Message) Envelope {
	env := Envelope{From: m.MailFrom, Rcpts: m.Rcpts, ClientIP: m.ClientIP, Helo: m.Helo, User: m.User, QueueID: m.ID}
	if r := m.Results; r != nil && r.IPRev.Value == "pass" {
		env.Hostname = strings.TrimSuffix(r.IPRev.Name, ".")
	}
	return env
}

// content is the message as rspamd is to see it: pail's
// Authentication-Results field, then the content without the fields of
// it that claim pail's authserv-id (RFC 8601 §5).
func (j *Judge) content(m *verify.Message) io.Reader {
	if m.Results == nil {
		return io.NewSectionReader(m.Content, 0, m.Size)
	}
	parts := []io.Reader{strings.NewReader(m.Results.Field())}
	pos := int64(0)
	if m.HeaderComplete {
		for _, s := range verify.OwnResults(m.Header, m.Results.AuthServID) {
			parts = append(parts, io.NewSectionReader(m.Content, pos, s.Start-pos))
			pos = s.End
		}
	}
	parts = append(parts, io.NewSectionReader(m.Content, pos, m.Size-pos))
	return io.MultiReader(parts...)
}
