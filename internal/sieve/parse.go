package sieve

import "unicode/utf8"

// argKind is the kind of one argument (RFC 5228 §2.6).
type argKind uint8

const (
	argStrings argKind = iota + 1 // a string or a string list
	argNumber
	argTag
)

// arg is one argument as written.
type arg struct {
	pos  Pos
	kind argKind
	tag  string   // argTag: the name without ':', lower case
	num  uint64   // argNumber
	strs []string // argStrings
	list bool     // argStrings written as a bracketed list
}

// node is a command or a test as written: name, arguments, the tests it
// takes and, for a command, its block.
type node struct {
	pos      Pos
	name     string
	args     []arg
	tests    []*node
	testList bool    // tests were written as "( ... )"
	block    []*node // the block's commands
	hasBlock bool

	// Filled by the validator.
	tags  map[string]*arg
	pargs []*arg
	m     *matcher // comparator and match type of a test that matches
}

// parser reads RFC 5228 §8.2's grammar into nodes, counting what Limits
// bounds.
type parser struct {
	lx        *lexer
	tok       token
	lim       Limits
	ncommands int
	depth     int
}

// parse reads a whole script.
func parse(src []byte, lim Limits) ([]*node, *Error) {
	if len(src) > lim.MaxScriptBytes {
		return nil, errAt(Pos{1, 1}, "script is %d bytes, more than the limit of %d", len(src), lim.MaxScriptBytes)
	}
	if !utf8.Valid(src) {
		// RFC 5228 §2.2: scripts are UTF-8; find where it stops being so.
		lx := newLexer(string(src), 0)
		for i := 0; i < len(src); {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				lx.advance(i)
				return nil, errAt(lx.pos(), "script is not valid UTF-8")
			}
			i += n
		}
	}
	p := &parser{lx: newLexer(string(src), lim.MaxStringBytes), lim: lim}
	if err := p.advance(); err != nil {
		return nil, err
	}
	cmds, err := p.commands()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, errAt(p.tok.pos, "unexpected %s", p.tok.describe())
	}
	return cmds, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tokPunct && p.tok.text == s }

// count bounds the commands and tests of a script.
func (p *parser) count(at Pos) *Error {
	p.ncommands++
	if p.ncommands > p.lim.MaxCommands {
		return errAt(at, "more than %d commands and tests", p.lim.MaxCommands)
	}
	return nil
}

// enter bounds nesting.
func (p *parser) enter(at Pos) *Error {
	p.depth++
	if p.depth > p.lim.MaxNesting {
		return errAt(at, "nested more than %d deep", p.lim.MaxNesting)
	}
	return nil
}

// commands = *command, up to a "}" or the end.
func (p *parser) commands() ([]*node, *Error) {
	var out []*node
	for p.tok.kind == tokIdent {
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if p.tok.kind != tokEOF && !p.isPunct("}") {
		return nil, errAt(p.tok.pos, "expected a command, found %s", p.tok.describe())
	}
	return out, nil
}

// command = identifier arguments (";" / block).
func (p *parser) command() (*node, *Error) {
	n := &node{pos: p.tok.pos, name: p.tok.text}
	if err := p.count(n.pos); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.arguments(n); err != nil {
		return nil, err
	}
	switch {
	case p.isPunct(";"):
		return n, p.advance()
	case p.isPunct("{"):
		if err := p.enter(p.tok.pos); err != nil {
			return nil, err
		}
		open := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		block, err := p.commands()
		if err != nil {
			return nil, err
		}
		if !p.isPunct("}") {
			return nil, errAt(open, "block is not closed with '}'")
		}
		p.depth--
		n.block, n.hasBlock = block, true
		return n, p.advance()
	}
	return nil, errAt(p.tok.pos, "expected ';' or '{' after %s, found %s", n.name, p.tok.describe())
}

// arguments = *argument [ test / test-list ].
func (p *parser) arguments(n *node) *Error {
	for {
		switch {
		case p.tok.kind == tokTag:
			n.args = append(n.args, arg{pos: p.tok.pos, kind: argTag, tag: p.tok.text})
		case p.tok.kind == tokNumber:
			n.args = append(n.args, arg{pos: p.tok.pos, kind: argNumber, num: p.tok.num})
		case p.tok.kind == tokString:
			n.args = append(n.args, arg{pos: p.tok.pos, kind: argStrings, strs: []string{p.tok.text}})
		case p.isPunct("["):
			a, err := p.stringList()
			if err != nil {
				return err
			}
			n.args = append(n.args, a)
			continue
		default:
			return p.testOrList(n)
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

// stringList = "[" string *("," string) "]".
func (p *parser) stringList() (arg, *Error) {
	a := arg{pos: p.tok.pos, kind: argStrings, list: true}
	for {
		if err := p.advance(); err != nil {
			return a, err
		}
		if p.tok.kind != tokString {
			return a, errAt(p.tok.pos, "expected a string in the list, found %s", p.tok.describe())
		}
		a.strs = append(a.strs, p.tok.text)
		if len(a.strs) > p.lim.MaxListItems {
			return a, errAt(a.pos, "string list longer than %d", p.lim.MaxListItems)
		}
		if err := p.advance(); err != nil {
			return a, err
		}
		if p.isPunct("]") {
			return a, p.advance()
		}
		if !p.isPunct(",") {
			return a, errAt(p.tok.pos, "expected ',' or ']' in the string list, found %s", p.tok.describe())
		}
	}
}

// testOrList reads the optional test or test-list ends the arguments.
func (p *parser) testOrList(n *node) *Error {
	switch {
	case p.tok.kind == tokIdent:
		t, err := p.test()
		if err != nil {
			return err
		}
		n.tests = []*node{t}
	case p.isPunct("("):
		open := p.tok.pos
		if err := p.enter(open); err != nil {
			return err
		}
		n.testList = true
		for {
			if err := p.advance(); err != nil {
				return err
			}
			if p.tok.kind != tokIdent {
				return errAt(p.tok.pos, "expected a test, found %s", p.tok.describe())
			}
			t, err := p.test()
			if err != nil {
				return err
			}
			n.tests = append(n.tests, t)
			if len(n.tests) > p.lim.MaxListItems {
				return errAt(open, "test list longer than %d", p.lim.MaxListItems)
			}
			if p.isPunct(")") {
				p.depth--
				return p.advance()
			}
			if !p.isPunct(",") {
				return errAt(p.tok.pos, "expected ',' or ')' in the test list, found %s", p.tok.describe())
			}
		}
	}
	return nil
}

// test = identifier arguments.
func (p *parser) test() (*node, *Error) {
	t := &node{pos: p.tok.pos, name: p.tok.text}
	if err := p.count(t.pos); err != nil {
		return nil, err
	}
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.arguments(t); err != nil {
		return nil, err
	}
	p.depth--
	return t, nil
}
