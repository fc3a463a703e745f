package httpcache

import "sync/atomic"

// sieve is the SIEVE eviction policy (Zhang et al., NSDI 2024): a FIFO
// queue with one "visited" bit per object and a hand that sweeps from the
// oldest object towards the newest, sparing (and clearing) visited ones.
// It is as simple as FIFO, needs no lock on a hit (a hit only sets a bit,
// atomically: sieveNode.touch), and beats LRU on web traces. The other
// methods are not safe for concurrent use; the stores guard them with
// their own mutex.
type sieve struct {
	items      map[string]*sieveNode
	head, tail *sieveNode // head is newest
	hand       *sieveNode
}

type sieveNode struct {
	id         string
	visited    atomic.Bool
	prev, next *sieveNode // prev is towards head (newer)
}

func newSieve() *sieve { return &sieve{items: map[string]*sieveNode{}} }

// add inserts a new object at the head and returns its node.
func (s *sieve) add(id string) *sieveNode {
	n := &sieveNode{id: id, next: s.head}
	if s.head != nil {
		s.head.prev = n
	}
	s.head = n
	if s.tail == nil {
		s.tail = n
	}
	s.items[id] = n
	return n
}

// touch records a hit.
func (s *sieve) touch(id string) {
	if n, ok := s.items[id]; ok {
		n.touch()
	}
}

// touch records a hit on n; safe for concurrent use. The bit is only
// written when clear, so a hot object's node is not written on every hit.
func (n *sieveNode) touch() {
	if !n.visited.Load() {
		n.visited.Store(true)
	}
}

// remove drops an object.
func (s *sieve) remove(id string) {
	n, ok := s.items[id]
	if !ok {
		return
	}
	if s.hand == n {
		s.hand = n.prev
	}
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		s.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		s.tail = n.prev
	}
	delete(s.items, id)
}

// victim picks the object to evict, or "" when empty.
func (s *sieve) victim() string {
	n := s.hand
	if n == nil {
		n = s.tail
	}
	for n != nil && n.visited.Load() {
		n.visited.Store(false)
		n = n.prev
		if n == nil {
			n = s.tail
		}
	}
	if n == nil {
		return ""
	}
	s.hand = n.prev
	return n.id
}
