package imapd

import (
	"sync"
)

// Write coalescing. go-imap flushes its buffered writer after every
// response: a FETCH of a thousand messages is a thousand write system
// calls, each small. conn instead keeps what the library writes while the
// session is busy and sends it all at once when the session next reads
// from the client — which it does only when it has said all it had to say
// (the next command, a literal after "+", DONE, a TLS handshake record) —
// or when it closes. A write made while a read is waiting (an IDLE update,
// written by another goroutine) goes out at once, so nothing waits on a
// client that is itself waiting. The buffer is taken from a pool for a
// burst of output and given back when it is sent, so an idle session holds
// none.

// maxPending is how much output conn keeps before sending it anyway.
const maxPending = 32 << 10

var pendingPool = sync.Pool{New: func() any { b := make([]byte, 0, maxPending); return &b }}

// Read sends pending output, then reads.
func (c *conn) Read(p []byte) (int, error) {
	c.wmu.Lock()
	err := c.flushLocked()
	c.reading = err == nil
	c.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.wmu.Lock()
	c.reading = false
	c.wmu.Unlock()
	return n, err
}

// Write keeps p for the next Read, unless a Read is waiting or p would
// overflow the buffer.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.reading || len(c.pendingBytes())+len(p) > maxPending {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	if c.pending == nil {
		c.pending = pendingPool.Get().(*[]byte)
	}
	*c.pending = append(*c.pending, p...)
	return len(p), nil
}

func (c *conn) pendingBytes() []byte {
	if c.pending == nil {
		return nil
	}
	return *c.pending
}

// flushLocked sends the pending output and gives the buffer back.
func (c *conn) flushLocked() error {
	if c.pending == nil {
		return c.werr
	}
	b := c.pending
	c.pending = nil
	if c.werr == nil && len(*b) > 0 {
		_, c.werr = c.Conn.Write(*b)
	}
	*b = (*b)[:0]
	pendingPool.Put(b)
	return c.werr
}
