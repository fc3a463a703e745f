package proxy

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pail/internal/httpcache"
)

// The fast path: each accepted connection is first read by serveFast,
// which answers plain fresh hits itself with prepared bytes and gives the
// connection, with every byte it has read, to net/http at the first
// request it does not answer. See the package doc.

const (
	// fastHeadBytes bounds the request head the fast path reads; a longer
	// one goes to net/http, whose own limit (maxHeaderBytes) then
	// applies to the whole head.
	fastHeadBytes = 4 << 10
	// fastMaxFields bounds the header fields the fast path parses.
	fastMaxFields = 64
	// closeLinger is how long a connection closed after an answer stays
	// half-open, so that a client's unread bytes do not turn the close
	// into a reset that destroys the answer (net/http waits as long).
	closeLinger = 500 * time.Millisecond
)

// acceptFast accepts connections for the fast path until ln fails for
// good, passing its errors to net/http's Serve loop through hl.
func (s *Server) acceptFast(ln net.Listener, hl *handoffListener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if hl.acceptError(err) {
				continue
			}
			return
		}
		go s.serveFast(c, hl)
	}
}

// serveFast runs one connection's fast path, then closes the connection
// or hands it to net/http.
func (s *Server) serveFast(c net.Conn, hl *handoffListener) {
	if !s.fast.add(c) {
		c.Close()
		return
	}
	pending, handOver := s.fastLoop(c)
	s.fast.remove(c)
	if !handOver {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{}) // net/http sets its own
	hl.handOver(&handedConn{Conn: c, pending: pending})
}

// fastLoop reads request heads from c and answers the plain hits. It
// returns when c is to be closed (handOver false) or given to net/http
// with pending, the bytes read and not answered.
func (s *Server) fastLoop(c net.Conn) (pending []byte, handOver bool) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("proxy: panic in the fast path", "panic", v, "remote", c.RemoteAddr().String())
			pending, handOver = nil, false
		}
	}()
	buf := make([]byte, fastHeadBytes)
	req := fastRequest{header: make(http.Header, 8)}
	vals := make([]string, 0, fastMaxFields)
	r, w := 0, 0
	// The first head must arrive within headTimeout of the accept; later
	// ones within headTimeout of their first byte, after at most
	// idleTimeout of silence (as net/http times them).
	headDeadline := time.Now().Add(s.headTimeout)
	idle := false
	for {
		if n := headEnd(buf[r:w]); n >= 0 {
			switch s.answerFast(c, string(buf[r:r+n]), &req, vals) {
			case fastPass:
				return buf[r:w], true
			case fastClose:
				lingerClose(c)
				return nil, false
			case fastBroken:
				return nil, false
			}
			r += n
			if r == w {
				r, w, idle = 0, 0, true
			} else {
				headDeadline = time.Now().Add(s.headTimeout) // pipelined
			}
			continue
		}
		if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		if w == len(buf) {
			return buf[:w], true // a long head: net/http's limit decides
		}
		if idle {
			c.SetReadDeadline(time.Now().Add(s.idleTimeout))
		} else {
			c.SetReadDeadline(headDeadline)
		}
		// Checked after setting the deadline: stop() sets stopping and
		// then a past deadline, so one of the two is seen.
		if s.fast.stopping.Load() {
			return nil, false
		}
		n, err := c.Read(buf[w:])
		if n > 0 && idle {
			idle = false
			headDeadline = time.Now().Add(s.headTimeout)
		}
		w += n
		if err != nil && headEnd(buf[:w]) < 0 {
			return nil, false // end of stream, timeout, reset: close
		}
	}
}

// lingerClose half-closes c and waits a moment before the caller closes
// it (RFC 9112 §9.6: a server closes in stages).
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	time.Sleep(closeLinger)
}

// fastOutcome is what answerFast did.
type fastOutcome int

const (
	fastPass   fastOutcome = iota // nothing written: net/http answers
	fastKeep                      // answered; the connection stays open
	fastClose                     // answered; close the connection
	fastBroken                    // the write failed
)

// answerFast answers the request in head if it is a plain fresh hit
// whose entry can be answered with prepared bytes, exactly as serveHit
// would through net/http, and passes anything else.
func (s *Server) answerFast(c net.Conn, head string, req *fastRequest, vals []string) fastOutcome {
	if !parseFastRequest(head, req, vals) {
		return fastPass
	}
	if !req.abs && strings.HasPrefix(req.path, AdminPrefix) {
		return fastPass
	}
	// Route as ServeHTTP would, on the fields net/http would have set.
	u := url.URL{Path: req.path, RawQuery: req.rawQuery}
	hr := http.Request{URL: &u, Host: req.host, Header: req.header}
	if req.abs {
		u.Scheme, u.Host, hr.Host = "http", req.authority, req.authority
	}
	t, _, _ := s.route(&hr)
	if t == nil {
		return fastPass
	}
	wall := time.Now()
	now := wall
	if !s.realClock {
		now = s.now()
	}
	e := httpcache.Select(s.store, t.key, req.header)
	if e == nil {
		return fastPass
	}
	use, f := httpcache.Decide(e, nil, now)
	if use != httpcache.UseFresh {
		return fastPass // stale: net/http revalidates or serves it stale
	}
	hh := e.Memo(s.hitBuilder).(*hitHeader)
	if !hh.fast {
		return fastPass
	}
	body, err := s.store.Open(e)
	if err != nil {
		return fastPass // evicted: a miss
	}
	defer body.Close()
	mem, ok := body.(httpcache.InMemory)
	if !ok {
		return fastPass // on disk: serveHit streams it
	}
	content := mem.Bytes()[:e.Size]
	wire := s.wireFor(hh, s.stampFor(hh, f, ""), e.Status, content)

	s.metrics.Requests.Add(1)
	s.metrics.Hits.Add(1)
	s.fastHits.Add(1)
	if !req.head {
		s.metrics.BytesFromCache.Add(int64(len(content)))
	}
	c.SetWriteDeadline(wall.Add(writeIdleTimeout))
	sent, err := wire.write(c, req, content)
	if !req.head && sent < len(content) {
		s.metrics.BytesFromCache.Add(int64(sent - len(content)))
	}
	switch {
	case err != nil:
		return fastBroken
	case req.closeAfter():
		return fastClose
	}
	return fastKeep
}
