package imapengine

import (
	"errors"
	"syscall"
	"time"
)

// Hibernation: a logged-in session that waits for its client (in IDLE at
// once, between commands after hibernateAfter) over a plain connection
// gives up its goroutine, and with it its stack. Its descriptor is watched
// by the server's poller (hibernate_linux.go: one epoll set and one
// goroutine per server), and a new goroutine runs the session on when
//
//   - the client sends something, hangs up or the connection fails
//     (readable);
//   - the Session's Watch reports a change (wake): the goroutine writes
//     the untagged updates and, finding nothing to read, hibernates again;
//   - the wait's deadline passes (the poller sweeps when the earliest is
//     due): the session ends with the autologout BYE as a waiting one
//     does (RFC 9051 §5.4);
//   - the server shuts down (interrupt) or closes (cut).
//
// A session is asleep exactly while Conn.hibernated is set, under Conn.mu;
// whoever clears it owns the session and starts its goroutine. The
// sleeping goroutine touches the Conn no more once it has set it.
const (
	// hibernateAfter is how long a session waits between commands on a
	// goroutine of its own before it hibernates: a client that sends
	// its commands seconds apart keeps its goroutine, one that has gone
	// quiet gives it up. In IDLE a session hibernates at once.
	hibernateAfter = 5 * time.Second
)

// errHibernate is what the wait for the client returns when the session
// should hibernate rather than block (see read).
var errHibernate = errors.New("imapengine: session hibernates")

// canSleep reports whether the session may hibernate now: logged in,
// waiting with no input or output held, over a plain connection whose
// descriptor the poller can watch (TLS may hold decrypted input of its
// own, and COMPRESS an inflater's state; both keep their goroutine).
func (c *Conn) canSleep() bool {
	if !hibernation || c.srv.hibOff.Load() || c.isTLS || c.z != nil || c.conn != c.raw {
		return false
	}
	if c.state != authenticated && c.state != selected {
		return false
	}
	if c.br != nil || c.bw != nil || c.pre.start < c.pre.end {
		return false
	}
	_, ok := c.raw.(syscall.Conn)
	return ok
}

// sleep hibernates the session whose wait returned errHibernate; it
// reports whether it did, and then the caller's goroutine must return
// without touching the Conn. It does not when a wake-up or an
// interruption came meanwhile (the caller's wait sees it), nor when the
// poller cannot take the descriptor, and then the rest of this wait is
// spent on the goroutine.
func (c *Conn) sleep() bool {
	p := c.srv.hibernator()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.woken && !c.idling && c.idleStop == nil {
		// A late wake-up from a Watch stopped since: nothing acts on
		// it, and left set it would keep the next one from rousing.
		c.woken = false
	}
	if c.woken || c.interrupted {
		return false // the wait acts on it
	}
	if p == nil || !time.Now().Before(c.until) {
		c.napAt = c.until
		return false
	}
	tok, err := p.add(c, c.until)
	if err != nil {
		c.srv.cfg.Log.Debug("imap: cannot hibernate", "client", c.remote.String(), "err", err)
		c.napAt = c.until
		return false
	}
	c.hibernated, c.hibToken = true, tok
	return true
}

// rouse ends the session's hibernation and runs it on in a new goroutine;
// readable says the client sent something (or hung up), and then the
// session reads before it may hibernate again. c.mu is held.
func (c *Conn) rouse(readable bool) {
	if !c.hibernated {
		return
	}
	c.hibernated = false
	c.srv.poll.Load().remove(c, c.hibToken)
	if readable {
		c.napAt = time.Now().Add(c.srv.cfg.hibernateAfter)
	}
	go c.loop(false)
}

// rouseToken rouses the session if it still sleeps under registration
// tok (the poller's events and sweep).
func (c *Conn) rouseToken(tok uint64, readable bool) {
	c.mu.Lock()
	if c.hibernated && c.hibToken == tok {
		c.rouse(readable)
	}
	c.mu.Unlock()
}

// hibernator returns the server's poller, started on first use, or nil
// when sessions cannot hibernate (another system, a poller that failed,
// a server closing).
func (s *Server) hibernator() *poller {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining || s.hibOff.Load() {
		return nil
	}
	if p := s.poll.Load(); p != nil {
		return p
	}
	p, err := newPoller(s.cfg.Log)
	if err != nil {
		s.cfg.Log.Warn("imap: sessions will not hibernate", "err", err)
		s.hibOff.Store(true)
		return nil
	}
	s.poll.Store(p)
	return p
}
