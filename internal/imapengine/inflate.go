package imapengine

import (
	"bufio"
	"errors"
	"io"
)

// inflater decodes the client's raw DEFLATE stream (RFC 1951) under
// COMPRESS. compress/flate's reader is not used because it hands out what
// it decoded only when a stored block or a full window comes: zlib's
// Z_PARTIAL_FLUSH, which clients use (isync's mbsync does), ends a batch
// with an empty fixed-Huffman block instead, and the command would wait
// in the decoder for the client's next one. This one returns what it has
// whenever the next bits are not there yet. It holds the 32 KiB window
// and the code tables, and reads through a small buffer of its own.
type inflater struct {
	br   *bufio.Reader
	bits uint64 // bits read and not used yet, the next one lowest
	nb   uint   // how many
	err  error  // sticky

	final   bool // the block being read is the last
	state   int  // inflateHeader, inflateStored or inflateHuffman
	stored  int  // bytes left in a stored block
	lit     *huffman
	dist    *huffman
	dyn     [2]huffman // the tables of a dynamic block
	copyLen int        // bytes left of a match being copied
	copyD   int        // its distance

	win  [windowSize]byte // the last 32 KiB of output (RFC 1951 §3.2.5)
	wpos int              // next write in win
	have int              // bytes of history, up to windowSize
}

const (
	inflateHeader = iota
	inflateStored
	inflateHuffman
	inflateDone

	windowSize = 1 << 15 // RFC 1951 §2: distances reach back 32 768 bytes
	maxBits    = 15      // RFC 1951 §3.2.2: codes are at most 15 bits
	// inflateBufSize is the buffer for the compressed bytes.
	inflateBufSize = 4 << 10
)

// errInflate is a malformed DEFLATE stream from the client.
var errInflate = errors.New("imapengine: invalid DEFLATE data from the client")

func newInflater(src io.Reader) *inflater {
	return &inflater{br: bufio.NewReaderSize(src, inflateBufSize)}
}

// huffman is a canonical Huffman code (RFC 1951 §3.2.2): how many codes
// have each length, and the symbols in code order.
type huffman struct {
	count  [maxBits + 1]uint16
	symbol [288]uint16
}

// build makes the code for the lengths of the symbols 0..len(lengths)-1;
// an over-subscribed set of lengths is an error.
func (h *huffman) build(lengths []uint8) error {
	h.count = [maxBits + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errInflate
		}
	}
	var offs [maxBits + 2]uint16
	for l := 1; l <= maxBits; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	return nil
}

// need makes sure n bits are in z.bits, reading (and maybe waiting).
func (z *inflater) need(n uint) error {
	for z.nb < n {
		b, err := z.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		z.bits |= uint64(b) << z.nb
		z.nb += 8
	}
	return nil
}

func (z *inflater) take(n uint) int {
	v := int(z.bits & (1<<n - 1))
	z.bits >>= n
	z.nb -= n
	return v
}

// getBits reads n bits as a number (RFC 1951 §3.1.1: least significant
// bit first).
func (z *inflater) getBits(n uint) (int, error) {
	if err := z.need(n); err != nil {
		return 0, err
	}
	return z.take(n), nil
}

// decode reads one symbol of h, a bit at a time (Huffman codes are
// packed most significant bit first, §3.1.1).
func (z *inflater) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= maxBits; l++ {
		b, err := z.getBits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := int(h.count[l])
		if code-count < first {
			return int(h.symbol[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errInflate
}

// starved reports whether reading n more bits could wait for the client.
func (z *inflater) starved(n uint) bool { return z.nb < n && z.br.Buffered() == 0 }

// Length and distance codes (RFC 1951 §3.2.5).
var (
	lenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// codeOrder is the order of the code length code lengths (§3.2.7).
	codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// fixedCodes are the codes of §3.2.6, made once per inflater.
func fixedCodes(lit, dist *huffman) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	lit.build(l[:])
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	dist.build(d[:])
}

// header reads a block header, and a dynamic block's code tables.
func (z *inflater) header() error {
	h, err := z.getBits(3)
	if err != nil {
		return err
	}
	z.final = h&1 == 1
	switch h >> 1 {
	case 0: // stored (§3.2.4): to a byte boundary, LEN, NLEN
		z.take(z.nb % 8)
		v, err := z.getBits(32)
		if err != nil {
			return err
		}
		if v&0xffff != ^v>>16&0xffff {
			return errInflate
		}
		z.stored, z.state = v&0xffff, inflateStored
	case 1:
		z.lit, z.dist = &z.dyn[0], &z.dyn[1]
		fixedCodes(z.lit, z.dist)
		z.state = inflateHuffman
	case 2:
		if err := z.dynamic(); err != nil {
			return err
		}
		z.lit, z.dist = &z.dyn[0], &z.dyn[1]
		z.state = inflateHuffman
	default:
		return errInflate
	}
	return nil
}

// dynamic reads the code tables of a dynamic block (§3.2.7).
func (z *inflater) dynamic() error {
	v, err := z.getBits(14)
	if err != nil {
		return err
	}
	nlen, ndist, ncode := v&31+257, v>>5&31+1, v>>10+4
	if nlen > 286 || ndist > 30 {
		return errInflate
	}
	var lengths [288 + 32]uint8
	for i := range ncode {
		b, err := z.getBits(3)
		if err != nil {
			return err
		}
		lengths[codeOrder[i]] = uint8(b)
	}
	var lencode huffman
	if err := lencode.build(lengths[:19]); err != nil {
		return err
	}
	lengths = [288 + 32]uint8{}
	for i := 0; i < nlen+ndist; {
		sym, err := z.decode(&lencode)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errInflate
			}
			val = lengths[i-1]
			rep, err = z.getBits(2)
			rep += 3
		case 17:
			rep, err = z.getBits(3)
			rep += 3
		default:
			rep, err = z.getBits(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if i+rep > nlen+ndist {
			return errInflate
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 { // no end-of-block code
		return errInflate
	}
	if err := z.dyn[0].build(lengths[:nlen]); err != nil {
		return err
	}
	return z.dyn[1].build(lengths[nlen : nlen+ndist])
}

func (z *inflater) put(b byte) {
	z.win[z.wpos] = b
	z.wpos = (z.wpos + 1) & (windowSize - 1)
	if z.have < windowSize {
		z.have++
	}
}

// Read inflates into p. It returns what it has as soon as going on would
// mean waiting for the client.
func (z *inflater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && z.err == nil {
		if z.copyLen > 0 {
			b := z.win[(z.wpos-z.copyD)&(windowSize-1)]
			z.put(b)
			p[n] = b
			n++
			z.copyLen--
			continue
		}
		switch z.state {
		case inflateDone:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case inflateHeader:
			if z.final {
				z.state = inflateDone
				continue
			}
			if n > 0 && z.starved(3) {
				return n, nil
			}
			z.err = z.header()
		case inflateStored:
			if z.stored == 0 {
				z.state = inflateHeader
				continue
			}
			if n > 0 && z.starved(8) {
				return n, nil
			}
			var b int
			if b, z.err = z.getBits(8); z.err == nil {
				z.put(byte(b))
				p[n] = byte(b)
				n++
				z.stored--
			}
		case inflateHuffman:
			if n > 0 && z.starved(maxBits) {
				return n, nil
			}
			z.err = z.symbol(p, &n)
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, z.err
}

// symbol decodes one literal/length symbol and, for a length, its
// distance: a literal goes to p, a match is copied by Read.
func (z *inflater) symbol(p []byte, n *int) error {
	sym, err := z.decode(z.lit)
	if err != nil {
		return err
	}
	switch {
	case sym < 256:
		z.put(byte(sym))
		p[*n] = byte(sym)
		*n++
		return nil
	case sym == 256:
		z.state = inflateHeader
		return nil
	}
	sym -= 257
	if sym >= len(lenBase) {
		return errInflate
	}
	extra, err := z.getBits(uint(lenExtra[sym]))
	if err != nil {
		return err
	}
	length := int(lenBase[sym]) + extra
	d, err := z.decode(z.dist)
	if err != nil {
		return err
	}
	if d >= len(dstBase) {
		return errInflate
	}
	if extra, err = z.getBits(uint(dstExtra[d])); err != nil {
		return err
	}
	dist := int(dstBase[d]) + extra
	if dist > z.have {
		return errInflate // before the start of the stream
	}
	z.copyLen, z.copyD = length, dist
	return nil
}
