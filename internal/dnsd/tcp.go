package dnsd

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNS over TCP (RFC 7766) and over TLS (RFC 7858). Each connection has
// one reader; every query it reads is answered by a goroutine of its
// own, and each answer is written as soon as it is ready, so pipelined
// queries are answered concurrently and possibly out of order (RFC 7766
// §6.2.1.1: the client matches them by ID). The reader waits at most
// the idle timeout (tcpIdleTimeout) for the next query (§6.2.3), which is also what the
// EDNS keepalive option announces (RFC 7828), and a connection is
// closed after maxTCPQueries.
const (
	// maxTCPInFlight bounds the queries of one connection answered at
	// once; the reader waits for a slot before it reads on.
	maxTCPInFlight = 16
	// maxTCPConns bounds the connections of one listener served at once
	// (RFC 7766 §6.2.2); more wait in the kernel's accept queue.
	maxTCPConns = 512
	// maxTCPQuery is the largest query read over a stream, as over UDP:
	// a question and EDNS options fit; a longer one closes the
	// connection.
	maxTCPQuery = readBufSize
	// lenPrefix is the two-octet length before each message (RFC 1035
	// §4.2.2).
	lenPrefix = 2
)

// ServeTCP answers queries on connections accepted from ln until Shutdown
// or Close (RFC 7766: TCP is a full transport, not only a fallback).
func (s *Server) ServeTCP(ln net.Listener) error { return s.serveStream(ln) }

// ServeTLS answers DNS over TLS (RFC 7858) on ln, a listener that does
// the TLS handshake (tls.NewListener), the same way as ServeTCP.
func (s *Server) ServeTLS(ln net.Listener) error { return s.serveStream(ln) }

// streamServer is one listener of ServeTCP or ServeTLS and its
// connections.
type streamServer struct {
	ln      net.Listener
	closing atomic.Bool
	slots   chan struct{} // one per connection served
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (s *Server) serveStream(ln net.Listener) error {
	st := &streamServer{ln: ln, slots: make(chan struct{}, maxTCPConns), conns: map[net.Conn]struct{}{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("dns: server closed")
	}
	s.streams = append(s.streams, st)
	s.mu.Unlock()
	for {
		st.slots <- struct{}{}
		c, err := ln.Accept()
		if err != nil {
			<-st.slots
			if st.closing.Load() || s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		st.mu.Lock()
		if st.closing.Load() {
			st.mu.Unlock()
			c.Close()
			<-st.slots
			return nil
		}
		st.conns[c] = struct{}{}
		st.wg.Add(1)
		st.mu.Unlock()
		go func() {
			defer func() {
				st.mu.Lock()
				delete(st.conns, c)
				st.mu.Unlock()
				<-st.slots
				st.wg.Done()
			}()
			s.serveConn(c, st)
		}()
	}
}

// shutdown stops accepting, wakes the readers (the answers in hand are
// still written) and waits until ctx ends for the connections to close;
// then it closes what is left.
func (st *streamServer) shutdown(ctx context.Context) error {
	st.closing.Store(true)
	st.ln.Close()
	st.mu.Lock()
	for c := range st.conns {
		c.SetReadDeadline(time.Unix(1, 0))
	}
	st.mu.Unlock()
	done := make(chan struct{})
	go func() { st.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		st.mu.Lock()
		for c := range st.conns {
			c.Close()
		}
		st.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// serveConn reads the queries of one connection and answers each in a
// goroutine of its own; it returns when the client closes, is idle for
// the idle timeout, sends something that is not a query, or has sent
// maxTCPQueries, once every answer in hand is written.
func (s *Server) serveConn(c net.Conn, st *streamServer) {
	defer c.Close()
	src := addrOf(c.RemoteAddr())
	var (
		wmu      sync.Mutex // one answer written at a time
		inflight sync.WaitGroup
		broken   atomic.Bool // a write failed: read no more
	)
	slots := make(chan struct{}, maxTCPInFlight)
	defer inflight.Wait()
	var pfx [lenPrefix]byte
	for i := range maxTCPQueries + 1 {
		if i == maxTCPQueries {
			// The connection has had its share: the answers in hand go
			// out, then a FIN; queries already sent are read and
			// dropped, since closing with unread data would reset the
			// connection and lose answers the client has not read yet.
			inflight.Wait()
			lingerClose(c)
			return
		}
		if st.closing.Load() || broken.Load() {
			return
		}
		// The wait for a query is the idle timeout (RFC 7766 §6.2.3); a
		// TLS handshake happens within the first one.
		c.SetReadDeadline(time.Now().Add(s.idle))
		if st.closing.Load() {
			// Shutdown's deadline may have been set before this one.
			return
		}
		if _, err := io.ReadFull(c, pfx[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(pfx[:]))
		if n < headerSize || n > maxTCPQuery {
			return
		}
		msg := make([]byte, n)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		slots <- struct{}{}
		inflight.Go(func() {
			defer func() { <-slots }()
			if !s.answerStream(c, &wmu, msg, src) {
				broken.Store(true)
				// Wake the reader: the connection is no use.
				c.SetReadDeadline(time.Unix(1, 0))
			}
		})
	}
}

// lingerClose half-closes c and reads what the client still sends, for
// at most ioTimeout and maxLinger octets, before c is closed.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			io.Copy(io.Discard, io.LimitReader(c, maxLinger))
		}
	}
}

// maxLinger bounds what lingerClose reads: a window of queries.
const maxLinger = 1 << 16

// answerStream answers one query read from c and writes the answer,
// framed, under wmu; false means the write failed.
func (s *Server) answerStream(c net.Conn, wmu *sync.Mutex, msg []byte, src netip.Addr) bool {
	if s.streamHook != nil {
		s.streamHook(msg)
	}
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	out := s.answerWire(msg, src, false, sc)
	if out == nil {
		return true
	}
	var frame []byte
	if len(out) > 0 && &out[0] == &sc.buf[lenPrefix] {
		frame = sc.buf[:lenPrefix+len(out)]
	} else {
		frame = append(make([]byte, lenPrefix, lenPrefix+len(out)), out...)
	}
	binary.BigEndian.PutUint16(frame, uint16(len(out)))
	wmu.Lock()
	defer wmu.Unlock()
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.Write(frame)
	return err == nil
}

// answerTCP returns the packed answer to req from src over a stream, in
// sc's buffer after room for the length; nil means send nothing.
func (s *Server) answerTCP(req *dns.Msg, src netip.Addr, sc *scratch) []byte {
	m, _ := s.respond(req, src, false, sc)
	if m == nil {
		return nil
	}
	buf, err := m.PackBuffer(sc.buf[lenPrefix:])
	if err != nil {
		s.log.Error("dns: packing an answer", "err", err, "question", req.Question)
		return nil
	}
	return buf
}
