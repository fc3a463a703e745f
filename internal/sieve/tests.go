package sieve

import (
	"regexp"
	"strconv"
	"strings"
)

// test evaluates a test (RFC 5228 §5 and the extensions').
func (r *run) test(f *frame, t *node) (bool, error) {
	if err := r.step(t); err != nil {
		return false, err
	}
	switch t.name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "not":
		ok, err := r.test(f, t.tests[0])
		return !ok, err
	case "allof", "anyof":
		// §5.2, §5.3: evaluated left to right, stopping at the first
		// test that decides.
		all := t.name == "allof"
		for _, sub := range t.tests {
			ok, err := r.test(f, sub)
			if err != nil {
				return false, err
			}
			if ok != all {
				return ok, nil
			}
		}
		return all, nil
	case "exists":
		// §5.5: true if every named header field exists.
		names, err := r.strs(f, t, t.pargs[0])
		if err != nil {
			return false, err
		}
		for _, n := range names {
			if len(r.headerValues(n)) == 0 {
				return false, nil
			}
		}
		return true, nil
	case "size":
		// §5.9.
		size := uint64(max(r.in.Message.Size(), 0))
		if t.tags["over"] != nil {
			return size > t.pargs[0].num, nil
		}
		return size < t.pargs[0].num, nil
	case "header":
		return r.headerTest(f, t)
	case "address":
		return r.addressTest(f, t)
	case "envelope":
		return r.envelopeTest(f, t)
	case "string":
		// RFC 5229 §5: :count counts the non-empty sources.
		src, err := r.strs(f, t, t.pargs[0])
		if err != nil {
			return false, err
		}
		if t.m.typ == mtCount {
			var ne []string
			for _, s := range src {
				if s != "" {
					ne = append(ne, s)
				}
			}
			src = ne
		}
		return r.matchKeys(f, t, src)
	case "body":
		vals, err := r.bodyValues(f, t)
		if err != nil {
			return false, err
		}
		return r.matchKeys(f, t, vals)
	case "date", "currentdate":
		return r.dateTest(f, t)
	case "hasflag":
		return r.hasflag(f, t)
	case "duplicate":
		return r.duplicate(f, t)
	case "mailboxexists":
		// RFC 5490 §3.1: true if every named mailbox exists.
		if r.in.Mailboxes == nil {
			return false, fail(t, "mailboxexists: no mailbox access")
		}
		names, err := r.strs(f, t, t.pargs[0])
		if err != nil {
			return false, err
		}
		for _, n := range names {
			ok, err := r.in.Mailboxes.MailboxExists(r.ctx, n)
			if err != nil {
				return false, &RuntimeError{Pos: t.pos, Msg: "mailboxexists", Err: err}
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	case "spamtest":
		// RFC 5235 §3.2: "0" when untested, else 1-10; with :percent
		// 0-100 (an untested message is "0" there too).
		v := r.in.Verdict
		val := "0"
		if v.SpamTested {
			if t.tags["percent"] != nil {
				val = strconv.Itoa(min(max(v.SpamPercent, 0), 100))
			} else {
				val = strconv.Itoa(min(max(v.SpamScore, 1), 10))
			}
		}
		return r.matchKeys(f, t, []string{val})
	case "virustest":
		// RFC 5235 §3.3: "0" when untested, else 1-5.
		val := "0"
		if r.in.Verdict.VirusTested {
			val = strconv.Itoa(min(max(r.in.Verdict.Virus, 1), 5))
		}
		return r.matchKeys(f, t, []string{val})
	}
	return false, fail(t, "test %s is not implemented", t.name)
}

// matchKeys compares values against the test's keys (its last
// positional argument) with its comparator and match type. :count
// compares the number of values (RFC 5231 §4.2). A :matches or :regex
// success sets the match variables (RFC 5229 §3.2).
func (r *run) matchKeys(f *frame, t *node, values []string) (bool, error) {
	keys, err := r.strs(f, t, t.pargs[len(t.pargs)-1])
	if err != nil {
		return false, err
	}
	return r.matchList(f, t, values, keys)
}

func (r *run) matchList(f *frame, t *node, values, keys []string) (bool, error) {
	m := t.m
	if m.typ == mtCount {
		n := strconv.Itoa(len(values))
		for _, k := range keys {
			if relation(m.rel, m.cmp.compare(n, k)) {
				return true, nil
			}
		}
		return false, nil
	}
	var globs [][]globItem
	if m.typ == mtMatches {
		globs = make([][]globItem, len(keys))
		for i, k := range keys {
			if g, ok := m.globs[k]; ok {
				globs[i] = g
			} else {
				globs[i] = compileGlob(k)
			}
		}
	}
	var res []*regexp.Regexp
	if m.typ == mtRegex {
		res = make([]*regexp.Regexp, len(keys))
		for i, k := range keys {
			re := m.res[k]
			if re == nil {
				var err error
				if re, err = compileRegex(k, m.cmp); err != nil {
					return false, fail(t, "%v", err)
				}
			}
			res[i] = re
		}
	}
	var stepErr error
	stepFn := func() bool {
		if stepErr == nil {
			stepErr = r.step(t)
		}
		return stepErr == nil
	}
	for _, v := range values {
		for i, k := range keys {
			if err := r.step(t); err != nil {
				return false, err
			}
			ok := false
			var caps []string
			switch m.typ {
			case mtIs:
				ok = m.cmp.compare(v, k) == 0
			case mtContains:
				ok = m.cmp.contains(v, k)
			case mtValue:
				ok = relation(m.rel, m.cmp.compare(v, k))
			case mtMatches:
				ok, caps = glob(m.cmp, globs[i], v, stepFn)
				if stepErr != nil {
					return false, stepErr
				}
				caps = append([]string{v}, caps...)
			case mtRegex:
				if sm := res[i].FindStringSubmatch(v); sm != nil {
					ok, caps = true, sm
				}
			}
			if ok {
				if caps != nil && f.s.exts["variables"] {
					f.matchVars = caps
				}
				return true, nil
			}
		}
	}
	return false, nil
}

// index picks the :index'th value (RFC 5260 §6), counted from the end
// with :last; none when there are fewer.
func index(t *node, vals []string) []string {
	a := t.tags["index"]
	if a == nil {
		return vals
	}
	n := int(min(a.num, uint64(len(vals))+1))
	if n > len(vals) {
		return nil
	}
	if t.tags["last"] != nil {
		return vals[len(vals)-n : len(vals)-n+1]
	}
	return vals[n-1 : n]
}

// headerTest is the header test (RFC 5228 §5.7).
func (r *run) headerTest(f *frame, t *node) (bool, error) {
	names, err := r.strs(f, t, t.pargs[0])
	if err != nil {
		return false, err
	}
	var vals []string
	for _, n := range names {
		vals = append(vals, index(t, r.headerValues(n))...)
	}
	return r.matchKeys(f, t, vals)
}

// addressPart picks the part of an addr-spec a test compares (RFC 5228
// §2.7.4, RFC 5233 §4); ok is false when the address has no such part
// (no detail without a separator).
func (r *run) addressPart(t *node, addr string) (string, bool) {
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr, ""
	if at >= 0 {
		local, domain = addr[:at], addr[at+1:]
	}
	switch {
	case t.tags["localpart"] != nil:
		return local, at >= 0 || addr != ""
	case t.tags["domain"] != nil:
		return domain, at >= 0
	case t.tags["user"] != nil:
		if i := strings.Index(local, r.sep); i >= 0 {
			return local[:i], true
		}
		return local, true
	case t.tags["detail"] != nil:
		if i := strings.Index(local, r.sep); i >= 0 {
			return local[i+len(r.sep):], true
		}
		return "", false
	}
	return addr, true
}

// addressTest is the address test (RFC 5228 §5.1).
func (r *run) addressTest(f *frame, t *node) (bool, error) {
	names, err := r.strs(f, t, t.pargs[0])
	if err != nil {
		return false, err
	}
	var vals []string
	for _, n := range names {
		for _, raw := range index(t, r.rawHeaderValues(n)) {
			for _, a := range r.addresses(raw) {
				if p, ok := r.addressPart(t, a); ok {
					vals = append(vals, p)
				}
			}
		}
	}
	return r.matchKeys(f, t, vals)
}

// envelopeTest is the envelope test (RFC 5228 §5.4): "from" is MAIL
// FROM ("" for the null sender, whose parts are all ""), "to" RCPT TO.
func (r *run) envelopeTest(f *frame, t *node) (bool, error) {
	parts, err := r.strs(f, t, t.pargs[0])
	if err != nil {
		return false, err
	}
	var vals []string
	for _, p := range parts {
		var a string
		switch strings.ToLower(p) {
		case "from":
			a = r.in.Envelope.From
			if a == "" {
				if t.tags["detail"] == nil {
					vals = append(vals, "")
				}
				continue
			}
		case "to":
			a = r.in.Envelope.To
		default:
			return false, fail(t, "envelope: unknown envelope part %q", p)
		}
		if v, ok := r.addressPart(t, a); ok {
			vals = append(vals, v)
		}
	}
	return r.matchKeys(f, t, vals)
}

// dateTest is the date and currentdate tests (RFC 5260 §4, §5).
func (r *run) dateTest(f *frame, t *node) (bool, error) {
	zoneStr, err := r.tagStr(f, t, "zone")
	if err != nil {
		return false, err
	}
	loc := r.loc
	if t.tags["zone"] != nil {
		z, ok := parseZone(zoneStr)
		if !ok {
			return false, fail(t, "%s: %q is not a time zone", t.name, zoneStr)
		}
		loc = z
	}
	partArg := t.pargs[len(t.pargs)-2]
	part, err := r.str(f, t, partArg)
	if err != nil {
		return false, err
	}
	if !validDatePart(part) {
		return false, fail(t, "%s: unknown date part %q", t.name, part)
	}
	var vals []string
	if t.name == "currentdate" {
		vals = []string{datePart(r.now.In(loc), part)}
	} else {
		name, err := r.str(f, t, t.pargs[0])
		if err != nil {
			return false, err
		}
		for _, raw := range index(t, r.headerValues(name)) {
			d, ok := headerDate(name, raw)
			if !ok {
				continue // §4: a field without a date does not match
			}
			if t.tags["originalzone"] == nil {
				d = d.In(loc)
			}
			vals = append(vals, datePart(d, part))
		}
	}
	return r.matchKeys(f, t, vals)
}

// hasflag is the hasflag test (RFC 5232 §4): the internal variable's
// flags or those of the named variables, against the keys' flags.
func (r *run) hasflag(f *frame, t *node) (bool, error) {
	var flags []string
	if len(t.pargs) == 2 {
		for _, v := range t.pargs[0].strs {
			flags = unionFlags(flags, splitFlags([]string{r.getVar(f, v)}))
		}
	} else {
		flags = r.flags
	}
	keys, err := r.strs(f, t, t.pargs[len(t.pargs)-1])
	if err != nil {
		return false, err
	}
	if t.m.typ != mtCount {
		keys = splitFlags(keys)
	}
	return r.matchList(f, t, flags, keys)
}
