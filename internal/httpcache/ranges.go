package httpcache

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxRanges bounds the ranges honoured in one request: many small or
// overlapping ranges are a known denial-of-service (RFC 9110 §14.2).
const maxRanges = 16

// ErrUnsatisfiable means no range of the request overlaps the
// representation; the answer is 416 (RFC 9110 §15.5.17).
var ErrUnsatisfiable = errors.New("httpcache: range not satisfiable")

// ByteRange is one satisfiable range: Length bytes from Start.
type ByteRange struct {
	Start, Length int64
}

// ContentRange renders the Content-Range value for r of a size-byte
// representation (RFC 9110 §14.4).
func (r ByteRange) ContentRange(size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", r.Start, r.Start+r.Length-1, size)
}

// ParseRange parses a Range field (RFC 9110 §14.2) for a representation of
// size bytes. It returns nil, nil when the field should be ignored (absent,
// another unit, invalid syntax, too many ranges, overlapping ranges or
// ranges out of order: orderly), and ErrUnsatisfiable
// when it is valid but no range overlaps.
func ParseRange(s string, size int64) ([]ByteRange, error) {
	unit, set, ok := strings.Cut(s, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, nil
	}
	specs := strings.Split(set, ",")
	if len(specs) > maxRanges {
		return nil, nil
	}
	var out []ByteRange
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, nil
		}
		var r ByteRange
		switch {
		case first == "": // suffix-range: the last N bytes
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return nil, nil
			}
			if n == 0 || size == 0 {
				continue
			}
			n = min(n, size)
			r = ByteRange{Start: size - n, Length: n}
		default:
			start, err := strconv.ParseInt(first, 10, 64)
			if err != nil || start < 0 {
				return nil, nil
			}
			end := size - 1
			if last != "" {
				e, err := strconv.ParseInt(last, 10, 64)
				if err != nil || e < start {
					return nil, nil
				}
				end = min(e, size-1)
			}
			if start >= size {
				continue
			}
			r = ByteRange{Start: start, Length: end - start + 1}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, ErrUnsatisfiable
	}
	if !orderly(out) {
		return nil, nil
	}
	return out, nil
}

// orderly reports whether a set of ranges may be served as asked: RFC
// 9110 §14.2 lets a server ignore a Range with overlapping ranges or with
// many ranges out of ascending order (both are ways to make a server send
// far more than the representation); pail serves the whole representation
// for any overlap, and for more than two ranges out of order.
func orderly(rs []ByteRange) bool {
	for i, a := range rs {
		if i > 0 && len(rs) > 2 && a.Start < rs[i-1].Start {
			return false
		}
		for _, b := range rs[:i] {
			if a.Start < b.Start+b.Length && b.Start < a.Start+a.Length {
				return false
			}
		}
	}
	return true
}
