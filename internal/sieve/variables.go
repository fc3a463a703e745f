package sieve

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// expand replaces variable references in a string (RFC 5229 §3) when
// the script requires variables: "${name}" (case-insensitive), "${N}"
// a match variable, "${global.name}" a global one (RFC 6609 §3.5).
// Anything else after "${" stays as written. The result is bounded by
// Limits.MaxVariableBytes.
func (r *run) expand(f *frame, n *node, s string) (string, error) {
	if !f.s.exts["variables"] || !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for len(s) > 0 {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		// The name runs over name characters only, so a string full of
		// "${" costs linear time.
		end := 2
		for end < len(s) && (isAlpha(s[end]) || isDigit(s[end]) || s[end] == '_' || s[end] == '.') {
			end++
		}
		val, ok := "", false
		if end > 2 && end < len(s) && s[end] == '}' {
			val, ok = r.lookup(f, s[2:end])
		}
		if !ok {
			b.WriteString("${")
			s = s[2:]
		} else {
			b.WriteString(val)
			s = s[end+1:]
		}
		if b.Len() > r.lim.MaxVariableBytes {
			return "", fail(n, "string longer than %d bytes after variables are expanded", r.lim.MaxVariableBytes)
		}
	}
	if b.Len() > r.lim.MaxVariableBytes {
		return "", fail(n, "string longer than %d bytes after variables are expanded", r.lim.MaxVariableBytes)
	}
	return b.String(), nil
}

// lookup resolves the name inside "${...}"; ok is false when it is not a
// reference (RFC 5229 §3: variable-ref = "${" [namespace] variable-name
// "}", num-variable = 1*DIGIT).
func (r *run) lookup(f *frame, name string) (string, bool) {
	if isAllDigits(name) {
		i, err := strconv.Atoi(name)
		if err != nil || i >= len(f.matchVars) {
			return "", err == nil
		}
		return f.matchVars[i], true
	}
	if ns, v, dotted := strings.Cut(name, "."); dotted {
		if strings.EqualFold(ns, "global") && f.s.exts["include"] && isIdentifier(v) {
			return r.globals[strings.ToLower(v)], true
		}
		return "", false
	}
	if !isIdentifier(name) {
		return "", false
	}
	return r.getVar(f, name), true
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// getVar reads a variable; an unset one is "" (RFC 5229 §3).
func (r *run) getVar(f *frame, name string) string {
	name = strings.ToLower(name)
	if f.global[name] {
		return r.globals[name]
	}
	return f.vars[name]
}

// setVar writes a variable, bounded in size and number.
func (r *run) setVar(f *frame, n *node, name, value string) error {
	if len(value) > r.lim.MaxVariableBytes {
		return fail(n, "variable %s would be %d bytes, more than %d", name, len(value), r.lim.MaxVariableBytes)
	}
	name = strings.ToLower(name)
	m := f.vars
	if f.global[name] {
		m = r.globals
	}
	if _, ok := m[name]; !ok {
		r.nvars++
		if r.nvars > r.lim.MaxVariables {
			return fail(n, "more than %d variables", r.lim.MaxVariables)
		}
	}
	m[name] = value
	return nil
}

// set runs the set command (RFC 5229 §4) with its modifiers, applied
// from the highest precedence down (§4.1): :lower/:upper (40),
// :lowerfirst/:upperfirst (30), :quotewildcard (20), :quoteregex (15,
// draft-ietf-sieve-regex §5), :length (10).
func (r *run) set(f *frame, c *node) error {
	v, err := r.str(f, c, c.pargs[1])
	if err != nil {
		return err
	}
	t := c.tags
	switch {
	case t["lower"] != nil:
		v = strings.ToLower(v)
	case t["upper"] != nil:
		v = strings.ToUpper(v)
	}
	if ch, size := utf8.DecodeRuneInString(v); size > 0 {
		switch {
		case t["lowerfirst"] != nil:
			v = string(unicode.ToLower(ch)) + v[size:]
		case t["upperfirst"] != nil:
			v = string(unicode.ToUpper(ch)) + v[size:]
		}
	}
	if t["quotewildcard"] != nil {
		v = quoteChars(v, `*?\`)
	}
	if t["quoteregex"] != nil {
		v = quoteChars(v, `\^$.[]|()?*+{}`)
	}
	if t["length"] != nil {
		v = strconv.Itoa(runeLen(v))
	}
	return r.setVar(f, c, c.pargs[0].strs[0], v)
}

// quoteChars puts a backslash before each of chars in s.
func quoteChars(s, chars string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
