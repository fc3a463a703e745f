package imapwire

import "math"

// number reads RFC 9051 §9 number = 1*DIGIT (unsigned 32-bit).
func (r *Reader) number() (uint32, error) {
	n, err := r.digits(math.MaxUint32)
	return uint32(n), err
}

// nzNumber reads nz-number = digit-nz *DIGIT.
func (r *Reader) nzNumber() (uint32, error) {
	n, err := r.number()
	if err == nil && n == 0 {
		return 0, syntaxErr("zero where a non-zero number is required")
	}
	return n, err
}

// number64 reads number64 = 1*DIGIT (unsigned 63-bit, RFC 9051 §9).
func (r *Reader) number64() (uint64, error) {
	return r.digits(math.MaxInt64)
}

// modSeq reads mod-sequence-value = 1*DIGIT, 1 to 2^63-1 (RFC 7162 §7);
// zero is allowed when zeroOK (mod-sequence-valzer).
func (r *Reader) modSeq(zeroOK bool) (uint64, error) {
	n, err := r.digits(math.MaxInt64)
	if err == nil && n == 0 && !zeroOK {
		return 0, syntaxErr("zero mod-sequence")
	}
	return n, err
}

func (r *Reader) digits(max uint64) (uint64, error) {
	start := r.pos
	var n uint64
	for r.pos < len(r.line) && r.line[r.pos] >= '0' && r.line[r.pos] <= '9' {
		d := uint64(r.line[r.pos] - '0')
		if n > (max-d)/10 {
			return 0, syntaxErr("number out of range")
		}
		n = n*10 + d
		r.pos++
	}
	if r.pos == start {
		if r.atEnd() {
			return 0, syntaxErr("missing number")
		}
		return 0, syntaxErr("expected a number at %q", r.near())
	}
	return n, nil
}
