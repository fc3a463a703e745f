package admit

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// serveOne starts g on a loopback listener whose sessions run session,
// and returns a client connection to it.
func serveOne(t *testing.T, g *Group, session func(net.Conn)) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve("test", ln, func(nc net.Conn) {
		if !g.Go(nc, func() { session(nc) }) {
			nc.Close()
		}
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for g.Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("session never started")
		}
		time.Sleep(time.Millisecond)
	}
	return c
}

func TestGroupShutdownWakesIdleSessions(t *testing.T) {
	stopped := make(chan struct{})
	g := NewGroup(func() { close(stopped) })
	ended := make(chan error, 1)
	serveOne(t, g, func(nc net.Conn) {
		_, err := nc.Read(make([]byte, 1)) // waits for a command
		ended <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx, time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	var ne net.Error
	if err := <-ended; !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("idle session's read ended with %v, want a deadline", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("stop was not called")
	}
	if g.Len() != 0 || !g.Draining() {
		t.Errorf("after Shutdown: %d sessions, draining %v", g.Len(), g.Draining())
	}
	if g.Go(nil, func() { t.Error("a session ran after Shutdown") }) {
		t.Error("Go accepted a session after Shutdown")
	}
}

func TestGroupShutdownWaitsForBusySessionsThenCuts(t *testing.T) {
	g := NewGroup(nil)
	release := make(chan struct{})
	var busyErr error
	finished := make(chan struct{})
	serveOne(t, g, func(nc net.Conn) {
		defer close(finished)
		<-release // in the middle of a command: not reading
		_, busyErr = nc.Write([]byte("x"))
	})
	// A busy session is waited for: Shutdown returns only after it ends.
	go func() { time.Sleep(100 * time.Millisecond); close(release) }()
	start := time.Now()
	if err := g.Shutdown(context.Background(), time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-finished
	if time.Since(start) < 100*time.Millisecond {
		t.Error("Shutdown returned before the busy session finished")
	}
	if busyErr != nil {
		t.Errorf("busy session's write failed: %v", busyErr)
	}

	// A session that never ends is cut off when ctx does.
	g2 := NewGroup(nil)
	stuck := make(chan error, 1)
	serveOne(t, g2, func(nc net.Conn) {
		time.Sleep(200 * time.Millisecond) // ignores the wake-up
		_, err := nc.Write([]byte("x"))
		stuck <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g2.Shutdown(ctx, time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline: %v, want DeadlineExceeded", err)
	}
	if err := <-stuck; !errors.Is(err, net.ErrClosed) {
		t.Errorf("cut-off session's write: %v, want net.ErrClosed", err)
	}
}
