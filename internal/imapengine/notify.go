package imapengine

import (
	"context"

	"pail/internal/imapwire"
)

// Notifier is an optional interface of a Session: NOTIFY (RFC 5465).
// While Notifying, the engine keeps the Session's Watch on, between
// commands as in IDLE, and when it wakes the connection with no command
// running (RFC 5465 §3 lets the server send these responses at any time
// then) it calls Notifications, writes nothing else, and flushes.
type Notifier interface {
	// Notify runs NOTIFY: SET replaces what the client asked for
	// before, NONE ends it (RFC 5465 §3). With SET STATUS it writes
	// the initial STATUS of each mailbox the events cover.
	Notify(ctx context.Context, a *imapwire.NotifyArgs) error
	// Notifications writes what changed that the client asked to hear
	// of: the selected mailbox's EXISTS, EXPUNGE and FETCH (it polls
	// as Poll does), STATUS of other mailboxes, LIST for names.
	Notifications(ctx context.Context) error
	// Notifying reports whether NOTIFY SET is in force; it may end by
	// itself (NOTIFICATIONOVERFLOW, RFC 5465 §5.8).
	Notifying() bool
}

// notify runs NOTIFY and starts or ends the Watch that feeds it.
func (c *Conn) notify(ctx context.Context, a *imapwire.NotifyArgs) error {
	n, ok := c.sess.(Notifier)
	if !ok {
		return Bad("CLIENTBUG", "NOTIFY is not supported")
	}
	if err := n.Notify(ctx, a); err != nil {
		return err
	}
	c.rewatch()
	return nil
}

// notifying reports whether the Session wants notifications now.
func (c *Conn) notifying() bool {
	if c.sess == nil {
		return false
	}
	n, ok := c.sess.(Notifier)
	return ok && n.Notifying()
}

// rewatch starts the Session's Watch when IDLE or NOTIFY needs it and
// stops it when neither does.
func (c *Conn) rewatch() {
	need := c.idling || c.notifying()
	switch {
	case need && c.idleStop == nil:
		c.idleStop = c.sess.Watch(c.wake)
	case !need && c.idleStop != nil:
		c.idleStop()
		c.idleStop = nil
		c.mu.Lock()
		c.woken = false
		c.mu.Unlock()
	}
}

// update tells the client what changed, from the read that a wake-up
// cut short: in IDLE the selected mailbox's changes (Poll) and, under
// NOTIFY, the notifications; between commands the notifications only.
func (c *Conn) update() error {
	if c.idling {
		if err := c.sess.Poll(c.srv.ctx, true); err != nil {
			c.srv.cfg.Log.Error("imap: update in IDLE", "client", c.remote.String(), "user", c.user, "err", err)
			return err
		}
	}
	if c.notifying() {
		n := c.sess.(Notifier)
		if err := n.Notifications(c.srv.ctx); err != nil {
			c.srv.cfg.Log.Error("imap: notifications", "client", c.remote.String(), "user", c.user, "err", err)
			return err
		}
		if !n.Notifying() && !c.idling {
			c.rewatch()
		}
	}
	return c.flush()
}
