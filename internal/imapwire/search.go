package imapwire

import (
	"strconv"
	"strings"
	"time"
)

// SearchArgs are SEARCH's (RFC 9051 §6.4.4, ESEARCH RFC 4731 §3,
// SEARCHRES RFC 5182 §2): [SP "RETURN" SP "(" [search-return-opt *(SP
// search-return-opt)] ")"] SP ["CHARSET" SP charset SP] search-key *(SP
// search-key).
type SearchArgs struct {
	HasReturn bool     // RETURN was given (ESEARCH responses)
	Return    []string // upper case: MIN, MAX, ALL, COUNT, SAVE, CONTEXT, UPDATE, PARTIAL
	// Partial is PARTIAL's range (RFC 5267 §4.4), nil when
	// not given.
	Partial *PartialRange
	Charset string // "" when not given
	Keys    []SearchKey
}

// SearchKey is one search key of RFC 9051 §6.4.4 and its extensions. Name
// is upper case: the key's name ("FROM", "OR", "NOT", "UID", "LARGER",
// "MODSEQ", "OLDER", ...); "SEQSET" for a bare sequence set and "AND" for a
// parenthesized list.
type SearchKey struct {
	Name      string
	Value     string      // a string argument; HEADER's value; KEYWORD's flag; EMAILID's id
	Field     string      // HEADER's field name; MODSEQ's entry name
	EntryType string      // MODSEQ's entry type: "priv", "shared" or "all" (RFC 7162 §3.1.5)
	Number    uint64      // LARGER, SMALLER, MODSEQ, OLDER, YOUNGER
	Date      time.Time   // BEFORE, ON, SINCE, SENT*, SAVED*
	Set       *SeqSet     // SEQSET and UID
	Keys      []SearchKey // NOT: 1, OR: 2, AND: 1 or more
}

// searchArg says what follows a search key's name.
func searchArg(name string) (canon string, arg byte) {
	// Arguments: 0 none, 's' astring, 'k' keyword, 'd' date, 'h' header,
	// 'n' number64, 'z' nz-number, 'u' sequence set, '1' one key, '2' two
	// keys, 'm' MODSEQ, 'o' objectid.
	for _, k := range [...]struct {
		n string
		a byte
	}{
		{"ALL", 0}, {"ANSWERED", 0}, {"DELETED", 0}, {"FLAGGED", 0}, {"NEW", 0},
		{"OLD", 0}, {"RECENT", 0}, {"SEEN", 0}, {"UNANSWERED", 0}, {"UNDELETED", 0},
		{"UNFLAGGED", 0}, {"UNSEEN", 0}, {"DRAFT", 0}, {"UNDRAFT", 0}, {"SAVEDATESUPPORTED", 0},
		{"BCC", 's'}, {"BODY", 's'}, {"CC", 's'}, {"FROM", 's'}, {"SUBJECT", 's'}, {"TEXT", 's'}, {"TO", 's'},
		{"KEYWORD", 'k'}, {"UNKEYWORD", 'k'},
		{"BEFORE", 'd'}, {"ON", 'd'}, {"SINCE", 'd'}, {"SENTBEFORE", 'd'}, {"SENTON", 'd'},
		{"SENTSINCE", 'd'}, {"SAVEDBEFORE", 'd'}, {"SAVEDON", 'd'}, {"SAVEDSINCE", 'd'},
		{"HEADER", 'h'}, {"LARGER", 'n'}, {"SMALLER", 'n'},
		{"OLDER", 'z'}, {"YOUNGER", 'z'}, // WITHIN, RFC 5032 §3
		{"UID", 'u'}, {"NOT", '1'}, {"OR", '2'}, {"MODSEQ", 'm'},
		{"EMAILID", 'o'}, {"THREADID", 'o'}, // OBJECTID, RFC 8474 §6
	} {
		if k.n == name {
			return k.n, k.a
		}
	}
	return "", 0xff
}

func parseSearch(r *Reader) (any, error) {
	a := &SearchArgs{}
	if r.peekWord("RETURN") {
		a.HasReturn = true
		if err := r.sp(); err != nil {
			return nil, err
		}
		var err error
		if a.Return, a.Partial, err = r.returnOptions(true); err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	if r.peekWord("CHARSET") {
		if err := r.sp(); err != nil {
			return nil, err
		}
		cs, err := r.astring()
		if err != nil {
			return nil, err
		}
		a.Charset = cs
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	keys, err := r.searchKeys()
	if err != nil {
		return nil, err
	}
	a.Keys = keys
	return a, nil
}

// peekWord consumes word (case-insensitive) when it comes next as a
// whole atom.
func (r *Reader) peekWord(word string) bool {
	n := len(word)
	if len(r.line)-r.pos >= n && strings.EqualFold(string(r.line[r.pos:r.pos+n]), word) &&
		(r.pos+n == len(r.line) || !isAtomChar(r.line[r.pos+n])) {
		r.pos += n
		return true
	}
	return false
}

// searchKeys reads search-key *(SP search-key) to the end of the line or
// a ")".
func (r *Reader) searchKeys() ([]SearchKey, error) {
	keys := make([]SearchKey, 0, 4)
	for {
		if len(keys) >= r.lim.MaxItems {
			return nil, tooBigErr("more than %d search keys", r.lim.MaxItems)
		}
		k, err := r.searchKey()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		if r.peek() != ' ' {
			return keys, nil
		}
		r.pos++
	}
}

func (r *Reader) searchKey() (SearchKey, error) {
	c := r.peek()
	switch {
	case c == '(':
		if r.depth >= r.lim.MaxDepth {
			return SearchKey{}, tooBigErr("search keys nested over %d deep", r.lim.MaxDepth)
		}
		r.depth++
		r.pos++
		keys, err := r.searchKeys()
		if err != nil {
			return SearchKey{}, err
		}
		r.depth--
		return SearchKey{Name: "AND", Keys: keys}, r.expect(')')
	case c >= '0' && c <= '9' || c == '*' || c == '$':
		s, err := r.seqSet(true)
		return SearchKey{Name: "SEQSET", Set: &s}, err
	}
	var buf [24]byte
	n, err := r.upperAtom(buf[:])
	if err != nil {
		return SearchKey{}, err
	}
	name, arg := searchArg(string(n))
	if arg == 0xff {
		return SearchKey{}, syntaxErr("unknown search key %q", truncate(n))
	}
	k := SearchKey{Name: name}
	if arg == 0 {
		return k, nil
	}
	if err := r.sp(); err != nil {
		return k, err
	}
	switch arg {
	case 's':
		k.Value, err = r.astring()
	case 'k':
		var b []byte
		b, err = r.atom()
		k.Value = string(b)
	case 'd':
		k.Date, err = r.date()
	case 'h':
		if k.Field, err = r.astring(); err != nil {
			return k, err
		}
		if err = r.sp(); err != nil {
			return k, err
		}
		k.Value, err = r.astring()
	case 'n':
		k.Number, err = r.number64()
	case 'z':
		var n uint32
		n, err = r.nzNumber()
		k.Number = uint64(n)
	case 'u':
		var s SeqSet
		s, err = r.seqSet(true)
		k.Set = &s
	case '1', '2':
		if r.depth >= r.lim.MaxDepth {
			return k, tooBigErr("search keys nested over %d deep", r.lim.MaxDepth)
		}
		r.depth++
		var k1 SearchKey
		if k1, err = r.searchKey(); err != nil {
			return k, err
		}
		k.Keys = append(make([]SearchKey, 0, int(arg-'0')), k1)
		if arg == '2' {
			if err = r.sp(); err != nil {
				return k, err
			}
			var k2 SearchKey
			if k2, err = r.searchKey(); err != nil {
				return k, err
			}
			k.Keys = append(k.Keys, k2)
		}
		r.depth--
	case 'm':
		// RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP
		// mod-sequence-valzer; entry-name = DQUOTE "/flags/" attr-flag DQUOTE.
		if r.peek() == '"' {
			var b []byte
			if b, err = r.quoted(); err != nil {
				return k, err
			}
			if !strings.HasPrefix(strings.ToLower(string(b)), "/flags/") || len(b) == 7 {
				return k, syntaxErr("bad MODSEQ entry name")
			}
			k.Field = string(b)
			if err = r.sp(); err != nil {
				return k, err
			}
			var t []byte
			if t, err = r.atom(); err != nil {
				return k, err
			}
			switch strings.ToLower(string(t)) {
			case "priv":
				k.EntryType = "priv"
			case "shared":
				k.EntryType = "shared"
			case "all":
				k.EntryType = "all"
			default:
				return k, syntaxErr("bad MODSEQ entry type")
			}
			if err = r.sp(); err != nil {
				return k, err
			}
		}
		k.Number, err = r.modSeq(true)
	case 'o':
		// RFC 8474 §6: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
		b := r.span(func(c byte) bool {
			return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
		})
		if len(b) == 0 || len(b) > 255 {
			return k, syntaxErr("bad object id")
		}
		k.Value = string(b)
	}
	return k, err
}

func truncate(b []byte) string {
	if len(b) > 20 {
		b = b[:20]
	}
	return string(b)
}

// String gives the key's wire form.
func (k SearchKey) String() string { return string(k.AppendTo(nil)) }

// AppendTo appends the key's wire form (RFC 9051 §6.4.4).
func (k SearchKey) AppendTo(b []byte) []byte {
	switch k.Name {
	case "SEQSET":
		return k.Set.AppendTo(b)
	case "AND":
		b = append(b, '(')
		b = AppendSearchKeys(b, k.Keys)
		return append(b, ')')
	}
	b = append(b, k.Name...)
	_, arg := searchArg(k.Name)
	switch arg {
	case 's', 'k':
		b = append(b, ' ')
		if arg == 'k' {
			return append(b, k.Value...)
		}
		return appendAString(b, k.Value, true)
	case 'o':
		return append(append(b, ' '), k.Value...)
	case 'd':
		b = append(b, ' ')
		return k.Date.AppendFormat(b, DateLayout)
	case 'h':
		b = append(b, ' ')
		b = appendAString(b, k.Field, true)
		b = append(b, ' ')
		return appendAString(b, k.Value, true)
	case 'n', 'z':
		b = append(b, ' ')
		return strconv.AppendUint(b, k.Number, 10)
	case 'u':
		b = append(b, ' ')
		return k.Set.AppendTo(b)
	case '1', '2':
		for _, c := range k.Keys {
			b = append(b, ' ')
			b = c.AppendTo(b)
		}
	case 'm':
		if k.Field != "" {
			b = append(b, ' ')
			b = appendQuoted(b, k.Field)
			b = append(b, ' ')
			b = append(b, k.EntryType...)
		}
		b = append(b, ' ')
		return strconv.AppendUint(b, k.Number, 10)
	}
	return b
}

// AppendSearchKeys appends keys separated by spaces.
func AppendSearchKeys(b []byte, keys []SearchKey) []byte {
	for i, k := range keys {
		if i > 0 {
			b = append(b, ' ')
		}
		b = k.AppendTo(b)
	}
	return b
}

// SortArgs are SORT's (RFC 5256 §3, ESORT RFC 5267 §3): [search-return-opts]
// SP sort-criteria SP charset 1*(SP search-key).
type SortArgs struct {
	HasReturn bool
	Return    []string      // upper case: MIN, MAX, ALL, COUNT, CONTEXT, UPDATE, PARTIAL
	Partial   *PartialRange // PARTIAL's range (RFC 5267 §4.4), nil when not given
	Criteria  []SortCriterion
	Charset   string
	Keys      []SearchKey
}

// SortCriterion is a sort key (upper case: ARRIVAL, CC, DATE, FROM, SIZE,
// SUBJECT, TO, DISPLAYFROM, DISPLAYTO) and its REVERSE.
type SortCriterion struct {
	Key     string
	Reverse bool
}

func parseSort(r *Reader) (any, error) {
	a := &SortArgs{}
	if r.peekWord("RETURN") {
		a.HasReturn = true
		if err := r.sp(); err != nil {
			return nil, err
		}
		var err error
		if a.Return, a.Partial, err = r.returnOptions(false); err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	words, err := r.atomList(false)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(words); i++ {
		c := SortCriterion{}
		if words[i] == "REVERSE" {
			c.Reverse = true
			i++
			if i == len(words) {
				return nil, syntaxErr("REVERSE without a sort key")
			}
		}
		switch words[i] {
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO":
			c.Key = words[i]
		default:
			return nil, syntaxErr("unknown sort key %q", words[i])
		}
		a.Criteria = append(a.Criteria, c)
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if a.Charset, a.Keys, err = r.searchCriteria(); err != nil {
		return nil, err
	}
	return a, nil
}

// searchCriteria reads charset 1*(SP search-key) (RFC 5256 §5).
func (r *Reader) searchCriteria() (string, []SearchKey, error) {
	cs, err := r.astring()
	if err != nil {
		return "", nil, err
	}
	if err := r.sp(); err != nil {
		return "", nil, err
	}
	keys, err := r.searchKeys()
	return cs, keys, err
}

// ThreadArgs are THREAD's (RFC 5256 §3): thread-alg SP search-criteria.
type ThreadArgs struct {
	Algorithm string // upper case: ORDEREDSUBJECT, REFERENCES
	Charset   string
	Keys      []SearchKey
}

func parseThread(r *Reader) (any, error) {
	var buf [24]byte
	alg, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	a := &ThreadArgs{Algorithm: string(alg)}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if a.Charset, a.Keys, err = r.searchCriteria(); err != nil {
		return nil, err
	}
	return a, nil
}
