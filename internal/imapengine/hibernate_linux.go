//go:build linux

package imapengine

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hibernation says sessions can hibernate here (see hibernate.go).
const hibernation = true

// poller watches the descriptors of hibernated sessions: one epoll set
// and one goroutine for the whole server. A descriptor may be in several
// epoll sets, so Go's own netpoller keeps its registration; this one is
// one-shot (EPOLLONESHOT), added when a session hibernates and deleted
// when it wakes, however it wakes.
type poller struct {
	log  *slog.Logger
	done chan struct{} // closed when run has returned

	// mu guards the sets and the descriptors' lives: nothing is added
	// to epfd once closed is set, and epfd is closed under mu.
	mu       sync.Mutex
	epfd     int
	efd      int // an eventfd that wakes run (token 0): to end, or to wait less
	closed   bool
	next     uint64
	sleeping map[uint64]sleeper // by registration token
	// due is the earliest end of a hibernated session's wait, or zero
	// for none (it may be earlier than any: that costs a sweep).
	due time.Time
}

// sleeper is a hibernated session and the end of its wait.
type sleeper struct {
	c     *Conn
	until time.Time
}

// pollEvents: input, the client's half-close, and (always reported)
// hang-up and error, once per registration.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

var errPollerClosed = errors.New("imapengine: poller closed")

// newPoller makes the epoll set and starts its goroutine.
func newPoller(log *slog.Logger) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("imapengine: epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("imapengine: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN} // token 0
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, fmt.Errorf("imapengine: epoll_ctl: %w", err)
	}
	p := &poller{log: log, done: make(chan struct{}), epfd: epfd, efd: efd, sleeping: map[uint64]sleeper{}}
	go p.run()
	return p, nil
}

// add registers the descriptor of c's connection for a hibernation that
// lasts until until at the latest; it returns the registration's token.
// c.mu is held.
func (p *poller) add(c *Conn, until time.Time) (uint64, error) {
	rc, err := c.raw.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("imapengine: hibernate: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errPollerClosed
	}
	p.next++
	tok := p.next
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(tok)), Pad: int32(uint32(tok >> 32))}
	var cerr error
	// Control holds the descriptor open while it runs: its number is
	// the connection's.
	if err := rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil {
		return 0, fmt.Errorf("imapengine: hibernate: %w", err)
	}
	if cerr != nil {
		return 0, fmt.Errorf("imapengine: hibernate: epoll_ctl: %w", cerr)
	}
	p.sleeping[tok] = sleeper{c: c, until: until}
	if p.due.IsZero() || until.Before(p.due) {
		p.due = until
		p.kick()
	}
	return tok, nil
}

// kick wakes run. p.mu is held.
func (p *poller) kick() {
	var one [8]byte
	one[0] = 1 // an eventfd counts in host order; any non-zero value wakes it
	unix.Write(p.efd, one[:])
}

// remove ends registration tok of c's descriptor. c.mu is held.
func (p *poller) remove(c *Conn, tok uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sleeping, tok)
	if p.epfd < 0 {
		return
	}
	rc, err := c.raw.(syscall.Conn).SyscallConn()
	if err != nil {
		return
	}
	// A connection closed already has left the set with its descriptor.
	rc.Control(func(fd uintptr) { unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
}

// run waits for the hibernated sessions' descriptors and rouses each
// whose client sent something or went away, and those whose wait is
// over when the earliest is due. It ends when close is called, or when
// epoll fails (then it rouses every session, which go on with
// goroutines).
func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	var drain [8]byte
	for {
		p.mu.Lock()
		wait := -1 // no session waits for a deadline: until an event
		if !p.due.IsZero() {
			wait = int(max(time.Until(p.due)+time.Millisecond-1, 0) / time.Millisecond)
		}
		p.mu.Unlock()
		n, err := unix.EpollWait(p.epfd, events, wait)
		if err != nil && !errors.Is(err, unix.EINTR) {
			p.log.Error("imap: hibernated sessions' poller failed", "err", err)
			p.stop()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if tok == 0 {
				p.mu.Lock()
				closed := p.closed
				unix.Read(p.efd, drain[:])
				p.mu.Unlock()
				if closed {
					p.stop()
					return
				}
				continue
			}
			p.mu.Lock()
			s, ok := p.sleeping[tok]
			p.mu.Unlock()
			if ok {
				s.c.rouseToken(tok, true)
			}
		}
		p.sweep(time.Now(), false)
	}
}

// sweep rouses the sessions whose wait is over at now, or all of them,
// and notes when the next one is due.
func (p *poller) sweep(now time.Time, all bool) {
	type due struct {
		c   *Conn
		tok uint64
	}
	var wake []due
	p.mu.Lock()
	if !all && (p.due.IsZero() || now.Before(p.due)) {
		p.mu.Unlock()
		return
	}
	p.due = time.Time{}
	for tok, s := range p.sleeping {
		switch {
		case all || !now.Before(s.until):
			wake = append(wake, due{s.c, tok})
		case p.due.IsZero() || s.until.Before(p.due):
			p.due = s.until
		}
	}
	p.mu.Unlock()
	for _, d := range wake {
		d.c.rouseToken(d.tok, false)
	}
}

// stop closes the set and rouses whatever still sleeps (the server
// closing has roused its sessions already).
func (p *poller) stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.sweep(time.Time{}, true)
	p.mu.Lock()
	unix.Close(p.epfd)
	unix.Close(p.efd)
	p.epfd, p.efd = -1, -1
	p.mu.Unlock()
}

// close makes run end, and waits for it.
func (p *poller) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.kick()
	}
	p.mu.Unlock()
	<-p.done
}
