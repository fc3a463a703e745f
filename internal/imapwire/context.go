package imapwire

import "strconv"

// PartialRange is the range of the PARTIAL search return option (RFC
// 5267 §4.4): results First to Last counted from 1, as the client wrote
// them, since the response repeats the range; Bounds orders them. RFC
// 9394's ranges counted from the end ("-1:-100") are not accepted: pail
// does not offer that extension (docs/rfc.md).
type PartialRange struct {
	First, Last uint32
}

// Bounds returns the range's numbers in ascending order (RFC 5267 §5: "A
// range 500:400 is the same as 400:500").
func (p PartialRange) Bounds() (lo, hi uint32) {
	return min(p.First, p.Last), max(p.First, p.Last)
}

// AppendTo appends the range's wire form ("1:500").
func (p PartialRange) AppendTo(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(p.First), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(p.Last), 10)
}

// partialRange reads RFC 5267 §5's partial-range = nz-number ":"
// nz-number.
func (r *Reader) partialRange() (PartialRange, error) {
	var p PartialRange
	if r.peek() == '-' {
		return p, syntaxErr("PARTIAL ranges counted from the end (RFC 9394) are not supported")
	}
	var err error
	if p.First, err = r.nzNumber(); err != nil {
		return p, err
	}
	if err := r.expect(':'); err != nil {
		return p, err
	}
	if p.Last, err = r.nzNumber(); err != nil {
		return p, err
	}
	return p, nil
}

// returnOptions reads search-return-opts' list (RFC 4466 §2.6): "("
// [search-return-opt *(SP search-return-opt)] ")", with ESEARCH's MIN,
// MAX, ALL, COUNT (RFC 4731), SAVE when save (SEARCHRES, RFC 5182: SEARCH
// only) and CONTEXT's CONTEXT, UPDATE and PARTIAL range (RFC 5267 §4).
// RFC 5267 §4.4: at most one PARTIAL or ALL; a repeated UPDATE is BAD as
// well, as it has no meaning twice.
func (r *Reader) returnOptions(save bool) ([]string, *PartialRange, error) {
	if err := r.expect('('); err != nil {
		return nil, nil, err
	}
	out := make([]string, 0, 4)
	var partial *PartialRange
	for r.peek() != ')' {
		if len(out) > 0 {
			if err := r.sp(); err != nil {
				return nil, nil, err
			}
		}
		var buf [32]byte
		b, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, nil, err
		}
		if len(out) >= r.lim.MaxItems {
			return nil, nil, tooBigErr("more than %d return options", r.lim.MaxItems)
		}
		o := intern(b)
		switch o {
		case "MIN", "MAX", "COUNT", "CONTEXT":
		case "SAVE":
			if !save {
				return nil, nil, syntaxErr("SAVE is a SEARCH return option")
			}
		case "ALL", "PARTIAL":
			for _, p := range out {
				if p == "ALL" || p == "PARTIAL" {
					return nil, nil, syntaxErr("at most one ALL or PARTIAL return option")
				}
			}
			if o == "PARTIAL" {
				if err := r.sp(); err != nil {
					return nil, nil, err
				}
				p, err := r.partialRange()
				if err != nil {
					return nil, nil, err
				}
				partial = &p
			}
		case "UPDATE":
			for _, p := range out {
				if p == "UPDATE" {
					return nil, nil, syntaxErr("UPDATE given twice")
				}
			}
		default:
			return nil, nil, syntaxErr("unknown RETURN option %q", truncate(b))
		}
		out = append(out, o)
	}
	r.pos++
	return out, partial, nil
}

// CancelUpdateArgs are CANCELUPDATE's (RFC 5267 §4.3.5): 1*(SP quoted),
// the tags of the searching commands whose updates end.
type CancelUpdateArgs struct {
	Tags []string
}

func parseCancelUpdate(r *Reader) (any, error) {
	a := &CancelUpdateArgs{}
	for {
		if len(a.Tags) >= r.lim.MaxItems {
			return nil, tooBigErr("more than %d tags", r.lim.MaxItems)
		}
		if r.peek() != '"' {
			return nil, syntaxErr("CANCELUPDATE takes quoted tags")
		}
		b, err := r.quoted()
		if err != nil {
			return nil, err
		}
		a.Tags = append(a.Tags, string(b))
		if !r.maybeSP() {
			return a, nil
		}
	}
}

// ESearchPartial is ESEARCH's PARTIAL return data (RFC 5267 §4.4): the
// range asked for and the results in it, NIL when Set is empty.
type ESearchPartial struct {
	Range PartialRange
	Set   SeqSet
}

// ContextUpdate is one ADDTO or REMOVEFROM return data item of an
// updating search (RFC 5267 §4.3.3, §4.3.4): pairs of a context position
// (0 for SEARCH: wherever mailbox order puts them) and the results to
// insert there or remove from there, in the requested order.
type ContextUpdate struct {
	Remove bool // REMOVEFROM; else ADDTO
	Pairs  []ContextPair
}

// ContextPair is a context position and a set of results.
type ContextPair struct {
	Pos uint32
	Set SeqSet
}

// appendContextUpdates appends " ADDTO (pos set ...)" and " REMOVEFROM
// (...)" items in order.
func appendContextUpdates(b []byte, us []ContextUpdate) []byte {
	for _, u := range us {
		if u.Remove {
			b = append(b, " REMOVEFROM ("...)
		} else {
			b = append(b, " ADDTO ("...)
		}
		for i, p := range u.Pairs {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(p.Pos), 10)
			b = append(b, ' ')
			b = p.Set.AppendTo(b)
		}
		b = append(b, ')')
	}
	return b
}

// appendPartial appends " PARTIAL (range set)" or " PARTIAL (range NIL)".
func appendPartial(b []byte, p *ESearchPartial) []byte {
	b = append(b, " PARTIAL ("...)
	b = p.Range.AppendTo(b)
	if len(p.Set.Ranges) == 0 {
		b = append(b, " NIL)"...)
		return b
	}
	b = append(b, ' ')
	b = p.Set.AppendTo(b)
	return append(b, ')')
}
