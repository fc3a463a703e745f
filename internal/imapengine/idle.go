package imapengine

import (
	"bytes"
	"context"
	"errors"
	"time"

	"pail/internal/imapwire"
)

// idle runs IDLE (RFC 2177, RFC 9051 §6.3.13): "+", then the Session's
// updates as they happen, until the client sends DONE. While it waits,
// the connection holds no read or write buffer from the pool: one
// goroutine waits for the client's bytes, this one for the Session's
// signal.
func (c *Conn) idle(ctx context.Context) error {
	if err := c.sess.Poll(ctx, true); err != nil {
		return err
	}
	c.output()
	c.wr.Continue("idling")
	if err := c.flush(); err != nil {
		return err
	}
	tick := time.NewTicker(c.srv.cfg.IdlePoll)
	defer tick.Stop()
	for {
		if c.br != nil && c.br.Buffered() > 0 || c.pre.start < c.pre.end {
			if done, err := c.idleLine(); done || err != nil {
				return err
			}
			continue
		}
		c.releaseInput()
		input := make(chan error, 1)
		go func() { input <- c.pre.fill() }()
		for waiting := true; waiting; {
			select {
			case err := <-input:
				if err != nil {
					c.state = logout
					if !c.isInterrupted() {
						var ne interface{ Timeout() bool }
						if errors.As(err, &ne) && ne.Timeout() {
							c.bye("Autologout: idle for too long")
						}
					} else {
						c.bye("pail is shutting down")
					}
					return err
				}
				waiting = false
				continue
			case <-c.sess.Updates():
			case <-tick.C:
			case <-ctx.Done():
				c.interrupt()
				continue
			}
			if err := c.sess.Poll(ctx, true); err != nil {
				c.interrupt()
				<-input
				c.state = logout
				return err
			}
			if err := c.flush(); err != nil {
				c.interrupt()
				<-input
				c.state = logout
				return err
			}
		}
	}
}

// idleLine reads a line the client sent during IDLE: DONE ends it (RFC
// 2177 §3), anything else is BAD and ends it too.
func (c *Conn) idleLine() (done bool, err error) {
	c.input()
	line, err := c.rd.ReadLine()
	if err != nil {
		var we *imapwire.Error
		if errors.As(err, &we) {
			return true, Bad("CLIENTBUG", "Expected DONE")
		}
		c.state = logout
		return true, err
	}
	if !bytes.EqualFold(line, []byte("DONE")) {
		return true, Bad("CLIENTBUG", "Expected DONE")
	}
	return true, nil
}
