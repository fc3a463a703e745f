package imapengine

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"pail/internal/imapwire"
)

// deflateLevel is the compression of what pail sends under COMPRESS:
// RFC 4978 §3 lets each side pick its own. BestSpeed is the cheapest in
// CPU, and its compressor resets in constant time, which taking one from
// the pool for every batch of responses needs (the other levels clear
// 640 KiB of hash tables on every reset).
const deflateLevel = flate.BestSpeed

// deflateState is a session's COMPRESS=DEFLATE (RFC 4978): raw DEFLATE
// (RFC 1951, no zlib header) both ways from the tagged OK on.
//
// The compressor (about 1.1 MiB in compress/flate) is not the session's:
// a batch of responses takes one from the server's pool, writes, ends
// with a sync flush and gives it back, so an idle compressed session
// holds none. That is valid DEFLATE: after a sync flush the stream is at
// a byte boundary, and a compressor started afresh only refers back to
// its own output, which the client's decompressor has too. The cost is
// that a batch is compressed without the history of the ones before.
//
// The decompressor (inflater) must keep the client's history (the client
// may refer back 32 KiB at any time): a compressed session holds it, a
// 32 KiB window and about 6 KiB of tables and buffer, from COMPRESS to
// the end.
type deflateState struct {
	fw  *flate.Writer // from the server's pool during a batch; nil between
	zbw *bufio.Writer // the compressed bytes, from the pool during a batch
	err error         // the first error writing compressed bytes
}

// begin takes a compressor and a buffer for its output for one batch of
// responses and returns where the batch is written.
func (z *deflateState) begin(c *Conn) io.Writer {
	z.zbw = c.srv.writers.Get().(*bufio.Writer)
	z.zbw.Reset(connWriter{c})
	z.fw = c.srv.deflaters.Get().(*flate.Writer)
	z.fw.Reset(z.zbw)
	c.held.Add(2)
	return z
}

// Write compresses p; the first error sticks.
func (z *deflateState) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	n, err := z.fw.Write(p)
	if err != nil {
		z.err = fmt.Errorf("imapengine: compressing: %w", err)
	}
	return n, z.err
}

// end finishes a batch: when send is set, a sync flush (RFC 4978 §4: the
// client then has every response of the batch without waiting for more)
// and the write; then the compressor and the buffer go back to the pool.
func (z *deflateState) end(c *Conn, send bool) error {
	if send && z.err == nil {
		if err := z.fw.Flush(); err != nil {
			z.err = fmt.Errorf("imapengine: compressing: %w", err)
		} else if err := z.zbw.Flush(); err != nil {
			z.err = fmt.Errorf("imapengine: writing: %w", err)
		}
	}
	z.fw.Reset(nil)
	c.srv.deflaters.Put(z.fw)
	z.zbw.Reset(nil)
	c.srv.writers.Put(z.zbw)
	z.fw, z.zbw = nil, nil
	c.held.Add(-2)
	return z.err
}

// errCompressionActive answers a second COMPRESS (RFC 4978 §3, RFC 5530
// §3: the resp-text says which layer compresses).
var errCompressionActive = No("COMPRESSIONACTIVE", "DEFLATE is active already (COMPRESS)")

// compress runs COMPRESS (RFC 4978 §3). On success it has written the
// tagged OK, uncompressed, and everything after it is compressed both
// ways; it reports whether it did. It works over plain text, after
// STARTTLS and on implicit TLS alike: compression sits above TLS (§3:
// first COMPRESS, then TLS).
func (c *Conn) compress(cmd *imapwire.Command) (bool, error) {
	if c.z != nil {
		return false, errCompressionActive
	}
	if cmd.Args.(*imapwire.CompressArgs).Mechanism != "DEFLATE" {
		return false, Bad("CLIENTBUG", "Unknown compression mechanism (DEFLATE is the one)")
	}
	c.output()
	c.wr.Status(cmd.Tag, imapwire.OK, nil, "DEFLATE active")
	if c.flush() != nil {
		c.state = logout
		return true, nil
	}
	c.countReply(imapwire.OK)
	// §3: the client compresses from the first octet after the command's
	// CRLF. It must wait for the OK first, but whatever it already sent
	// is compressed input and goes to the inflater first.
	var left []byte
	if c.br != nil {
		n := c.br.Buffered()
		b, _ := c.br.Peek(n)
		left = append(left, b...)
		c.br.Discard(n)
	}
	left = append(left, c.pre.buf[c.pre.start:c.pre.end]...)
	c.pre.start, c.pre.end = 0, 0
	c.releaseInput()
	var src io.Reader = connReader{c}
	if len(left) > 0 {
		src = io.MultiReader(bytes.NewReader(left), src)
	}
	// The inflated bytes go through the same Reader, with the same bounds
	// on lines, literals and commands as plain input: a deflate bomb
	// meets them as a long line or literal would.
	c.in = newInflater(src)
	c.z = &deflateState{}
	return true, nil
}
