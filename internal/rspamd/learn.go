package rspamd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"pail/internal/metrics"
	"pail/internal/store"
)

// ErrNotLearned is wrapped by Learn's error when rspamd read the message
// but chose not to learn it: already learned as that class (HTTP 208), or
// too short for the classifier (HTTP 204). Retrying does not help.
var ErrNotLearned = errors.New("rspamd: not learned")

// Learn trains rspamd's classifiers on msg as spam or as ham (POST
// /learnspam or /learnham to the controller), reading msg to its end.
func (c *Client) Learn(ctx context.Context, spam bool, msg io.Reader) error {
	target, kind := c.hamURL, "ham"
	if spam {
		target, kind = c.spamURL, "spam"
	}
	if target == "" {
		return ErrNoController
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, msg)
	if err != nil {
		return fmt.Errorf("rspamd: learn %s: %w", kind, err)
	}
	if c.cfg.Password != "" {
		req.Header.Set("Password", c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("rspamd: learn %s: %w", kind, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return fmt.Errorf("rspamd: learn %s: reading the reply: %w", kind, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusNoContent, http.StatusAlreadyReported:
		// rspamd puts its reason in the status line (and, for 208, in
		// the body's "error").
		reason := errorText(body)
		if reason == "" {
			reason = printable(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)), maxErrorText)
		}
		return fmt.Errorf("%w as %s: %s", ErrNotLearned, kind, reason)
	}
	return fmt.Errorf("rspamd: learn %s: HTTP %d: %s", kind, resp.StatusCode, errorText(body))
}

// learnQueueLen bounds the messages waiting to be learned. Learning is
// advice to the filter, not mail: when users file messages faster than
// rspamd learns them (a MOVE of a whole folder into Junk, say) the
// surplus is dropped with a log line rather than held in memory.
const learnQueueLen = 1000

// Messages is the part of the store a Learner reads.
type Messages interface {
	MessagesByUID(ctx context.Context, mailboxID int64, uids []uint32) ([]store.Message, error)
	OpenBody(ctx context.Context, m store.Message) (store.Body, error)
}

var _ Messages = (*store.Store)(nil)

// Learner teaches rspamd from what users do: a message copied or moved
// into a Junk mailbox (RFC 6154 \Junk) is learned as spam, one copied or
// moved out of Junk to any mailbox but Trash (\Trash: a deleted message
// says nothing about spam) as ham. Filed only queues the work; Run does
// it, one message at a time, so an IMAP or web request never waits for
// rspamd.
type Learner struct {
	client *Client
	store  Messages
	log    *slog.Logger
	jobs   chan learnJob

	mu     sync.Mutex
	counts map[string]*metrics.Counter // by kind and result
	reg    *metrics.Registry
}

type learnJob struct {
	mailboxID int64
	uid       uint32
	spam      bool
}

// NewLearner returns a Learner that reads messages from st and teaches
// them to c; log receives a line for every failure (nil: discarded).
func NewLearner(c *Client, st Messages, log *slog.Logger, reg *metrics.Registry) *Learner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Learner{client: c, store: st, log: log, jobs: make(chan learnJob, learnQueueLen), counts: map[string]*metrics.Counter{}, reg: reg}
}

// Learning reports what moving or copying a message from one mailbox to
// another teaches: spam, ham, or nothing (ok false). It is the one place
// that decides.
func Learning(from, to store.Mailbox) (spam, ok bool) {
	fromJunk, toJunk := isJunk(from), isJunk(to)
	switch {
	case toJunk && !fromJunk:
		return true, true
	case fromJunk && !toJunk && !strings.EqualFold(to.SpecialUse, `\Trash`):
		return false, true
	}
	return false, false
}

// isJunk reports whether mb is a Junk mailbox (RFC 6154 §2: \Junk).
func isJunk(mb store.Mailbox) bool { return strings.EqualFold(mb.SpecialUse, `\Junk`) }

// Filed is told that the messages now at uids in mailbox to were copied
// or moved there from mailbox from. When that teaches rspamd something
// (Learning) it queues each message and returns at once; a message that
// finds the queue full is dropped, and the drop logged and counted.
func (l *Learner) Filed(from, to store.Mailbox, uids []uint32) {
	spam, ok := Learning(from, to)
	if !ok || len(uids) == 0 {
		return
	}
	dropped := 0
	for _, uid := range uids {
		select {
		case l.jobs <- learnJob{mailboxID: to.ID, uid: uid, spam: spam}:
		default:
			dropped++
		}
	}
	if dropped > 0 {
		l.count(spam, "dropped").Add(uint64(dropped))
		l.log.Warn("rspamd: learn queue full; messages not learned", "mailbox", to.Name, "spam", spam, "dropped", dropped, "queue", learnQueueLen)
	}
}

// Run learns the queued messages until ctx ends; messages still queued
// then are not learned.
func (l *Learner) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-l.jobs:
			l.learn(ctx, j)
		}
	}
}

// learn teaches rspamd one queued message, if it is still there.
func (l *Learner) learn(ctx context.Context, j learnJob) {
	msgs, err := l.store.MessagesByUID(ctx, j.mailboxID, []uint32{j.uid})
	if err != nil || len(msgs) == 0 {
		if err != nil && ctx.Err() == nil {
			l.log.Warn("rspamd: learn: reading the message", "mailbox_id", j.mailboxID, "uid", j.uid, "err", err)
		}
		return // expunged or moved on meanwhile: nothing to learn
	}
	b, err := l.store.OpenBody(ctx, msgs[0])
	if err != nil {
		return // expunged meanwhile
	}
	defer b.Close()
	err = l.client.Learn(ctx, j.spam, io.NewSectionReader(b, 0, b.Size()))
	switch {
	case err == nil:
		l.count(j.spam, "learned").Inc()
	case errors.Is(err, ErrNotLearned):
		l.count(j.spam, "skipped").Inc()
		l.log.Debug("rspamd: learn", "mailbox_id", j.mailboxID, "uid", j.uid, "err", err)
	case ctx.Err() != nil:
		// Shutting down.
	default:
		l.count(j.spam, "error").Inc()
		l.log.Warn("rspamd: learn", "mailbox_id", j.mailboxID, "uid", j.uid, "spam", j.spam, "err", err)
	}
}

// count returns the counter of learns of one kind with one result.
func (l *Learner) count(spam bool, result string) *metrics.Counter {
	kind := "ham"
	if spam {
		kind = "spam"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts[kind+" "+result]
	if c == nil {
		c = l.reg.Counter("pail_rspamd_learns_total", "Messages users filed into (spam) or out of (ham) Junk, by what became of teaching them to rspamd.", "kind", kind, "result", result)
		l.counts[kind+" "+result] = c
	}
	return c
}
