package imapwire

import (
	"slices"
	"strconv"
)

// SeqRange is one element of a sequence set: Start through Stop,
// inclusive, with 0 standing for "*" (the largest number in use). Start
// <= Stop when both are numbers; a range with "*" has Stop 0 (RFC 9051
// §9: "4:2" is "2:4", "*:4" is "4:*").
type SeqRange struct{ Start, Stop uint32 }

// SeqSet is a sequence set (RFC 9051 §9 sequence-set), or "$", the saved
// search result of RFC 5182 §2 (Saved, with no ranges).
type SeqSet struct {
	Ranges []SeqRange
	Saved  bool
}

// Contains reports whether n is in the set, "*" being max. It is false
// for a Saved set: the server substitutes the saved result first.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s.Ranges {
		a, b := r.Start, r.Stop
		if a == 0 {
			a = max
		}
		if b == 0 {
			b = max
		}
		if a > b {
			a, b = b, a
		}
		if a <= n && n <= b {
			return true
		}
	}
	return false
}

// Dynamic reports whether the set uses "*" or "$", so that its meaning
// depends on the mailbox.
func (s SeqSet) Dynamic() bool {
	if s.Saved {
		return true
	}
	for _, r := range s.Ranges {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// String formats the set as the grammar writes it.
func (s SeqSet) String() string { return string(s.AppendTo(nil)) }

// AppendTo appends the set's wire form.
func (s SeqSet) AppendTo(b []byte) []byte {
	if s.Saved {
		return append(b, '$')
	}
	for i, r := range s.Ranges {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqNum(b, r.Start)
		if r.Start != r.Stop {
			b = append(b, ':')
			b = appendSeqNum(b, r.Stop)
		}
	}
	return b
}

func appendSeqNum(b []byte, n uint32) []byte {
	if n == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(n), 10)
}

// SetOf compresses numbers (any order, duplicates allowed) into a set of
// ranges: 1,2,3,5 → 1:3,5. It sorts nums in place.
func SetOf(nums []uint32) SeqSet {
	slices.Sort(nums)
	var s SeqSet
	for _, n := range nums {
		if n == 0 {
			continue
		}
		if k := len(s.Ranges); k > 0 {
			last := &s.Ranges[k-1]
			if n == last.Stop || n == last.Stop+1 {
				last.Stop = n
				continue
			}
		}
		s.Ranges = append(s.Ranges, SeqRange{n, n})
	}
	return s
}

// seqNumber reads seq-number = nz-number / "*".
func (r *Reader) seqNumber() (uint32, error) {
	if r.peek() == '*' {
		r.pos++
		return 0, nil
	}
	return r.nzNumber()
}

// seqSet reads sequence-set (RFC 9051 §9), with "$" (RFC 5182 §2) when
// savedOK.
func (r *Reader) seqSet(savedOK bool) (SeqSet, error) {
	if r.peek() == '$' {
		if !savedOK {
			return SeqSet{}, syntaxErr("$ not allowed here")
		}
		r.pos++
		return SeqSet{Saved: true}, nil
	}
	var s SeqSet
	for {
		a, err := r.seqNumber()
		if err != nil {
			return SeqSet{}, err
		}
		b := a
		if r.peek() == ':' {
			r.pos++
			if b, err = r.seqNumber(); err != nil {
				return SeqSet{}, err
			}
		}
		switch {
		case a == 0:
			a, b = b, 0
		case b != 0 && a > b:
			a, b = b, a
		}
		if len(s.Ranges) >= r.lim.MaxItems*16 {
			return SeqSet{}, tooBigErr("sequence set over %d ranges", r.lim.MaxItems*16)
		}
		s.Ranges = append(s.Ranges, SeqRange{a, b})
		if r.peek() != ',' {
			return s, nil
		}
		r.pos++
	}
}

// ParseSeqSet parses a sequence set on its own ("1:3,5,*", or "$").
func ParseSeqSet(s string) (SeqSet, error) {
	r := &Reader{line: []byte(s), lim: Limits{}.withDefaults()}
	set, err := r.seqSet(true)
	if err != nil {
		return SeqSet{}, err
	}
	if !r.atEnd() {
		return SeqSet{}, syntaxErr("junk after sequence set at %q", r.near())
	}
	return set, nil
}
