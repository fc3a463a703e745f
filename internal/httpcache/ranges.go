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
// another unit, invalid syntax, or too many ranges), and ErrUnsatisfiable
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
	return out, nil
}
