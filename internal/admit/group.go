package admit

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Group tracks the listeners and running sessions of one server, so that
// Shutdown can stop accepting, wake the sessions waiting for a command and
// wait for the rest to finish theirs, and Close can cut them all off.
// A session is known by its connection (the one below any TLS layer):
// waking it sets a read deadline of now, which the session's read loop
// sees as the end; cutting it closes the connection.
type Group struct {
	stop     func()
	draining atomic.Bool
	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	sessions map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// NewGroup returns an empty Group. stop, if not nil, is called once
// everything has been told to end: by Close, and at the end of Shutdown
// (servers cancel the context of their store calls in it).
func NewGroup(stop func()) *Group {
	if stop == nil {
		stop = func() {}
	}
	return &Group{stop: stop, lns: map[net.Listener]struct{}{}, sessions: map[net.Conn]struct{}{}}
}

// Draining reports whether Shutdown or Close has begun.
func (g *Group) Draining() bool { return g.draining.Load() }

// Serve accepts connections on ln as the package's Serve does, until
// Shutdown or Close; a listener given after those is closed at once.
func (g *Group) Serve(name string, ln net.Listener, handle func(net.Conn)) error {
	g.mu.Lock()
	if g.draining.Load() {
		g.mu.Unlock()
		ln.Close()
		return nil
	}
	g.lns[ln] = struct{}{}
	g.mu.Unlock()
	return Serve(name, ln, g.draining.Load, handle)
}

// Go runs a session for conn on its own goroutine and tracks it until run
// returns. It reports false, running nothing, once the group is draining;
// the caller then closes conn.
func (g *Group) Go(conn net.Conn, run func()) bool {
	g.mu.Lock()
	if g.draining.Load() {
		g.mu.Unlock()
		return false
	}
	g.sessions[conn] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		defer func() {
			g.mu.Lock()
			delete(g.sessions, conn)
			g.mu.Unlock()
		}()
		run()
	}()
	return true
}

// Len returns the number of running sessions.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Shutdown stops accepting, wakes every session (one waiting for a
// command ends; one in the middle of a command finishes it first) and
// returns when all are gone. If ctx ends first it cuts the rest off as
// Close does, waits at most grace for them to notice, and returns ctx's
// error; a session stuck in a store call is not waited for longer.
func (g *Group) Shutdown(ctx context.Context, grace time.Duration) error {
	g.mu.Lock()
	g.draining.Store(true)
	for ln := range g.lns {
		ln.Close()
	}
	for conn := range g.sessions {
		conn.SetReadDeadline(time.Now())
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		g.stop()
		return nil
	case <-ctx.Done():
		g.Close()
		select {
		case <-done:
		case <-time.After(grace):
		}
		return ctx.Err()
	}
}

// Close stops accepting, closes every session's connection at once and
// calls stop.
func (g *Group) Close() error {
	g.mu.Lock()
	g.draining.Store(true)
	for ln := range g.lns {
		ln.Close()
	}
	for conn := range g.sessions {
		conn.Close()
	}
	g.mu.Unlock()
	g.stop()
	return nil
}
