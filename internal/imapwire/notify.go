package imapwire

// NotifyArgs are NOTIFY's (RFC 5465 §8): "NONE", or "SET" [SP "STATUS"]
// SP event-group *(SP event-group). None is set for NOTIFY NONE.
type NotifyArgs struct {
	None   bool
	Status bool          // SET STATUS: the initial STATUS of each mailbox (§3)
	Groups []NotifyGroup // in the order given
}

// NotifyGroup is one event-group: a mailbox filter and its events.
type NotifyGroup struct {
	// Filter is upper case: SELECTED, SELECTED-DELAYED, INBOXES,
	// PERSONAL, SUBSCRIBED, SUBTREE or MAILBOXES (RFC 5465 §6).
	Filter string
	// Mailboxes are SUBTREE's and MAILBOXES' names, decoded.
	Mailboxes []string
	// Events are the event names as RFC 5465 §5 spells them
	// ("MessageNew", "FlagChange"); none for the events "NONE".
	Events []string
	// Fetch are MessageNew's fetch attributes (§5.2), if any.
	Fetch []FetchItem
}

// notifyEvents are the events of RFC 5465 §5, in their spelling.
var notifyEvents = [...]string{
	"MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange",
	"MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange",
}

func parseNotify(r *Reader) (any, error) {
	var buf [32]byte
	w, err := r.upperAtom(buf[:])
	if err != nil {
		return nil, err
	}
	switch string(w) {
	case "NONE":
		return &NotifyArgs{None: true}, nil
	case "SET":
	default:
		return nil, syntaxErr("expected NONE or SET")
	}
	a := &NotifyArgs{}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() != '(' {
		if w, err = r.upperAtom(buf[:]); err != nil {
			return nil, err
		}
		if string(w) != "STATUS" {
			return nil, syntaxErr("expected STATUS or an event group")
		}
		a.Status = true
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	for {
		if len(a.Groups) >= r.lim.MaxItems {
			return nil, tooBigErr("too many event groups")
		}
		g, err := r.notifyGroup()
		if err != nil {
			return nil, err
		}
		a.Groups = append(a.Groups, g)
		if !r.maybeSP() {
			return a, nil
		}
	}
}

// notifyGroup reads "(" filter-mailboxes SP events ")".
func (r *Reader) notifyGroup() (NotifyGroup, error) {
	var g NotifyGroup
	var buf [32]byte
	if err := r.expect('('); err != nil {
		return g, err
	}
	f, err := r.upperAtom(buf[:])
	if err != nil {
		return g, err
	}
	switch string(f) {
	case "SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED":
		g.Filter = intern(f)
	case "SUBTREE", "MAILBOXES":
		g.Filter = intern(f)
		if err := r.sp(); err != nil {
			return g, err
		}
		if g.Mailboxes, err = r.mailboxList(); err != nil {
			return g, err
		}
	default:
		return g, syntaxErr("unknown mailbox filter %q", f)
	}
	if err := r.sp(); err != nil {
		return g, err
	}
	if r.peek() != '(' {
		n, err := r.upperAtom(buf[:])
		if err != nil {
			return g, err
		}
		if string(n) != "NONE" {
			return g, syntaxErr("expected NONE or a list of events")
		}
	} else {
		r.pos++
		for first := true; ; first = false {
			if !first && !r.maybeSP() {
				break
			}
			if len(g.Events) >= len(notifyEvents) {
				return g, syntaxErr("an event named twice")
			}
			ev, err := r.notifyEvent()
			if err != nil {
				return g, err
			}
			g.Events = append(g.Events, ev)
			if ev == "MessageNew" && r.peek() == ' ' && r.pos+1 < len(r.line) && r.line[r.pos+1] == '(' {
				r.pos += 2
				fa := &FetchArgs{}
				for i := 0; r.peek() != ')'; i++ {
					if i > 0 {
						if err := r.sp(); err != nil {
							return g, err
						}
					}
					if len(fa.Items) >= r.lim.MaxItems {
						return g, tooBigErr("more than %d fetch items", r.lim.MaxItems)
					}
					if err := r.fetchAtt(fa, false); err != nil {
						return g, err
					}
				}
				r.pos++
				if len(fa.Items) == 0 {
					return g, syntaxErr("no fetch items")
				}
				g.Fetch = fa.Items
			}
		}
		if err := r.expect(')'); err != nil {
			return g, err
		}
	}
	return g, r.expect(')')
}

// notifyEvent reads an event name (case-insensitive, RFC 5465 §8).
func (r *Reader) notifyEvent() (string, error) {
	var buf [32]byte
	n, err := r.upperAtom(buf[:])
	if err != nil {
		return "", err
	}
	for _, ev := range notifyEvents {
		if len(ev) == len(n) && upperEq(ev, n) {
			return ev, nil
		}
	}
	return "", syntaxErr("unknown event %q", n)
}

// upperEq reports whether name upper-cased equals up.
func upperEq(name string, up []byte) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != up[i] {
			return false
		}
	}
	return true
}

// mailboxList reads one-or-more-mailbox: a mailbox, or "(" mailbox *(SP
// mailbox) ")".
func (r *Reader) mailboxList() ([]string, error) {
	if r.peek() != '(' {
		m, err := r.mailbox()
		if err != nil {
			return nil, err
		}
		return []string{m}, nil
	}
	r.pos++
	var out []string
	for {
		if len(out) >= r.lim.MaxItems {
			return nil, tooBigErr("too many mailboxes")
		}
		m, err := r.mailbox()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		if !r.maybeSP() {
			break
		}
	}
	return out, r.expect(')')
}
