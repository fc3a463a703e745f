package sieve

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
)

// Options configures Compile.
type Options struct {
	// Limits bounds the script; zero fields take DefaultLimits.
	Limits Limits
}

// Script is a compiled, validated script, safe to run many times and
// from many goroutines.
type Script struct {
	cmds []*node
	exts map[string]bool
	lim  Limits
}

// Requires reports whether the script requires an extension (the
// delivery side may skip work a script cannot use, e.g. the body).
func (s *Script) Requires(ext string) bool { return s.exts[ext] }

// Compile parses and validates a script. Its error is an *Error with the
// line and column of the first problem.
func Compile(src []byte, opts Options) (*Script, error) {
	lim := opts.Limits.withDefaults()
	cmds, perr := parse(src, lim)
	if perr != nil {
		return nil, perr
	}
	v := &validator{exts: map[string]bool{}}
	if err := v.block(cmds, true); err != nil {
		return nil, err
	}
	return &Script{cmds: cmds, exts: v.exts, lim: lim}, nil
}

// validator checks nodes against their specs (RFC 5228 §2.6, §3.2) and
// fills in their tag and positional arguments.
type validator struct {
	exts     map[string]bool
	pastHead bool // a command other than require has been seen
}

func (v *validator) has(ext string) bool { return v.exts[ext] }

// block validates a list of commands.
func (v *validator) block(cmds []*node, top bool) *Error {
	prev := ""
	for _, c := range cmds {
		switch c.name {
		case "require":
			// RFC 5228 §3.2: require only at the start of the script.
			if !top || v.pastHead {
				return errAt(c.pos, "require must come before any other command")
			}
		case "elsif", "else":
			if prev != "if" && prev != "elsif" {
				return errAt(c.pos, "%s without a preceding if", c.name)
			}
			v.pastHead = true
		default:
			v.pastHead = true
		}
		if err := v.command(c); err != nil {
			return err
		}
		prev = c.name
	}
	return nil
}

// command validates one command and its block.
func (v *validator) command(c *node) *Error {
	sp, ok := commandSpecs[c.name]
	if !ok {
		if _, isTest := testSpecs[c.name]; isTest {
			return errAt(c.pos, "%s is a test, not a command", c.name)
		}
		return errAt(c.pos, "unknown command %s", c.name)
	}
	if err := v.node(c, sp, "command"); err != nil {
		return err
	}
	if sp.block != c.hasBlock {
		if sp.block {
			return errAt(c.pos, "%s needs a block", c.name)
		}
		return errAt(c.pos, "%s takes no block", c.name)
	}
	if err := v.checkCommand(c); err != nil {
		return err
	}
	if c.hasBlock {
		return v.block(c.block, false)
	}
	return nil
}

// test validates one test and the tests inside it.
func (v *validator) test(t *node) *Error {
	sp, ok := testSpecs[t.name]
	if !ok {
		if _, isCmd := commandSpecs[t.name]; isCmd {
			return errAt(t.pos, "%s is a command, not a test", t.name)
		}
		return errAt(t.pos, "unknown test %s", t.name)
	}
	if err := v.node(t, sp, "test"); err != nil {
		return err
	}
	return v.checkTest(t, sp)
}

// node checks what is common to commands and tests: the extension, the
// tagged and positional arguments, and the tests taken.
func (v *validator) node(n *node, sp spec, what string) *Error {
	if sp.ext != "" && !v.has(sp.ext) {
		return errAt(n.pos, "%s %s needs require %q", what, n.name, sp.ext)
	}
	if v.has("encoded-character") && n.name != "require" {
		for i := range n.args {
			for j, s := range n.args[i].strs {
				d, err := decodeEncoded(s)
				if err != "" {
					return errAt(n.args[i].pos, "%s", err)
				}
				n.args[i].strs[j] = d
			}
		}
	}
	n.tags = map[string]*arg{}
	groups := map[string]string{}
	i := 0
	for ; i < len(n.args) && n.args[i].kind == argTag; i++ {
		a := &n.args[i]
		ts, ok := sp.tags[a.tag]
		if !ok {
			return errAt(a.pos, "%s takes no tag :%s", n.name, a.tag)
		}
		if ts.ext != "" && !v.has(ts.ext) {
			return errAt(a.pos, "tag :%s needs require %q", a.tag, ts.ext)
		}
		if _, dup := n.tags[a.tag]; dup {
			return errAt(a.pos, "tag :%s given twice", a.tag)
		}
		if ts.group != "" {
			if other, clash := groups[ts.group]; clash {
				return errAt(a.pos, "tags :%s and :%s cannot be used together", other, a.tag)
			}
			groups[ts.group] = a.tag
		}
		if ts.arg == vNone {
			n.tags[a.tag] = a
			continue
		}
		if i+1 >= len(n.args) {
			return errAt(a.pos, "tag :%s needs %s after it", a.tag, ts.arg)
		}
		i++
		if err := checkKind(&n.args[i], ts.arg, ":"+a.tag); err != nil {
			return err
		}
		n.tags[a.tag] = &n.args[i]
	}
	rest := n.args[i:]
	for j := range rest {
		if rest[j].kind == argTag {
			return errAt(rest[j].pos, "tag :%s must come before the other arguments of %s", rest[j].tag, n.name)
		}
	}
	want := sp.pos
	if sp.optFirst && len(rest) == len(want)-1 {
		want = want[1:]
	}
	if len(rest) != len(want) {
		return errAt(n.pos, "%s takes %d arguments besides tags, found %d", n.name, len(sp.pos), len(rest))
	}
	n.pargs = make([]*arg, len(rest))
	for j := range rest {
		if err := checkKind(&rest[j], want[j], n.name); err != nil {
			return err
		}
		n.pargs[j] = &rest[j]
	}
	switch sp.tests {
	case 0:
		if len(n.tests) > 0 && what == "command" && !n.testList {
			return errAt(n.tests[0].pos, "expected ';' after %s, found %s", n.name, n.tests[0].name)
		}
		if len(n.tests) > 0 {
			return errAt(n.tests[0].pos, "%s takes no test", n.name)
		}
	case 1:
		if len(n.tests) != 1 || n.testList {
			return errAt(n.pos, "%s takes one test", n.name)
		}
	case -1:
		if !n.testList {
			return errAt(n.pos, "%s takes a list of tests in parentheses", n.name)
		}
	}
	for _, t := range n.tests {
		if err := v.test(t); err != nil {
			return err
		}
	}
	if sp.match {
		m, err := v.matcher(n)
		if err != nil {
			return err
		}
		n.m = m
	}
	return nil
}

// checkKind checks an argument against the kind wanted.
func checkKind(a *arg, want valKind, of string) *Error {
	switch want {
	case vNumber:
		if a.kind != argNumber {
			return errAt(a.pos, "%s expects a number here", of)
		}
	case vString:
		if a.kind != argStrings || a.list {
			return errAt(a.pos, "%s expects a string here", of)
		}
	case vList:
		if a.kind != argStrings {
			return errAt(a.pos, "%s expects a string list here", of)
		}
	}
	return nil
}

// isConst reports whether a string is known at compile time: without
// variables, or with no variable reference in it.
func (v *validator) isConst(s string) bool {
	return !v.has("variables") || !strings.Contains(s, "${")
}

// comparators are the collations and the capability each needs (RFC
// 5228 §2.7.3: i;octet and i;ascii-casemap are always there).
var comparators = map[string]struct {
	c   comparator
	ext string
}{
	"i;octet":         {cmpOctet, ""},
	"i;ascii-casemap": {cmpCasemap, ""},
	"i;ascii-numeric": {cmpNumeric, "comparator-i;ascii-numeric"},
}

// matcher reads a test's COMPARATOR and MATCH-TYPE.
func (v *validator) matcher(n *node) (*matcher, *Error) {
	m := &matcher{}
	if a := n.tags["comparator"]; a != nil {
		name := strings.ToLower(a.strs[0])
		c, ok := comparators[name]
		if !ok {
			return nil, errAt(a.pos, "unknown comparator %q", a.strs[0])
		}
		if c.ext != "" && !v.has(c.ext) {
			return nil, errAt(a.pos, "comparator %q needs require %q", name, c.ext)
		}
		m.cmp = c.c
	}
	for tag, typ := range map[string]matchType{"is": mtIs, "contains": mtContains,
		"matches": mtMatches, "regex": mtRegex, "value": mtValue, "count": mtCount} {
		a := n.tags[tag]
		if a == nil {
			continue
		}
		m.typ = typ
		if typ == mtValue || typ == mtCount {
			if !validRelation(a.strs[0]) {
				return nil, errAt(a.pos, "unknown relational operator %q (gt, ge, lt, le, eq, ne)", a.strs[0])
			}
			m.rel = strings.ToLower(a.strs[0])
		}
	}
	// RFC 4790 §9.1: i;ascii-numeric offers equality and ordering only.
	if m.cmp == cmpNumeric && (m.typ == mtContains || m.typ == mtMatches || m.typ == mtRegex) {
		return nil, errAt(n.pos, "comparator i;ascii-numeric cannot be used with :contains, :matches or :regex")
	}
	if m.typ == mtMatches {
		keys := n.pargs[len(n.pargs)-1]
		m.globs = map[string][]globItem{}
		for _, k := range keys.strs {
			if v.isConst(k) {
				m.globs[k] = compileGlob(k)
			}
		}
	}
	if m.typ == mtRegex {
		keys := n.pargs[len(n.pargs)-1]
		m.res = map[string]*regexp.Regexp{}
		for _, k := range keys.strs {
			if !v.isConst(k) {
				continue
			}
			re, err := compileRegex(k, m.cmp)
			if err != nil {
				return nil, errAt(keys.pos, "%v", err)
			}
			m.res[k] = re
		}
	}
	return m, nil
}

// isIdentifier reports whether s is a variable name (RFC 5229 §3:
// identifier).
func isIdentifier(s string) bool {
	if s == "" || !(isAlpha(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(isAlpha(c) || isDigit(c) || c == '_') {
			return false
		}
	}
	return true
}

// validFieldName reports whether s may be a header field name (RFC 5322
// §3.6.8: printable ASCII but the colon).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// validAddress reports whether s is an addr-spec (RFC 5228 §4.2: a
// redirect to a malformed address is an error).
func validAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && strings.Contains(a.Address, "@")
}

// checkCommand checks what is particular to each command.
func (v *validator) checkCommand(c *node) *Error {
	switch c.name {
	case "require":
		for _, e := range c.pargs[0].strs {
			e = strings.ToLower(e)
			if !knownExtension(e) {
				return errAt(c.pargs[0].pos, "unknown extension %q", e)
			}
			v.exts[e] = true
			for _, x := range implies[e] {
				v.exts[x] = true
			}
		}
	case "redirect":
		if s := c.pargs[0].strs[0]; v.isConst(s) && !validAddress(s) {
			return errAt(c.pargs[0].pos, "redirect: %q is not an address", s)
		}
	case "fileinto":
		if s := c.pargs[0].strs[0]; s == "" {
			return errAt(c.pargs[0].pos, "fileinto: empty mailbox name")
		}
	case "setflag", "addflag", "removeflag":
		if len(c.pargs) == 2 {
			if err := v.variableName(c.pargs[0], c.pargs[0].strs[0]); err != nil {
				return err
			}
		}
	case "set":
		if err := v.variableName(c.pargs[0], c.pargs[0].strs[0]); err != nil {
			return err
		}
	case "global":
		for _, s := range c.pargs[0].strs {
			if !isIdentifier(s) {
				return errAt(c.pargs[0].pos, "global: %q is not a variable name", s)
			}
		}
	case "include":
		name := c.pargs[0].strs[0]
		// RFC 6609 §3.2: the name is a constant script name.
		if !v.isConst(name) {
			return errAt(c.pargs[0].pos, "include: the script name must be constant")
		}
		if name == "" || strings.ContainsAny(name, "/\x00") {
			return errAt(c.pargs[0].pos, "include: %q is not a script name", name)
		}
	case "vacation":
		if a := c.tags["from"]; a != nil && v.isConst(a.strs[0]) {
			if _, err := mail.ParseAddress(a.strs[0]); err != nil {
				return errAt(a.pos, "vacation :from: %q is not an address", a.strs[0])
			}
		}
		if a := c.tags["addresses"]; a != nil {
			for _, s := range a.strs {
				if v.isConst(s) && !validAddress(s) {
					return errAt(a.pos, "vacation :addresses: %q is not an address", s)
				}
			}
		}
	}
	return nil
}

// variableName checks the name a set or setflag writes (RFC 5229 §4).
func (v *validator) variableName(a *arg, s string) *Error {
	if !v.has("variables") && s != "" {
		return errAt(a.pos, "a variable name needs require \"variables\"")
	}
	if !isIdentifier(s) {
		return errAt(a.pos, "%q is not a variable name", s)
	}
	return nil
}

// checkTest checks what is particular to each test.
func (v *validator) checkTest(t *node, sp spec) *Error {
	switch t.name {
	case "header", "address", "exists", "date":
		for _, h := range t.pargs[0].strs {
			if v.isConst(h) && !validFieldName(h) {
				return errAt(t.pargs[0].pos, "%s: %q is not a header field name", t.name, h)
			}
		}
	case "envelope":
		for _, p := range t.pargs[0].strs {
			if !v.isConst(p) {
				continue
			}
			switch strings.ToLower(p) {
			case "from", "to":
			default:
				// RFC 5228 §5.4: parts besides from and to are errors
				// unless an extension defines them.
				return errAt(t.pargs[0].pos, "envelope: unknown envelope part %q (from, to)", p)
			}
		}
	case "size":
		if t.tags["over"] == nil && t.tags["under"] == nil {
			return errAt(t.pos, "size needs :over or :under")
		}
	case "hasflag":
		if len(t.pargs) == 2 {
			for _, s := range t.pargs[0].strs {
				if err := v.variableName(t.pargs[0], s); err != nil {
					return err
				}
			}
		}
	}
	if _, indexed := sp.tags["index"]; indexed && t.tags["last"] != nil && t.tags["index"] == nil {
		return errAt(t.tags["last"].pos, "tag :last needs :index")
	}
	if a := t.tags["index"]; a != nil && a.num == 0 {
		return errAt(a.pos, ":index counts from 1")
	}
	if t.name == "date" || t.name == "currentdate" {
		dp := t.pargs[len(t.pargs)-2]
		if s := dp.strs[0]; v.isConst(s) && !validDatePart(s) {
			return errAt(dp.pos, "%s: unknown date part %q", t.name, s)
		}
		if a := t.tags["zone"]; a != nil && v.isConst(a.strs[0]) {
			if _, ok := parseZone(a.strs[0]); !ok {
				return errAt(a.pos, "%s: %q is not a time zone (+hhmm or -hhmm)", t.name, a.strs[0])
			}
		}
	}
	return nil
}

func knownExtension(e string) bool {
	for _, x := range extensionNames {
		if x == e {
			return true
		}
	}
	return false
}

// compileRegex compiles a :regex key (draft-ietf-sieve-regex §3: POSIX
// extended regular expressions) with Go's RE2. What RE2 does not do,
// backreferences and lookaround, is refused with a message that says so.
// With i;ascii-casemap the match ignores case.
func compileRegex(key string, c comparator) (*regexp.Regexp, error) {
	for i := 0; i+1 < len(key); i++ {
		if key[i] == '\\' {
			if isDigit(key[i+1]) && key[i+1] != '0' {
				return nil, errRegexUnsupported(key, "backreference \\"+string(key[i+1]))
			}
			i++
			continue
		}
		if strings.HasPrefix(key[i:], "(?=") || strings.HasPrefix(key[i:], "(?!") ||
			strings.HasPrefix(key[i:], "(?<=") || strings.HasPrefix(key[i:], "(?<!") {
			return nil, errRegexUnsupported(key, "lookaround "+key[i:i+3])
		}
	}
	prefix := ""
	if c == cmpCasemap {
		prefix = "(?i)"
	}
	out, err := regexp.Compile(prefix + key)
	if err != nil {
		return nil, &regexError{key: key, msg: err.Error()}
	}
	return out, nil
}

// regexError is a :regex key Go cannot compile.
type regexError struct{ key, msg string }

func (e *regexError) Error() string {
	return fmt.Sprintf("bad regular expression %q: %s", e.key, e.msg)
}

func errRegexUnsupported(key, what string) error {
	return &regexError{key: key, msg: what + " is not supported (regular expressions are RE2: no backreferences, no lookaround)"}
}
