package sieve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Vacation periods (RFC 5230 §4.1, RFC 6131 §2).
const (
	// defaultVacationDays: §4.1 suggests 7 when :days is absent.
	defaultVacationDays = 7
	// minVacationDays: §4.1 lets a site raise :days 0 to its minimum;
	// one day keeps a misconfigured script from answering every message.
	minVacationDays = 1
	// maxVacationDays: §4.1 lets a site cap :days; a month is plenty.
	maxVacationDays = 30
	// defaultDuplicateSeconds: RFC 7352 §3.3 leaves the default to the
	// implementation; a week covers re-sent list mail.
	defaultDuplicateSeconds = 7 * 24 * 3600
	// maxDuplicateSeconds bounds :seconds (§3.3 allows a maximum).
	maxDuplicateSeconds = 30 * 24 * 3600
	// ctxCheckEvery: how many steps between looks at the context.
	ctxCheckEvery = 1024
)

// errStop and errReturn unwind stop (RFC 5228 §3.3) and return (RFC
// 6609 §3.4); they are not failures.
var (
	errStop   = errors.New("stop")
	errReturn = errors.New("return")
)

// frame is one script being run: the top one or an included one, each
// with its own variables (RFC 6609 §3.3).
type frame struct {
	s         *Script
	vars      map[string]string
	global    map[string]bool // names this script declared global
	matchVars []string
}

// run is the state of one run.
type run struct {
	ctx   context.Context
	in    Input
	lim   Limits
	now   time.Time
	loc   *time.Location
	sep   string
	steps int

	actions      []Action
	cancelKeep   bool
	flags        []string // imap4flags' internal variable
	globals      map[string]string
	nvars        int
	redirects    int
	rejected     bool
	vacation     bool
	includes     int
	included     map[string]bool // :once
	stack        []string
	cache        map[string]*Script
	dups         []DuplicateMark
	dupSeen      map[string]bool
	headerCache  []headerField
	headerParsed bool
	hdrCache     map[string][]string
	addrCache    map[string][]string
	bodyCache    map[string][]string
}

// Run runs the script against one message for one recipient. An error
// (a *RuntimeError, or the context's) means the script failed: the
// caller keeps the message in the INBOX (RFC 5228 §2.10.6) and logs the
// error; the partial Result is not to be acted on.
func (s *Script) Run(ctx context.Context, in Input) (*Result, error) {
	r := &run{ctx: ctx, in: in, lim: s.lim, now: in.Now, loc: in.Location, sep: in.Separator,
		globals: map[string]string{}, included: map[string]bool{}, cache: map[string]*Script{},
		dupSeen: map[string]bool{}, bodyCache: map[string][]string{},
		hdrCache: map[string][]string{}, addrCache: map[string][]string{}}
	if r.now.IsZero() {
		r.now = time.Now()
	}
	if r.loc == nil {
		r.loc = time.UTC
	}
	if r.sep == "" {
		r.sep = "+"
	}
	if in.Message == nil {
		return nil, &RuntimeError{Msg: "no message"}
	}
	f := &frame{s: s, vars: map[string]string{}, global: map[string]bool{}}
	if err := r.block(f, s.cmds); err != nil && err != errStop && err != errReturn {
		return nil, err
	}
	res := &Result{Actions: r.actions, Duplicates: r.dups, Flags: cloneFlags(r.flags)}
	// RFC 5228 §2.10.2: keep unless an action cancelled it.
	if !r.cancelKeep {
		res.Actions = append(res.Actions, Keep{Flags: cloneFlags(r.flags), Implicit: true})
	}
	return res, nil
}

// fail builds a run-time error at a node.
func fail(n *node, format string, args ...any) *RuntimeError {
	return &RuntimeError{Pos: n.pos, Msg: fmt.Sprintf(format, args...)}
}

// step spends one unit of the run's budget (Limits.MaxSteps).
func (r *run) step(n *node) error {
	r.steps++
	if r.steps > r.lim.MaxSteps {
		return fail(n, "script ran more than %d steps", r.lim.MaxSteps)
	}
	if r.steps%ctxCheckEvery == 0 {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("sieve: %w", err)
		}
	}
	return nil
}

// block runs commands, with if/elsif/else chains (RFC 5228 §3.1).
func (r *run) block(f *frame, cmds []*node) error {
	done := false // an earlier branch of the current chain ran
	for _, c := range cmds {
		if err := r.step(c); err != nil {
			return err
		}
		switch c.name {
		case "if", "elsif":
			if c.name == "if" {
				done = false
			}
			if done {
				continue
			}
			ok, err := r.test(f, c.tests[0])
			if err != nil {
				return err
			}
			if ok {
				done = true
				if err := r.block(f, c.block); err != nil {
					return err
				}
			}
		case "else":
			if !done {
				done = true
				if err := r.block(f, c.block); err != nil {
					return err
				}
			}
		default:
			if err := r.command(f, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// str returns a constant-kind string argument, variables expanded.
func (r *run) str(f *frame, n *node, a *arg) (string, error) {
	return r.expand(f, n, a.strs[0])
}

// strs returns a string list argument, variables expanded.
func (r *run) strs(f *frame, n *node, a *arg) ([]string, error) {
	out := make([]string, len(a.strs))
	for i, s := range a.strs {
		v, err := r.expand(f, n, s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// tagStr returns a tag's string argument, "" when the tag is absent.
func (r *run) tagStr(f *frame, n *node, tag string) (string, error) {
	a := n.tags[tag]
	if a == nil {
		return "", nil
	}
	return r.str(f, n, a)
}

// addAction records an action against Limits.MaxActions.
func (r *run) addAction(n *node, a Action) error {
	if len(r.actions) >= r.lim.MaxActions {
		return fail(n, "more than %d actions", r.lim.MaxActions)
	}
	r.actions = append(r.actions, a)
	return nil
}

// isInbox reports whether a mailbox name is the INBOX, whose name is
// case-insensitive (RFC 3501 §5.1).
func isInbox(name string) bool { return strings.EqualFold(name, "INBOX") }

// checkReject refuses an action after reject or ereject: keep,
// fileinto, redirect and vacation do not stand with a refusal (RFC
// 5429 §2; Pigeonhole and Cyrus fail such scripts the same way).
func (r *run) checkReject(n *node) error {
	if r.rejected {
		return fail(n, "%s cannot be used with reject or ereject (RFC 5429)", n.name)
	}
	return nil
}

// command runs one action or control command.
func (r *run) command(f *frame, c *node) error {
	switch c.name {
	case "require":
		return nil
	case "stop":
		return errStop
	case "return":
		return errReturn
	case "keep":
		if err := r.checkReject(c); err != nil {
			return err
		}
		flags, err := r.actionFlags(f, c)
		if err != nil {
			return err
		}
		r.cancelKeep = true
		return r.fileInto(c, "INBOX", flags, false, false, true)
	case "fileinto":
		if err := r.checkReject(c); err != nil {
			return err
		}
		mbox, err := r.str(f, c, c.pargs[0])
		if err != nil {
			return err
		}
		if mbox == "" {
			return fail(c, "fileinto: empty mailbox name")
		}
		flags, err := r.actionFlags(f, c)
		if err != nil {
			return err
		}
		cp := c.tags["copy"] != nil
		if !cp {
			r.cancelKeep = true
		}
		return r.fileInto(c, mbox, flags, cp, c.tags["create"] != nil, false)
	case "redirect":
		if err := r.checkReject(c); err != nil {
			return err
		}
		addr, err := r.str(f, c, c.pargs[0])
		if err != nil {
			return err
		}
		if !validAddress(addr) {
			return fail(c, "redirect: %q is not an address", addr)
		}
		cp := c.tags["copy"] != nil
		if !cp {
			r.cancelKeep = true
		}
		// RFC 5228 §2.10.3: one redirect per address.
		for i, a := range r.actions {
			if rd, ok := a.(Redirect); ok && strings.EqualFold(rd.Address, addr) {
				rd.Copy = rd.Copy && cp
				r.actions[i] = rd
				return nil
			}
		}
		r.redirects++
		if r.redirects > r.lim.MaxRedirects {
			return fail(c, "more than %d redirects", r.lim.MaxRedirects)
		}
		return r.addAction(c, Redirect{Address: addr, Copy: cp})
	case "discard":
		r.cancelKeep = true
		return r.addAction(c, Discard{})
	case "reject", "ereject":
		for _, a := range r.actions {
			switch a.(type) {
			case Keep, FileInto, Redirect, Vacation, Reject:
				return fail(c, "%s cannot be used with keep, fileinto, redirect, vacation or another reject (RFC 5429)", c.name)
			}
		}
		reason, err := r.str(f, c, c.pargs[0])
		if err != nil {
			return err
		}
		r.rejected = true
		r.cancelKeep = true
		return r.addAction(c, Reject{Reason: reason, Extended: c.name == "ereject"})
	case "setflag", "addflag", "removeflag":
		return r.flagCommand(f, c)
	case "set":
		return r.set(f, c)
	case "global":
		for _, name := range c.pargs[0].strs {
			f.global[strings.ToLower(name)] = true
		}
		return nil
	case "vacation":
		return r.vacationCommand(f, c)
	case "include":
		return r.include(f, c)
	}
	return fail(c, "command %s is not implemented", c.name)
}

// fileInto records a keep or fileinto, once per mailbox (RFC 5228
// §2.10.3; keep and fileinto "INBOX" are the same mailbox). Flags of a
// second filing into the same mailbox join the first's.
func (r *run) fileInto(c *node, mbox string, flags []string, cp, create, keep bool) error {
	for i, a := range r.actions {
		switch x := a.(type) {
		case Keep:
			if isInbox(mbox) {
				x.Flags = unionFlags(x.Flags, flags)
				r.actions[i] = x
				return nil
			}
		case FileInto:
			if x.Mailbox == mbox || isInbox(mbox) && isInbox(x.Mailbox) {
				x.Flags = unionFlags(x.Flags, flags)
				x.Copy = x.Copy && cp
				x.Create = x.Create || create
				if keep {
					r.actions[i] = Keep{Flags: x.Flags}
				} else {
					r.actions[i] = x
				}
				return nil
			}
		}
	}
	if keep {
		return r.addAction(c, Keep{Flags: flags})
	}
	return r.addAction(c, FileInto{Mailbox: mbox, Flags: flags, Copy: cp, Create: create})
}

// actionFlags is the flags a keep or fileinto sets (RFC 5232 §5): its
// :flags, else the internal variable's current value.
func (r *run) actionFlags(f *frame, c *node) ([]string, error) {
	if a := c.tags["flags"]; a != nil {
		list, err := r.strs(f, c, a)
		if err != nil {
			return nil, err
		}
		return splitFlags(list), nil
	}
	return cloneFlags(r.flags), nil
}

// vacationCommand records a vacation (RFC 5230 §4).
func (r *run) vacationCommand(f *frame, c *node) error {
	if r.vacation {
		// RFC 5230 §4.7: one vacation per run.
		return fail(c, "vacation used twice")
	}
	if r.rejected {
		return fail(c, "vacation cannot be used with reject or ereject (RFC 5429)")
	}
	r.vacation = true
	v := Vacation{To: r.in.Envelope.From, MIME: c.tags["mime"] != nil}
	var err error
	if v.Reason, err = r.str(f, c, c.pargs[0]); err != nil {
		return err
	}
	if v.Subject, err = r.tagStr(f, c, "subject"); err != nil {
		return err
	}
	if v.From, err = r.tagStr(f, c, "from"); err != nil {
		return err
	}
	if v.Handle, err = r.tagStr(f, c, "handle"); err != nil {
		return err
	}
	if a := c.tags["addresses"]; a != nil {
		if v.Addresses, err = r.strs(f, c, a); err != nil {
			return err
		}
	}
	days := uint64(defaultVacationDays)
	if a := c.tags["days"]; a != nil {
		days = min(max(a.num, minVacationDays), maxVacationDays)
	}
	v.Period = time.Duration(days) * 24 * time.Hour
	if a := c.tags["seconds"]; a != nil {
		// RFC 6131 §2: 0 means answer every time; capped like :days.
		v.Period = time.Duration(min(a.num, maxVacationDays*24*3600)) * time.Second
	}
	if v.Handle == "" {
		// §4.2: without :handle, messages with the same arguments share
		// a handle.
		h := sha256.Sum256([]byte(v.Subject + "\x00" + v.From + "\x00" + v.Reason + "\x00" + fmt.Sprint(v.MIME)))
		v.Handle = hex.EncodeToString(h[:16])
	}
	v.Suppress = r.vacationSuppress(v)
	return r.addAction(c, v)
}

// include runs another script (RFC 6609 §3.2).
func (r *run) include(f *frame, c *node) error {
	if r.in.Scripts == nil {
		return fail(c, "include: no script loader")
	}
	name := c.pargs[0].strs[0]
	global := c.tags["global"] != nil
	key := "personal:" + name
	if global {
		key = "global:" + name
	}
	for _, k := range r.stack {
		if k == key {
			return fail(c, "include: %s includes itself (RFC 6609 §3.2)", name)
		}
	}
	if c.tags["once"] != nil && r.included[key] {
		return nil
	}
	if len(r.stack) >= r.lim.MaxIncludeDepth {
		return fail(c, "include: nested more than %d deep", r.lim.MaxIncludeDepth)
	}
	r.includes++
	if r.includes > r.lim.MaxIncludes {
		return fail(c, "include: more than %d includes", r.lim.MaxIncludes)
	}
	s := r.cache[key]
	if s == nil {
		src, err := r.in.Scripts.LoadScript(r.ctx, global, name)
		if err != nil {
			if errors.Is(err, ErrNoScript) && c.tags["optional"] != nil {
				return nil
			}
			return &RuntimeError{Pos: c.pos, Msg: "include: cannot load " + name, Err: err}
		}
		cs, err := Compile(src, Options{Limits: r.lim})
		if err != nil {
			return &RuntimeError{Pos: c.pos, Msg: "include: " + name + " does not compile", Err: err}
		}
		s = cs
		r.cache[key] = s
	}
	r.included[key] = true
	r.stack = append(r.stack, key)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	sub := &frame{s: s, vars: map[string]string{}, global: map[string]bool{}}
	err := r.block(sub, s.cmds)
	if err == errReturn {
		return nil
	}
	var re *RuntimeError
	if errors.As(err, &re) && re.Script == "" {
		re.Script = key
	}
	return err
}

// cloneFlags copies a flag list (nil stays nil).
func cloneFlags(f []string) []string {
	if f == nil {
		return nil
	}
	return append([]string{}, f...)
}

// splitFlags turns a list of flag strings into flags: each string may
// hold several separated by spaces; duplicates (case-insensitive) go
// (RFC 5232 §3).
func splitFlags(list []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range list {
		for _, fl := range strings.Fields(s) {
			if k := strings.ToLower(fl); !seen[k] {
				seen[k] = true
				out = append(out, fl)
			}
		}
	}
	return out
}

// unionFlags adds the flags of b not already in a.
func unionFlags(a, b []string) []string {
	seen := make(map[string]bool, len(a))
	for _, x := range a {
		seen[strings.ToLower(x)] = true
	}
	for _, fl := range b {
		if k := strings.ToLower(fl); !seen[k] {
			seen[k] = true
			a = append(a, fl)
		}
	}
	return a
}

// flagCommand runs setflag, addflag and removeflag (RFC 5232 §3) on the
// internal variable or a named one.
func (r *run) flagCommand(f *frame, c *node) error {
	list, err := r.strs(f, c, c.pargs[len(c.pargs)-1])
	if err != nil {
		return err
	}
	change := splitFlags(list)
	var cur []string
	named := ""
	if len(c.pargs) == 2 {
		named = c.pargs[0].strs[0]
		cur = splitFlags([]string{r.getVar(f, named)})
	} else {
		cur = r.flags
	}
	switch c.name {
	case "setflag":
		cur = change
	case "addflag":
		cur = unionFlags(append([]string{}, cur...), change)
	case "removeflag":
		drop := map[string]bool{}
		for _, y := range change {
			drop[strings.ToLower(y)] = true
		}
		var keep []string
		for _, x := range cur {
			if !drop[strings.ToLower(x)] {
				keep = append(keep, x)
			}
		}
		cur = keep
		if cur == nil {
			cur = []string{}
		}
	}
	if named != "" {
		return r.setVar(f, c, named, strings.Join(cur, " "))
	}
	r.flags = cur
	return nil
}

// digest names duplicate-tracking keys by a hash so they are short and
// carry no message text (RFC 7352 §3.1: the handle and the ID together).
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// duplicate runs the duplicate test (RFC 7352 §3).
func (r *run) duplicate(f *frame, t *node) (bool, error) {
	if r.in.Duplicates == nil {
		return false, fail(t, "duplicate: no duplicate store")
	}
	handle, err := r.tagStr(f, t, "handle")
	if err != nil {
		return false, err
	}
	var id string
	switch {
	case t.tags["uniqueid"] != nil:
		if id, err = r.tagStr(f, t, "uniqueid"); err != nil {
			return false, err
		}
	default:
		name := "message-id"
		if t.tags["header"] != nil {
			if name, err = r.tagStr(f, t, "header"); err != nil {
				return false, err
			}
		}
		vals := r.headerValues(name)
		if len(vals) == 0 {
			// §3.1: no ID, no duplicate.
			return false, nil
		}
		id = strings.TrimSpace(vals[0])
		if strings.EqualFold(name, "message-id") {
			id = strings.Trim(id, "<>")
		}
	}
	key := digest(handle, id)
	secs := uint64(defaultDuplicateSeconds)
	if a := t.tags["seconds"]; a != nil {
		secs = min(a.num, maxDuplicateSeconds)
	}
	if seen, ok := r.dupSeen[key]; ok {
		return seen, nil
	}
	seen, err := r.in.Duplicates.Seen(r.ctx, key)
	if err != nil {
		return false, &RuntimeError{Pos: t.pos, Msg: "duplicate", Err: err}
	}
	r.dupSeen[key] = seen
	if !seen || t.tags["last"] != nil {
		r.dups = append(r.dups, DuplicateMark{Key: key, Expiry: time.Duration(secs) * time.Second, Refresh: t.tags["last"] != nil})
	}
	return seen, nil
}

// runeLen is the number of characters of s (RFC 5229 §4.1 :length).
func runeLen(s string) int { return utf8.RuneCountInString(s) }
