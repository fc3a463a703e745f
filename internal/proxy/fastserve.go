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
	// fastHeadBytes is the head buffer of a connection; it doubles for a
	// longer head, up to maxHeadRead.
	fastHeadBytes = 4 << 10
	// maxHeadRead is what net/http reads of a head before answering 431
	// (its MaxHeaderBytes plus 4096 bytes of slack); the fast path reads
	// no more.
	maxHeadRead = maxHeaderBytes + 4096
	// fastMaxFields bounds the header fields the fast path parses.
	fastMaxFields = 64
	// renewDeadline is how far a connection's idle or write deadline may
	// lag behind its exact value (at most a sixteenth of the timeout): it
	// is renewed when it would move by more.
	renewDeadline = time.Second
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
	pending, headDeadline, handOver := s.fastLoop(c)
	s.fast.remove(c)
	if !handOver {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{}) // net/http sets its own
	hl.handOver(&handedConn{Conn: c, pending: pending, headDeadline: headDeadline})
}

// fastLoop reads request heads from c and answers the plain hits. It
// returns when c is to be closed (handOver false) or given to net/http
// with pending, the bytes read and not answered, and headDeadline, the
// deadline of the head they begin when it is incomplete (else zero).
func (s *Server) fastLoop(c net.Conn) (pending []byte, headDeadline time.Time, handOver bool) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("proxy: panic in the fast path", "panic", v, "remote", c.RemoteAddr().String())
			pending, headDeadline, handOver = nil, time.Time{}, false
		}
	}()
	buf := make([]byte, fastHeadBytes)
	var scan headScan // of the head at buf[r:]
	st := &fastState{req: fastRequest{header: make(http.Header, 8)}, vals: make([]string, 0, fastMaxFields)}
	r, w := 0, 0
	// The first head must arrive within headTimeout of the accept; later
	// ones within headTimeout of their first byte, after at most
	// idleTimeout of silence (as net/http times them). A zero
	// headDeadline is computed when needed: most heads arrive whole.
	headDeadline = time.Now().Add(s.headTimeout)
	var readDeadline, lastAnswer time.Time
	idle, idleSet := false, false // waiting for a head; the deadline set is an idle one
	lag := min(renewDeadline, s.idleTimeout/16)
	for {
		if n := scan.end(buf[r:w]); n >= 0 {
			st.wall = time.Now()
			switch s.answerFast(c, string(buf[r:r+n]), st) {
			case fastPass:
				return buf[r:w], time.Time{}, true
			case fastClose:
				lingerClose(c)
				return nil, time.Time{}, false
			case fastBroken:
				return nil, time.Time{}, false
			}
			lastAnswer = st.wall
			r += n
			scan = headScan{}
			if r == w {
				r, w, idle = 0, 0, true
				if len(buf) > fastHeadBytes {
					// After a long head, an idle connection keeps
					// no more than a normal one: a normal buffer,
					// and nothing that refers to the head.
					buf = make([]byte, fastHeadBytes)
					st.forget()
				}
			} else {
				headDeadline = time.Time{} // pipelined
			}
			continue
		}
		if scan.refuses(buf[r:w]) {
			// Not simple: net/http answers it (400 at once to a
			// malformed line), under this head's deadline.
			return buf[r:w], headDeadline, true
		}
		if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		if w == len(buf) {
			if w >= maxHeadRead {
				return buf[:w], headDeadline, true // too long: net/http answers 431
			}
			// A long head: read it whole under this head's deadline, so
			// that handing it over does not restart the clock.
			buf = append(buf, make([]byte, min(w, maxHeadRead-w))...)
		}
		dl := headDeadline
		if idle {
			dl = lastAnswer.Add(s.idleTimeout)
		} else if dl.IsZero() {
			headDeadline = time.Now().Add(s.headTimeout)
			dl = headDeadline
		}
		// An idle deadline is renewed only when it moves by more than
		// lag, sparing a timer update per request on a busy connection.
		if !idle || !idleSet || dl.Sub(readDeadline) > lag {
			c.SetReadDeadline(dl)
			readDeadline, idleSet = dl, idle
		}
		// Checked after setting the deadline: stop() sets stopping and
		// then a past deadline, so one of the two is seen.
		if s.fast.stopping.Load() {
			return nil, time.Time{}, false
		}
		n, err := c.Read(buf[w:])
		if n > 0 && idle {
			idle, headDeadline = false, time.Time{}
		}
		w += n
		if err != nil && scan.end(buf[r:w]) < 0 {
			return nil, time.Time{}, false // end of stream, timeout, reset: close
		}
	}
}

// fastState is one fast-path connection's scratch space.
type fastState struct {
	req  fastRequest
	vals []string // field values, for parseFastRequest
	// wall is the time the current request's head was complete.
	wall time.Time
	// writeDeadline is the write deadline last set on the connection.
	writeDeadline time.Time
}

// forget drops the parsed request, whose strings share the memory of
// its head.
func (st *fastState) forget() {
	clear(st.req.header)
	st.req = fastRequest{header: st.req.header}
	clear(st.vals[:cap(st.vals)])
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
func (s *Server) answerFast(c net.Conn, head string, st *fastState) fastOutcome {
	req := &st.req
	if !parseFastRequest(head, req, st.vals) {
		return fastPass
	}
	if !req.abs && strings.HasPrefix(req.path, AdminPrefix) {
		return fastPass
	}
	if req.via && s.looped(req.header["Via"]) {
		return fastPass // a loop: ServeHTTP answers 508, hit or not
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
	now := st.wall
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
	if s.fast.stopping.Load() {
		// Shutting down: answer as net/http does then, closing after
		// the answer (RFC 9112 §9.6), which an HTTP/1.1 client is told
		// with "Connection: close" and an HTTP/1.0 one by no
		// "Connection: keep-alive".
		req.conn = connClose
		if req.http10 {
			req.conn = connDefault
		}
	}
	if dl := st.wall.Add(writeIdleTimeout); dl.Sub(st.writeDeadline) > min(renewDeadline, writeIdleTimeout/16) {
		c.SetWriteDeadline(dl)
		st.writeDeadline = dl
	}
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
