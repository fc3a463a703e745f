package imapwire

import (
	"strconv"
)

// FetchArgs are FETCH's (RFC 9051 §6.4.5, CONDSTORE/QRESYNC RFC 7162
// §3.1.4, §3.2.6): sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att
// / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers].
type FetchArgs struct {
	Set             SeqSet
	Macro           string      // "ALL", "FAST" or "FULL" when one was given; Items has it expanded
	Items           []FetchItem // in the order given
	ChangedSince    uint64      // CHANGEDSINCE's value
	HasChangedSince bool
	Vanished        bool // the VANISHED modifier (UID FETCH, RFC 7162 §3.2.6)
}

// FetchItem is one fetch-att. Name is upper case: ENVELOPE, FLAGS,
// INTERNALDATE, RFC822, RFC822.HEADER, RFC822.SIZE, RFC822.TEXT, BODY,
// BODYSTRUCTURE, UID, BINARY, BINARY.SIZE, MODSEQ, EMAILID, THREADID,
// SAVEDATE, PREVIEW. BODY with a Section is BODY[...] (Peek for
// BODY.PEEK), BINARY is always with one (Peek for BINARY.PEEK).
type FetchItem struct {
	Name    string
	Section *Section
	Peek    bool
	Partial *Partial
	Lazy    bool // PREVIEW (LAZY), RFC 8970 §3
}

// Section is a body section (RFC 9051 §9 section-spec): the part numbers,
// then a specifier: "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
// "TEXT" or "MIME", with the header field names of HEADER.FIELDS.
type Section struct {
	Part      []uint32
	Specifier string
	Fields    []string
}

// Partial is "<" offset "." count ">" (RFC 9051 §9 partial).
type Partial struct{ Offset, Count uint32 }

// AppendTo appends the section's wire form, "[1.2.HEADER.FIELDS (From)]".
func (s *Section) AppendTo(b []byte) []byte {
	b = append(b, '[')
	for i, p := range s.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(p), 10)
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.Specifier...)
	}
	if len(s.Fields) > 0 {
		b = append(b, " ("...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendAString(b, f, false)
		}
		b = append(b, ')')
	}
	return append(b, ']')
}

// ResponseName appends the name of the item as a FETCH response gives it:
// without .PEEK, the partial as its origin ("BODY[]<0>"). RFC 9051 §7.5.2.
func (it *FetchItem) ResponseName(b []byte) []byte {
	if it.Section == nil {
		return append(b, it.Name...)
	}
	b = append(b, it.Name...)
	b = it.Section.AppendTo(b)
	if it.Partial != nil {
		b = append(b, '<')
		b = strconv.AppendUint(b, uint64(it.Partial.Offset), 10)
		b = append(b, '>')
	}
	return b
}

func isFetchNameChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-'
}

func parseFetch(r *Reader) (any, error) {
	s, err := r.seqSet(true)
	if err != nil {
		return nil, err
	}
	a := &FetchArgs{Set: s}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		r.pos++
		a.Items = make([]FetchItem, 0, 8) // typical clients ask for 2 to 8 items
		for first := true; r.peek() != ')'; first = false {
			if !first {
				if err := r.sp(); err != nil {
					return nil, err
				}
			}
			if len(a.Items) >= r.lim.MaxItems {
				return nil, tooBigErr("more than %d fetch items", r.lim.MaxItems)
			}
			if err := r.fetchAtt(a, false); err != nil {
				return nil, err
			}
		}
		r.pos++
		if len(a.Items) == 0 {
			return nil, syntaxErr("no fetch items")
		}
	} else if err := r.fetchAtt(a, true); err != nil {
		return nil, err
	}
	if r.maybeSP() {
		if err := r.fetchModifiers(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// fetchAtt reads one fetch-att, or a macro when macroOK.
func (r *Reader) fetchAtt(a *FetchArgs, macroOK bool) error {
	var buf [24]byte
	nb := r.span(isFetchNameChar)
	if len(nb) == 0 || len(nb) > len(buf) {
		return syntaxErr("bad fetch item at %q", r.near())
	}
	n := buf[:0]
	for _, c := range nb {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		n = append(n, c)
	}
	it := FetchItem{}
	switch string(n) {
	case "ALL", "FAST", "FULL":
		if !macroOK {
			return syntaxErr("%s inside a list", string(n))
		}
		a.Macro = map3(string(n))
		a.Items = append(a.Items, FetchItem{Name: "FLAGS"}, FetchItem{Name: "INTERNALDATE"}, FetchItem{Name: "RFC822.SIZE"})
		if a.Macro != "FAST" {
			a.Items = append(a.Items, FetchItem{Name: "ENVELOPE"})
		}
		if a.Macro == "FULL" {
			a.Items = append(a.Items, FetchItem{Name: "BODY"})
		}
		return nil
	case "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
		"RFC822.TEXT", "BODYSTRUCTURE", "UID", "MODSEQ", "EMAILID", "THREADID", "SAVEDATE":
		it.Name = fetchName(n)
		if r.peek() == '[' {
			return syntaxErr("%s takes no section", string(n))
		}
	case "PREVIEW":
		it.Name = "PREVIEW"
		if r.peek() == ' ' && r.pos+1 < len(r.line) && r.line[r.pos+1] == '(' {
			r.pos++
			mods, err := r.atomList(false)
			if err != nil {
				return err
			}
			for _, m := range mods {
				if m != "LAZY" {
					return syntaxErr("unknown PREVIEW modifier")
				}
				it.Lazy = true
			}
		}
	case "BODY", "BODY.PEEK":
		it.Name = "BODY"
		it.Peek = len(n) > 4
		if r.peek() != '[' {
			if it.Peek {
				return syntaxErr("BODY.PEEK needs a section")
			}
			break
		}
		sec, err := r.section(false)
		if err != nil {
			return err
		}
		it.Section = sec
		if it.Partial, err = r.partial(); err != nil {
			return err
		}
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		// RFC 3516 §4.1: section-binary = "[" [section-part] "]".
		it.Name = "BINARY"
		it.Peek = string(n) == "BINARY.PEEK"
		if string(n) == "BINARY.SIZE" {
			it.Name = "BINARY.SIZE"
		}
		sec, err := r.section(true)
		if err != nil {
			return err
		}
		it.Section = sec
		if it.Name == "BINARY" {
			if it.Partial, err = r.partial(); err != nil {
				return err
			}
		}
	default:
		return syntaxErr("unknown fetch item %q", string(n))
	}
	a.Items = append(a.Items, it)
	return nil
}

func map3(s string) string {
	switch s {
	case "ALL":
		return "ALL"
	case "FAST":
		return "FAST"
	}
	return "FULL"
}

func fetchName(n []byte) string {
	for _, s := range [...]string{"ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER",
		"RFC822.SIZE", "RFC822.TEXT", "BODYSTRUCTURE", "UID", "MODSEQ", "EMAILID", "THREADID", "SAVEDATE"} {
		if s == string(n) {
			return s
		}
	}
	return string(n)
}

// section reads section = "[" [section-spec] "]"; partsOnly for
// section-binary.
func (r *Reader) section(partsOnly bool) (*Section, error) {
	if err := r.expect('['); err != nil {
		return nil, err
	}
	s := &Section{}
	for r.peek() >= '0' && r.peek() <= '9' {
		p, err := r.nzNumber()
		if err != nil {
			return nil, err
		}
		if len(s.Part) >= r.lim.MaxDepth {
			return nil, tooBigErr("section part too deep")
		}
		s.Part = append(s.Part, p)
		if r.peek() != '.' {
			break
		}
		r.pos++
		if c := r.peek(); c < '0' || c > '9' {
			if partsOnly {
				return nil, syntaxErr("BINARY takes part numbers only")
			}
			break
		}
	}
	if r.peek() != ']' {
		if partsOnly {
			return nil, syntaxErr("BINARY takes part numbers only")
		}
		spec := r.span(func(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '.' })
		var buf [24]byte
		if len(spec) > len(buf) {
			return nil, syntaxErr("bad section")
		}
		u := buf[:0]
		for _, c := range spec {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			u = append(u, c)
		}
		switch string(u) {
		case "HEADER":
			s.Specifier = "HEADER"
		case "TEXT":
			s.Specifier = "TEXT"
		case "MIME":
			if len(s.Part) == 0 {
				return nil, syntaxErr("MIME needs a part number")
			}
			s.Specifier = "MIME"
		case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
			s.Specifier = "HEADER.FIELDS"
			s.Fields = make([]string, 0, 8)
			if len(u) > 13 {
				s.Specifier = "HEADER.FIELDS.NOT"
			}
			if err := r.sp(); err != nil {
				return nil, err
			}
			if err := r.expect('('); err != nil {
				return nil, err
			}
			for first := true; r.peek() != ')'; first = false {
				if !first {
					if err := r.sp(); err != nil {
						return nil, err
					}
				}
				f, err := r.astring()
				if err != nil {
					return nil, err
				}
				if len(s.Fields) >= r.lim.MaxItems {
					return nil, tooBigErr("too many header fields")
				}
				s.Fields = append(s.Fields, f)
			}
			r.pos++
			if len(s.Fields) == 0 {
				return nil, syntaxErr("empty header list")
			}
		default:
			return nil, syntaxErr("bad section")
		}
	}
	return s, r.expect(']')
}

// partial reads an optional "<" number "." nz-number ">".
func (r *Reader) partial() (*Partial, error) {
	if r.peek() != '<' {
		return nil, nil
	}
	r.pos++
	off, err := r.number()
	if err != nil {
		return nil, err
	}
	if err := r.expect('.'); err != nil {
		return nil, err
	}
	n, err := r.nzNumber()
	if err != nil {
		return nil, err
	}
	return &Partial{Offset: off, Count: n}, r.expect('>')
}

// fetchModifiers reads "(" fetch-modifier *(SP fetch-modifier) ")"
// (RFC 4466 §2.4, RFC 7162 §3.1.4.1, §3.2.6).
func (r *Reader) fetchModifiers(a *FetchArgs) error {
	if err := r.expect('('); err != nil {
		return err
	}
	for first := true; r.peek() != ')'; first = false {
		if !first {
			if err := r.sp(); err != nil {
				return err
			}
		}
		var buf [16]byte
		m, err := r.upperAtom(buf[:])
		if err != nil {
			return err
		}
		switch string(m) {
		case "CHANGEDSINCE":
			if err := r.sp(); err != nil {
				return err
			}
			if a.ChangedSince, err = r.modSeq(true); err != nil {
				return err
			}
			a.HasChangedSince = true
		case "VANISHED":
			a.Vanished = true
		default:
			return syntaxErr("unknown FETCH modifier")
		}
	}
	r.pos++
	return nil
}

// StoreArgs are STORE's (RFC 9051 §6.4.6, RFC 7162 §3.1.3): sequence-set
// [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"] SP (["+" / "-"]
// "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag))).
type StoreArgs struct {
	Set               SeqSet
	Op                byte // '+' add, '-' remove, '=' replace
	Silent            bool
	Flags             []string
	UnchangedSince    uint64
	HasUnchangedSince bool
}

func parseStore(r *Reader) (any, error) {
	s, err := r.seqSet(true)
	if err != nil {
		return nil, err
	}
	a := &StoreArgs{Set: s, Op: '='}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		r.pos++
		var buf [16]byte
		m, err := r.upperAtom(buf[:])
		if err != nil {
			return nil, err
		}
		if string(m) != "UNCHANGEDSINCE" {
			return nil, syntaxErr("unknown STORE modifier")
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
		if a.UnchangedSince, err = r.modSeq(true); err != nil {
			return nil, err
		}
		a.HasUnchangedSince = true
		if err := r.expect(')'); err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	if c := r.peek(); c == '+' || c == '-' {
		a.Op = c
		r.pos++
	}
	var buf [16]byte
	kw, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	switch string(kw) {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		return nil, syntaxErr("expected FLAGS")
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		if a.Flags, err = r.flagList(); err != nil {
			return nil, err
		}
		return a, nil
	}
	for {
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		if len(a.Flags) >= r.lim.MaxItems {
			return nil, tooBigErr("too many flags")
		}
		a.Flags = append(a.Flags, f)
		if !r.maybeSP() {
			return a, nil
		}
	}
}
