package imapengine

import (
	"bytes"
	"context"
	"errors"
	"net"

	"pail/internal/imapwire"
)

// idle runs IDLE (RFC 2177, RFC 9051 §6.3.13): "+", then the Session's
// updates as they happen, until the client sends DONE. While it waits,
// the connection holds no read or write buffer from the pool: one
// goroutine waits for the client's bytes, this one in Session.Wait.
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
	for {
		if c.br != nil && c.br.Buffered() > 0 || c.pre.start < c.pre.end {
			return c.idleLine()
		}
		c.releaseInput()
		input := make(chan struct{})
		var inputErr error
		go func() {
			inputErr = c.pre.fill()
			close(input)
		}()
		for c.sess.Wait(ctx, input) {
			err := c.sess.Poll(ctx, true)
			if err == nil {
				err = c.flush()
			}
			if err != nil {
				c.interrupt()
				<-input
				c.state = logout
				return err
			}
		}
		select {
		case <-input:
		case <-ctx.Done():
			c.interrupt()
			<-input
		}
		if inputErr != nil {
			c.state = logout
			var ne net.Error
			switch {
			case c.isInterrupted():
				c.bye("pail is shutting down")
			case errors.As(inputErr, &ne) && ne.Timeout():
				c.bye("Autologout: idle for too long")
			}
			return inputErr
		}
	}
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
		return err
	}
	if !bytes.EqualFold(line, []byte("DONE")) {
		return Bad("CLIENTBUG", "Expected DONE")
	}
	return nil
}
