package imapsort

import (
	"cmp"
	"slices"
	"time"
)

// Node is one message of a thread and its replies, in the order RFC 5256
// §4 sends them. Num 0 is a dummy: the missing parent of its Children,
// found only at the top of a REFERENCES thread.
type Node struct {
	Num      uint32
	Children []Node
}

// OrderedSubject threads msgs by ORDEREDSUBJECT (RFC 5256 §3): messages
// are grouped by base subject; in each group, sorted by sent date, the
// first is the parent of all the others; the groups are sorted by the
// sent date of their first message.
func OrderedSubject(msgs []Message) []Node {
	type item struct {
		subject string
		sent    time.Time
		num     uint32
	}
	items := make([]item, len(msgs))
	for i := range msgs {
		base, _ := BaseSubject(msgs[i].Subject)
		items[i] = item{Fold(base), msgs[i].Sent(), msgs[i].Num}
	}
	slices.SortFunc(items, func(a, b item) int {
		if r := cmp.Compare(a.subject, b.subject); r != 0 {
			return r
		}
		if r := a.sent.Compare(b.sent); r != 0 {
			return r
		}
		return cmp.Compare(a.num, b.num)
	})
	type thread struct {
		node Node
		sent time.Time
	}
	var threads []thread
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].subject == items[i].subject {
			j++
		}
		t := thread{node: Node{Num: items[i].num}, sent: items[i].sent}
		for _, c := range items[i+1 : j] {
			t.node.Children = append(t.node.Children, Node{Num: c.num})
		}
		threads = append(threads, t)
		i = j
	}
	slices.SortFunc(threads, func(a, b thread) int {
		if r := a.sent.Compare(b.sent); r != 0 {
			return r
		}
		return cmp.Compare(a.node.Num, b.node.Num)
	})
	out := make([]Node, len(threads))
	for i, t := range threads {
		out[i] = t.node
	}
	return out
}

// container is a message or a dummy (msg < 0) of REFERENCES threading.
type container struct {
	msg      int // index in msgs, -1 for a dummy
	parent   int // index in the containers, -1 for none
	children []int
}

// threader holds the state of one REFERENCES run.
type threader struct {
	msgs  []Message
	c     []container
	ids   map[string]int // Message-ID → container
	bases []string       // folded base subject of each message
	reply []bool         // whether each message's subject marks a reply or forward
}

// References threads msgs by REFERENCES (RFC 5256 §3), all six steps:
// parent/child links from References (or In-Reply-To), the root set,
// pruning of dummies, the sort of the top level, the merge of threads
// with the same base subject, and the sort of every set of siblings by
// sent date. msgs must be in mailbox order (ascending Num).
func References(msgs []Message) []Node {
	t := &threader{msgs: msgs, ids: make(map[string]int, len(msgs))}
	t.c = make([]container, len(msgs), len(msgs)+len(msgs)/4)
	t.bases = make([]string, len(msgs))
	t.reply = make([]bool, len(msgs))
	for i := range msgs {
		t.c[i] = container{msg: i, parent: -1}
		base, re := BaseSubject(msgs[i].Subject)
		t.bases[i], t.reply[i] = Fold(base), re
		// Step 1: a message without a Message-ID, or with one an
		// earlier message has, gets a unique one: it is in no table.
		if id := msgs[i].MessageID; id != "" {
			if _, dup := t.ids[id]; !dup {
				t.ids[id] = i
			}
		}
	}
	for i := range msgs {
		t.link(i)
	}
	// Step 2: the messages with no parent are the root's children.
	var root []int
	for i := range t.c {
		if t.c[i].parent < 0 {
			root = append(root, i)
		}
	}
	root = t.prune(root, true) // step 3
	// Step 4: sort the top level by sent date, a dummy by its first
	// child's once its children are sorted.
	for _, r := range root {
		if t.c[r].msg < 0 {
			t.sortSiblings(t.c[r].children)
		}
	}
	t.sortSiblings(root)
	root = t.mergeSubjects(root) // step 5
	// Step 6: sort every set of siblings, the deepest first.
	t.sortTree(root)
	out := make([]Node, len(root))
	for i, r := range root {
		out[i] = t.node(r)
	}
	return out
}

// link is step 1 for message i: (A) the References chain linked parent to
// child where a child has no parent yet, (B) the last reference made the
// parent of i, replacing the parent i has; never a link that makes a loop.
func (t *threader) link(i int) {
	refs := t.msgs[i].References
	if len(refs) == 0 && len(t.msgs[i].InReplyTo) > 0 {
		// No References: the first id of In-Reply-To.
		refs = t.msgs[i].InReplyTo[:1]
	}
	prev := -1
	for _, id := range refs {
		c := t.container(id)
		if prev >= 0 && t.c[c].parent < 0 && !t.loops(prev, c) {
			t.setParent(c, prev)
		}
		prev = c
	}
	if t.c[i].parent >= 0 {
		t.unlink(i)
	}
	if prev >= 0 && !t.loops(prev, i) {
		t.setParent(i, prev)
	}
}

// container returns the container of a Message-ID, a new dummy if no
// message has it.
func (t *threader) container(id string) int {
	if c, ok := t.ids[id]; ok {
		return c
	}
	t.c = append(t.c, container{msg: -1, parent: -1})
	c := len(t.c) - 1
	t.ids[id] = c
	return c
}

// loops reports whether making p the parent of c makes a loop: p is c or
// one of c's descendants.
func (t *threader) loops(p, c int) bool {
	if len(t.c[c].children) == 0 {
		// Nothing descends from c: the usual case of a reply whose own
		// replies come later, which makes a long chain linear.
		return p == c
	}
	for a := p; a >= 0; a = t.c[a].parent {
		if a == c {
			return true
		}
	}
	return false
}

func (t *threader) setParent(c, p int) {
	t.c[c].parent = p
	t.c[p].children = append(t.c[p].children, c)
}

func (t *threader) unlink(c int) {
	p := t.c[c].parent
	t.c[p].children = slices.DeleteFunc(t.c[p].children, func(x int) bool { return x == c })
	t.c[c].parent = -1
}

// prune is step 3 for a list of siblings, each pruned below first: a
// dummy without children goes; a dummy with children is replaced by
// them, except at the top level where only a dummy with one child is.
func (t *threader) prune(list []int, top bool) []int {
	out := list[:0:0]
	for _, x := range list {
		t.c[x].children = t.prune(t.c[x].children, false)
		if t.c[x].msg >= 0 {
			out = append(out, x)
			continue
		}
		kids := t.c[x].children
		switch {
		case len(kids) == 0:
		case !top || len(kids) == 1:
			for _, k := range kids {
				t.c[k].parent = t.c[x].parent
			}
			out = append(out, kids...)
		default:
			out = append(out, x)
		}
	}
	return out
}

// first is the message a container stands for when sorting and when
// taking a thread's subject: itself, or a dummy's first child.
func (t *threader) first(x int) int {
	for t.c[x].msg < 0 && len(t.c[x].children) > 0 {
		x = t.c[x].children[0]
	}
	return t.c[x].msg
}

// sortSiblings sorts a set of siblings by sent date, ties in mailbox
// order (RFC 5256 §2.2).
func (t *threader) sortSiblings(list []int) {
	slices.SortStableFunc(list, func(a, b int) int {
		ma, mb := t.first(a), t.first(b)
		if ma < 0 || mb < 0 {
			return cmp.Compare(ma, mb)
		}
		if r := t.msgs[ma].Sent().Compare(t.msgs[mb].Sent()); r != 0 {
			return r
		}
		return cmp.Compare(t.msgs[ma].Num, t.msgs[mb].Num)
	})
}

// sortTree is step 6: children sorted before their parents' siblings.
func (t *threader) sortTree(list []int) {
	for _, x := range list {
		t.sortTree(t.c[x].children)
	}
	t.sortSiblings(list)
}

// subject is a top-level thread's subject (step 5.B.i): the folded base
// subject of its message, or of a dummy's first child.
func (t *threader) subject(x int) string {
	if m := t.first(x); m >= 0 {
		return t.bases[m]
	}
	return ""
}

// isReply reports whether container x is a message whose subject marks a
// reply or forward.
func (t *threader) isReply(x int) bool { return t.c[x].msg >= 0 && t.reply[t.c[x].msg] }

// mergeSubjects is step 5: top-level threads with the same base subject
// are gathered under one.
func (t *threader) mergeSubjects(root []int) []int {
	// (B) One thread per subject: a dummy rather than a message, a
	// message that is no reply rather than one that is.
	table := map[string]int{}
	for _, x := range root {
		s := t.subject(x)
		if s == "" {
			continue
		}
		old, ok := table[s]
		if !ok {
			table[s] = x
			continue
		}
		if t.c[old].msg >= 0 && (t.c[x].msg < 0 || t.isReply(old) && !t.isReply(x)) {
			table[s] = x
		}
	}
	// (C) Merge the others into it.
	gone := map[int]bool{}
	var added []int
	for _, x := range root {
		s := t.subject(x)
		if s == "" {
			continue
		}
		old := table[s]
		if old == x {
			continue
		}
		switch {
		case t.c[old].msg < 0 && t.c[x].msg < 0:
			// Both dummies: x's children become old's.
			for _, k := range t.c[x].children {
				t.c[k].parent = old
			}
			t.c[old].children = append(t.c[old].children, t.c[x].children...)
			t.c[x].children = nil
		case t.c[old].msg < 0 || t.isReply(x) && !t.isReply(old):
			t.setParent(x, old)
		default:
			// A new dummy holds both, and takes old's place.
			t.c = append(t.c, container{msg: -1, parent: -1})
			d := len(t.c) - 1
			t.setParent(old, d)
			t.setParent(x, d)
			table[s] = d
			gone[old] = true
			added = append(added, d)
		}
		gone[x] = true
	}
	if len(gone) == 0 {
		return root
	}
	out := slices.DeleteFunc(root, func(x int) bool { return gone[x] })
	return append(out, added...)
}

// node converts a container and its descendants.
func (t *threader) node(x int) Node {
	n := Node{}
	if m := t.c[x].msg; m >= 0 {
		n.Num = t.msgs[m].Num
	}
	if len(t.c[x].children) > 0 {
		n.Children = make([]Node, len(t.c[x].children))
		for i, k := range t.c[x].children {
			n.Children[i] = t.node(k)
		}
	}
	return n
}
