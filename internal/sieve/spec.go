package sieve

// Extensions lists every capability the interpreter implements, in the
// order ManageSieve's SIEVE capability should list them (RFC 5804 §1.7).
var extensionNames = []string{
	"fileinto", "reject", "ereject", "envelope", "encoded-character",
	"imap4flags", "variables", "body", "relational",
	"comparator-i;ascii-numeric", "comparator-i;octet", "comparator-i;ascii-casemap",
	"subaddress", "copy", "date", "index", "vacation", "vacation-seconds",
	"include", "regex", "duplicate", "mailbox",
	"spamtest", "spamtestplus", "virustest",
}

// Extensions returns the capability names the interpreter implements
// (for ManageSieve's SIEVE capability).
func Extensions() []string { return append([]string(nil), extensionNames...) }

// implies lists the extensions that requiring another one brings along:
// RFC 5235 §3.3: "spamtestplus" includes "spamtest"; RFC 6131 §2:
// "vacation-seconds" extends "vacation".
var implies = map[string][]string{
	"spamtestplus":     {"spamtest"},
	"vacation-seconds": {"vacation"},
}

// valKind is what an argument must be.
type valKind uint8

const (
	vNone   valKind = iota // a tag that takes no argument
	vString                // a single string, not a bracketed list
	vList                  // a string list (or a single string)
	vNumber
)

func (k valKind) String() string {
	switch k {
	case vString:
		return "a string"
	case vList:
		return "a string list"
	case vNumber:
		return "a number"
	}
	return "nothing"
}

// tagSpec says what a tagged argument takes.
type tagSpec struct {
	arg   valKind
	group string // tags of one group exclude each other
	ext   string // the extension the tag needs, "" for the base
}

// spec is the signature of a command or test.
type spec struct {
	ext      string
	tags     map[string]tagSpec
	pos      []valKind
	optFirst bool // the first positional argument may be left out
	tests    int  // 0: none; 1: one test; -1: a test list
	block    bool // takes a block (if, elsif, else)
	match    bool // has COMPARATOR and MATCH-TYPE; the last positional is the key list
}

// merge joins tag sets.
func merge(sets ...map[string]tagSpec) map[string]tagSpec {
	out := map[string]tagSpec{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

// Tag sets shared by tests (RFC 5228 §2.7, RFC 5231, RFC 5233, RFC 5260,
// draft-ietf-sieve-regex).
var (
	comparatorTags = map[string]tagSpec{"comparator": {arg: vString}}
	matchTags      = map[string]tagSpec{
		"is":       {group: "match"},
		"contains": {group: "match"},
		"matches":  {group: "match"},
		"regex":    {group: "match", ext: "regex"},
		"value":    {arg: vString, group: "match", ext: "relational"},
		"count":    {arg: vString, group: "match", ext: "relational"},
	}
	addressTags = map[string]tagSpec{
		"all":       {group: "addresspart"},
		"localpart": {group: "addresspart"},
		"domain":    {group: "addresspart"},
		"user":      {group: "addresspart", ext: "subaddress"},
		"detail":    {group: "addresspart", ext: "subaddress"},
	}
	indexTags = map[string]tagSpec{
		"index": {arg: vNumber, ext: "index"},
		"last":  {ext: "index"},
	}
	matchSet = merge(comparatorTags, matchTags)
)

// commandSpecs are the commands (actions and controls).
var commandSpecs = map[string]spec{
	// RFC 5228 §3.
	"require": {pos: []valKind{vList}},
	"if":      {tests: 1, block: true},
	"elsif":   {tests: 1, block: true},
	"else":    {block: true},
	"stop":    {},
	// RFC 5228 §4; :flags RFC 5232 §5.
	"keep":    {tags: map[string]tagSpec{"flags": {arg: vList, ext: "imap4flags"}}},
	"discard": {},
	"redirect": {pos: []valKind{vString}, tags: map[string]tagSpec{
		"copy": {ext: "copy"}}},
	"fileinto": {ext: "fileinto", pos: []valKind{vString}, tags: map[string]tagSpec{
		"copy":   {ext: "copy"},
		"flags":  {arg: vList, ext: "imap4flags"},
		"create": {ext: "mailbox"}}},
	// RFC 5429.
	"reject":  {ext: "reject", pos: []valKind{vString}},
	"ereject": {ext: "ereject", pos: []valKind{vString}},
	// RFC 5232 §3.
	"setflag":    {ext: "imap4flags", pos: []valKind{vString, vList}, optFirst: true},
	"addflag":    {ext: "imap4flags", pos: []valKind{vString, vList}, optFirst: true},
	"removeflag": {ext: "imap4flags", pos: []valKind{vString, vList}, optFirst: true},
	// RFC 5229 §4; :quoteregex from draft-ietf-sieve-regex §5.
	"set": {ext: "variables", pos: []valKind{vString, vString}, tags: map[string]tagSpec{
		"lower":         {group: "40"},
		"upper":         {group: "40"},
		"lowerfirst":    {group: "30"},
		"upperfirst":    {group: "30"},
		"quotewildcard": {group: "20"},
		"quoteregex":    {group: "15", ext: "regex"},
		"length":        {group: "10"},
	}},
	// RFC 5230 §4; :seconds RFC 6131.
	"vacation": {ext: "vacation", pos: []valKind{vString}, tags: map[string]tagSpec{
		"days":      {arg: vNumber, group: "period"},
		"seconds":   {arg: vNumber, group: "period", ext: "vacation-seconds"},
		"subject":   {arg: vString},
		"from":      {arg: vString},
		"addresses": {arg: vList},
		"mime":      {},
		"handle":    {arg: vString}}},
	// RFC 6609 §3.
	"include": {ext: "include", pos: []valKind{vString}, tags: map[string]tagSpec{
		"personal": {group: "location"},
		"global":   {group: "location"},
		"once":     {},
		"optional": {}}},
	"return": {ext: "include"},
	"global": {ext: "include", pos: []valKind{vList}},
}

// testSpecs are the tests.
var testSpecs = map[string]spec{
	// RFC 5228 §5.
	"address":  {tags: merge(matchSet, addressTags, indexTags), pos: []valKind{vList, vList}, match: true},
	"allof":    {tests: -1},
	"anyof":    {tests: -1},
	"envelope": {ext: "envelope", tags: merge(matchSet, addressTags), pos: []valKind{vList, vList}, match: true},
	"exists":   {pos: []valKind{vList}},
	"false":    {},
	"header":   {tags: merge(matchSet, indexTags), pos: []valKind{vList, vList}, match: true},
	"not":      {tests: 1},
	"size": {pos: []valKind{vNumber}, tags: map[string]tagSpec{
		"over": {group: "size"}, "under": {group: "size"}}},
	"true": {},
	// RFC 5229 §5.
	"string": {ext: "variables", tags: matchSet, pos: []valKind{vList, vList}, match: true},
	// RFC 5173 §4.
	"body": {ext: "body", tags: merge(matchSet, map[string]tagSpec{
		"raw":     {group: "transform"},
		"content": {arg: vList, group: "transform"},
		"text":    {group: "transform"}}), pos: []valKind{vList}, match: true},
	// RFC 5260 §4, §5.
	"date": {ext: "date", tags: merge(matchSet, indexTags, map[string]tagSpec{
		"zone":         {arg: vString, group: "zone"},
		"originalzone": {group: "zone"}}), pos: []valKind{vString, vString, vList}, match: true},
	"currentdate": {ext: "date", tags: merge(matchSet, map[string]tagSpec{
		"zone": {arg: vString}}), pos: []valKind{vString, vList}, match: true},
	// RFC 5232 §4.
	"hasflag": {ext: "imap4flags", tags: matchSet, pos: []valKind{vList, vList}, optFirst: true, match: true},
	// RFC 7352 §3.
	"duplicate": {ext: "duplicate", tags: map[string]tagSpec{
		"handle":   {arg: vString},
		"header":   {arg: vString, group: "id"},
		"uniqueid": {arg: vString, group: "id"},
		"seconds":  {arg: vNumber},
		"last":     {}}},
	// RFC 5490 §3.1.
	"mailboxexists": {ext: "mailbox", pos: []valKind{vList}},
	// RFC 5235 §3.2, §3.3.
	"spamtest": {ext: "spamtest", tags: merge(matchSet, map[string]tagSpec{
		"percent": {ext: "spamtestplus"}}), pos: []valKind{vString}, match: true},
	"virustest": {ext: "virustest", tags: matchSet, pos: []valKind{vString}, match: true},
}
