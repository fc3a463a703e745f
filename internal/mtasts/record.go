package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// Record errors: what LookupTXT's answer at _mta-sts.DOMAIN held. Each
// means, by RFC 8461 §3.1, that the domain has no available policy
// (though a cached unexpired one still applies, §3.1's note and §5.1).
var (
	// ErrNoRecord: no TXT record starts with "v=STSv1".
	ErrNoRecord = errors.New("mtasts: no v=STSv1 TXT record")
	// ErrMultipleRecords: more than one TXT record starts with "v=STSv1".
	ErrMultipleRecords = errors.New("mtasts: more than one v=STSv1 TXT record")
	// ErrRecordSyntax: the one v=STSv1 record does not parse.
	ErrRecordSyntax = errors.New("mtasts: TXT record syntax")
)

// maxIDLen is the longest policy id (RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT)).
const maxIDLen = 32

// maxExtNameLen bounds an extension's name (RFC 8461 §3.1: sts-ext-name
// = (ALPHA / DIGIT) *31(...), so 32 in all).
const maxExtNameLen = 32

// Record is a parsed _mta-sts TXT record (RFC 8461 §3.1).
type Record struct {
	// ID changes whenever the policy does.
	ID string
}

// RecordFrom picks the MTA-STS record among the TXT records of
// _mta-sts.DOMAIN (each one's strings already joined, §3.1): records
// that do not begin with v=STSv1 are dropped, and exactly one must be
// left and parse.
func RecordFrom(txts []string) (Record, error) {
	var found []string
	for _, t := range txts {
		if isSTS(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return Record{}, ErrNoRecord
	case 1:
		return ParseRecord(found[0])
	default:
		return Record{}, fmt.Errorf("%w (%d of them)", ErrMultipleRecords, len(found))
	}
}

// isSTS reports whether a TXT record is meant as an MTA-STS record: it
// begins with the version field, followed by a delimiter or nothing
// (§3.1: "records that do not begin with "v=STSv1;" are discarded"; the
// ABNF allows blanks before the ";", so "v=STSv1 ;" counts too and is
// then checked like any other).
func isSTS(t string) bool {
	rest, ok := strings.CutPrefix(t, "v=STSv1")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

// ParseRecord parses one TXT record by RFC 8461 §3.1:
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-field       = sts-id / sts-extension
//	sts-field-delim = *WSP ";" *WSP
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-extension   = sts-ext-name "=" sts-ext-value
//
// The id is required; extensions are checked and ignored.
func ParseRecord(s string) (Record, error) {
	bad := func(why string) (Record, error) {
		return Record{}, fmt.Errorf("%w: %q: %s", ErrRecordSyntax, s, why)
	}
	rest, ok := strings.CutPrefix(s, "v=STSv1")
	if !ok {
		return bad("does not begin with v=STSv1")
	}
	var r Record
	fields := strings.Split(rest, ";")
	for i, f := range fields {
		if i == 0 {
			if strings.Trim(f, " \t") != "" {
				return bad("text after v=STSv1 before the first ;")
			}
			continue
		}
		f = strings.Trim(f, " \t")
		if f == "" {
			// Only a trailing delimiter may be followed by nothing.
			if i == len(fields)-1 && i > 1 {
				continue
			}
			return bad("empty field")
		}
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return bad("field without =")
		}
		if name == "id" {
			if r.ID != "" {
				return bad("id given twice")
			}
			if len(value) == 0 || len(value) > maxIDLen || !alnum(value) {
				return bad("id is not 1 to 32 letters and digits")
			}
			r.ID = value
			continue
		}
		if !extName(name) || !extValue(value) {
			return bad("malformed extension field")
		}
	}
	if r.ID == "" {
		return bad("no id field")
	}
	return r, nil
}

// alnum reports whether s is only ASCII letters and digits.
func alnum(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// extName checks an extension name: (ALPHA / DIGIT) *31(ALPHA / DIGIT /
// "_" / "-" / "."), §3.1 and §3.2 alike.
func extName(s string) bool {
	if s == "" || len(s) > maxExtNameLen || !alnum(s[:1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(string(c)) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// extValue checks an extension value of the TXT record:
// 1*(%x21-3A / %x3C / %x3E-7E), printable ASCII but "=", ";" and space.
func extValue(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '=' || c == ';' {
			return false
		}
	}
	return true
}
