package sieve

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// comparator is a collation (RFC 4790) a test compares with.
type comparator uint8

const (
	cmpCasemap comparator = iota // "i;ascii-casemap", the default (RFC 5228 §2.7.3)
	cmpOctet                     // "i;octet"
	cmpNumeric                   // "i;ascii-numeric" (RFC 4790 §9.1)
)

// matchType is how a test compares (RFC 5228 §2.7.1, RFC 5231, regex).
type matchType uint8

const (
	mtIs matchType = iota // the default
	mtContains
	mtMatches
	mtRegex
	mtValue
	mtCount
)

// matcher holds a test's comparator and match type, with the relational
// operator and precompiled regular expressions where they apply.
type matcher struct {
	typ matchType
	cmp comparator
	rel string // mtValue, mtCount: gt ge lt le eq ne
	// res holds the compiled key of each constant :regex key, by key;
	// globs the same for :matches.
	res   map[string]*regexp.Regexp
	globs map[string][]globItem
}

// lowerASCII maps A-Z to a-z and leaves every other byte alone: the
// i;ascii-casemap collation (RFC 4790 §9.2).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// compare orders a against b under the comparator: -1, 0 or 1.
func (c comparator) compare(a, b string) int {
	switch c {
	case cmpOctet:
		return strings.Compare(a, b)
	case cmpNumeric:
		return compareNumeric(a, b)
	}
	return strings.Compare(lowerASCII(a), lowerASCII(b))
}

// compareNumeric is i;ascii-numeric's ordering (RFC 4790 §9.1.1): the
// value of a string is that of its leading digits; a string that does
// not start with a digit is positive infinity, equal to every other such
// string. Arbitrarily long numbers compare exactly.
func compareNumeric(a, b string) int {
	da, db := leadingDigits(a), leadingDigits(b)
	switch {
	case da == "" && db == "":
		return 0
	case da == "":
		return 1
	case db == "":
		return -1
	}
	da = strings.TrimLeft(da, "0")
	db = strings.TrimLeft(db, "0")
	if len(da) != len(db) {
		if len(da) < len(db) {
			return -1
		}
		return 1
	}
	return strings.Compare(da, db)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i]
}

// relation applies a relational operator (RFC 5231 §4) to an ordering.
func relation(op string, c int) bool {
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	}
	return false
}

// validRelation reports whether s names a relational operator (RFC 5231
// §4: "gt" / "ge" / "lt" / "le" / "eq" / "ne", case-insensitive).
func validRelation(s string) bool {
	switch strings.ToLower(s) {
	case "gt", "ge", "lt", "le", "eq", "ne":
		return true
	}
	return false
}

// equalChar compares two runes under the comparator.
func (c comparator) equalRune(a, b rune) bool {
	if c == cmpCasemap {
		if a >= 'A' && a <= 'Z' {
			a += 'a' - 'A'
		}
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
	}
	return a == b
}

// globStepCost is how many character comparisons of :matches cost one
// step of Limits.MaxSteps: a run's default budget then allows some 64
// million, tens of milliseconds.
const globStepCost = 64

// globItem is one element of a :matches pattern.
type globItem struct {
	kind byte // 'l' literal, '?' one character, '*' any sequence
	r    rune
}

// compileGlob reads a :matches key (RFC 5228 §2.7.1): "*" matches any
// sequence, "?" one character, "\" makes the next character literal.
func compileGlob(key string) []globItem {
	var items []globItem
	for i := 0; i < len(key); {
		r, n := utf8.DecodeRuneInString(key[i:])
		i += n
		switch r {
		case '*':
			items = append(items, globItem{kind: '*'})
		case '?':
			items = append(items, globItem{kind: '?'})
		case '\\':
			if i < len(key) {
				r, n = utf8.DecodeRuneInString(key[i:])
				i += n
			}
			items = append(items, globItem{kind: 'l', r: r})
		default:
			items = append(items, globItem{kind: 'l', r: r})
		}
	}
	return items
}

// glob matches value against a compiled pattern. Each wildcard takes as
// few characters as it can, from the left, which is how RFC 5229 §3.2
// fills the match variables ("[*] *" against "[a] [b] c" gives "a" and
// "[b] c"). It returns the wildcards' substrings when it matches. step
// is called once per globStepCost comparisons so a costly pattern
// spends the run's budget; it returns false to stop.
func glob(c comparator, items []globItem, value string, step func() bool) (bool, []string) {
	nw := 0
	for _, it := range items {
		if it.kind != 'l' {
			nw++
		}
	}
	type span struct{ s, e int }
	caps := make([]span, nw)
	widx := make([]int, len(items)) // wildcard index of each item
	w := 0
	for i, it := range items {
		widx[i] = w
		if it.kind != 'l' {
			w++
		}
	}
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for iter := 1; ; iter++ {
		if iter%globStepCost == 0 && !step() {
			return false, nil
		}
		if pi == len(items) && si == len(value) {
			break
		}
		if pi < len(items) {
			it := items[pi]
			if it.kind == '*' {
				starPi, starSi = pi, si
				caps[widx[pi]] = span{si, si}
				pi++
				continue
			}
			if si < len(value) {
				r, n := utf8.DecodeRuneInString(value[si:])
				if it.kind == '?' {
					caps[widx[pi]] = span{si, si + n}
					pi++
					si += n
					continue
				}
				if c.equalRune(it.r, r) {
					pi++
					si += n
					continue
				}
			}
		}
		// Mismatch: let the last "*" take one more character.
		if starPi < 0 || starSi >= len(value) {
			return false, nil
		}
		_, n := utf8.DecodeRuneInString(value[starSi:])
		starSi += n
		caps[widx[starPi]].e = starSi
		pi, si = starPi+1, starSi
	}
	out := make([]string, nw)
	for i, s := range caps {
		out[i] = value[s.s:s.e]
	}
	return true, out
}

// contains is :contains under the comparator.
func (c comparator) contains(value, key string) bool {
	if c == cmpCasemap {
		return strings.Contains(lowerASCII(value), lowerASCII(key))
	}
	return strings.Contains(value, key)
}
