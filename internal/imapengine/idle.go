package imapengine

import (
	"bytes"
	"context"
	"errors"

	"pail/internal/imapwire"
)

// startIdle begins IDLE (RFC 2177, RFC 9051 §6.3.13): the updates so
// far, then "+". The connection loop then waits for the client as it
// does between commands, holding no read or write buffer from the pool
// and no goroutine but its own: the Session's Watch calls wake, which
// cuts that wait short, and read sends the update (update) and waits
// on. The client's next line ends IDLE (finishIdle).
func (c *Conn) startIdle(ctx context.Context) error {
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
	c.rewatch()
	return nil
}

// endIdle stops the Session's Watch unless NOTIFY still needs it.
func (c *Conn) endIdle() {
	c.idleCmd, c.idling = nil, false
	c.rewatch()
}

// finishIdle reads the line the client sent during IDLE: DONE ends it
// (RFC 2177 §3); anything else is BAD, and ends it too. Then it answers
// the IDLE command as run answers any other.
func (c *Conn) finishIdle() {
	cmd := c.idleCmd
	err := c.idleLine()
	c.endIdle()
	if c.state == logout {
		return
	}
	if perr := c.sess.Poll(c.srv.ctx, true); perr != nil && err == nil {
		err = perr
	}
	c.replyText(cmd, err, nil, "IDLE terminated")
}

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
