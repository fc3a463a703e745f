package proxy

import (
	"bytes"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// fastInlineBody is the largest body kept in a prepared answer; a larger
// one is sent after the prepared head with one vectored write.
const fastInlineBody = 64 << 10

// fastWire is a hit's answer as bytes, prepared once per hitStamp (so
// about once a second for a hot entry): what net/http writes for serveHit
// to an HTTP/1.1 GET that keeps the connection open.
type fastWire struct {
	// b is "HTTP/1.1 <code> <text>\r\n", the fields, "\r\n", and then
	// the body when it is at most fastInlineBody.
	b         []byte
	fieldsEnd int // where the empty line starts
	inline    bool
}

// fastEligible reports whether net/http sends an entry's prepared header
// h as it is, adding nothing but the Connection field it derives from the
// request: the status has a body and a reason phrase (bodyless statuses
// lose fields, RFC 9110 §15.4.5), Date is present (else net/http adds the
// time), the type is known or not sniffed, and no field makes net/http
// change the framing or the connection.
func fastEligible(status int, h http.Header, size int64) bool {
	if bodyless(status) || status > 999 || http.StatusText(status) == "" {
		return false
	}
	_, hasDate := h["Date"]
	_, hasType := h["Content-Type"]
	if !hasDate || !hasType && h.Get("Content-Encoding") == "" && size > 0 {
		return false
	}
	for k := range h {
		switch {
		case k == "Connection", k == "Transfer-Encoding", k == "Trailer", strings.HasPrefix(k, http.TrailerPrefix):
			return false
		}
	}
	return true
}

// wireFor returns st's prepared answer, building it on first use: the
// header serveHit sets, serialised by the same http.Header method that
// net/http uses, so the bytes are the ones net/http would write.
func (s *Server) wireFor(hh *hitHeader, st *hitStamp, status int, body []byte) *fastWire {
	if w := st.wire.Load(); w != nil {
		return w
	}
	h := make(http.Header, len(hh.fields)+2)
	maps.Copy(h, hh.fields)
	h["Age"] = st.ageValue
	h["Cache-Status"] = st.cacheStatus
	var b bytes.Buffer
	b.Grow(1024 + len(body))
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(status))
	b.WriteString("\r\n")
	h.WriteSubset(&b, nil)
	w := &fastWire{fieldsEnd: b.Len(), inline: len(body) <= fastInlineBody}
	b.WriteString("\r\n")
	if w.inline {
		b.Write(body)
	}
	w.b = b.Bytes()
	if st.wire.CompareAndSwap(nil, w) {
		return w
	}
	return st.wire.Load()
}

// write sends the answer to req with one write; it returns how many body
// bytes went out. Only HTTP/1.1 requests that keep the connection send
// the prepared bytes as they are; the others get the status line and the
// Connection field net/http gives them (RFC 9112 §9.3): "HTTP/1.0" on an
// HTTP/1.0 request, "Connection: close" when an HTTP/1.1 one asked to
// close, "Connection: keep-alive" when an HTTP/1.0 one asked to keep.
func (w *fastWire) write(c net.Conn, req *fastRequest, body []byte) (int, error) {
	var head []byte
	if !req.http10 && req.conn != connClose {
		if req.head {
			_, err := c.Write(w.b[:w.fieldsEnd+2])
			return 0, err
		}
		if w.inline {
			n, err := c.Write(w.b)
			return max(0, n-w.fieldsEnd-2), err
		}
		head = w.b[:w.fieldsEnd+2]
	} else {
		n := w.fieldsEnd + len("Connection: keep-alive\r\n\r\n")
		if !req.head {
			n += len(body)
		}
		head = make([]byte, 0, n)
		if req.http10 {
			head = append(head, "HTTP/1.0"...)
			head = append(head, w.b[len("HTTP/1.1"):w.fieldsEnd]...)
		} else {
			head = append(head, w.b[:w.fieldsEnd]...)
		}
		switch {
		case !req.http10 && req.conn == connClose:
			head = append(head, "Connection: close\r\n"...)
		case req.http10 && req.conn == connKeepAlive:
			head = append(head, "Connection: keep-alive\r\n"...)
		}
		head = append(head, "\r\n"...)
		if req.head {
			_, err := c.Write(head)
			return 0, err
		}
		if len(body) <= fastInlineBody {
			h := len(head)
			n, err := c.Write(append(head, body...))
			return max(0, n-h), err
		}
	}
	bufs := net.Buffers{head, body}
	n, err := bufs.WriteTo(rawConn(c))
	return max(0, int(n)-len(head)), err
}

// rawConn returns the connection under the limit listener's wrapper, so
// that a vectored write reaches the TCP connection's writev.
func rawConn(c net.Conn) net.Conn {
	if lc, ok := c.(*limitConn); ok {
		return lc.Conn
	}
	return c
}
