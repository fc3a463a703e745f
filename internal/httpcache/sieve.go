package httpcache

// sieve is the SIEVE eviction policy (Zhang et al., NSDI 2024): a FIFO
// queue with one "visited" bit per object and a hand that sweeps from the
// oldest object towards the newest, sparing (and clearing) visited ones.
// It is as simple as FIFO, needs no lock-heavy reordering on a hit (a hit
// only sets a bit), and beats LRU on web traces. Not safe for concurrent
// use; the stores guard it with their own mutex.
type sieve struct {
	items      map[string]*sieveNode
	head, tail *sieveNode // head is newest
	hand       *sieveNode
}

type sieveNode struct {
	id         string
	visited    bool
	prev, next *sieveNode // prev is towards head (newer)
}

func newSieve() *sieve { return &sieve{items: map[string]*sieveNode{}} }

// add inserts a new object at the head.
func (s *sieve) add(id string) {
	n := &sieveNode{id: id, next: s.head}
	if s.head != nil {
		s.head.prev = n
	}
	s.head = n
	if s.tail == nil {
		s.tail = n
	}
	s.items[id] = n
}

// touch records a hit.
func (s *sieve) touch(id string) {
	if n, ok := s.items[id]; ok {
		n.visited = true
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
	for n != nil && n.visited {
		n.visited = false
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
