package imapengine

import (
	"bytes"
	"context"
	"errors"

	"pail/internal/imapwire"
)

// idle runs IDLE (RFC 2177, RFC 9051 §6.3.13): "+", then the Session's
// updates as they happen, until the client sends DONE. While it waits,
// the connection holds no read or write buffer from the pool and no
// goroutine but its own, which waits in read for the client's bytes: the
// Session's Watch calls wake, which cuts that wait short, and read sends
// the update (idleUpdate) and waits on.
func (c *Conn) idle(ctx context.Context) error {
	if err := c.sess.Poll(ctx, true); err != nil {
		return err
	}
	c.output()
	c.wr.Continue("idling")
	if err := c.flush(); err != nil {
		c.state = logout
		return err
	}
	c.idling = true
	stop := c.sess.Watch(c.wake)
	defer func() {
		stop()
		c.idling = false
		c.mu.Lock()
		c.woken = false
		c.mu.Unlock()
	}()
	if err := c.waitInput(); err != nil {
		c.state = logout
		c.readFailed(err)
		return err
	}
	return c.idleLine()
}

// idleUpdate tells the client in IDLE what changed; read calls it when
// the Session woke the connection. Out of IDLE (a wake-up that came late)
// it does nothing.
func (c *Conn) idleUpdate() error {
	if !c.idling {
		return nil
	}
	if err := c.sess.Poll(c.srv.ctx, true); err != nil {
		c.srv.cfg.Log.Error("imap: update in IDLE", "client", c.remote.String(), "user", c.user, "err", err)
		return err
	}
	return c.flush()
}

// idleLine reads the line the client sent during IDLE: DONE ends it (RFC
// 2177 §3); anything else is BAD, and ends it too.
func (c *Conn) idleLine() error {
	c.input()
	line, err := c.rd.ReadLine()
	if err != nil {
		var we *imapwire.Error
		if errors.As(err, &we) {
			return Bad("CLIENTBUG", "Expected DONE")
		}
		c.state = logout
		c.readFailed(err)
		return err
	}
	if !bytes.EqualFold(line, []byte("DONE")) {
		return Bad("CLIENTBUG", "Expected DONE")
	}
	return nil
}
