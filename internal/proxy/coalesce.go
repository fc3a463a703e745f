package proxy

import "sync"

// flights coalesces concurrent misses for one primary key: the first
// request (the leader) goes to the origin; the others wait until the leader
// has stored the response, or found it not storable, and then look in the
// cache again (Varnish's "waiting list", Squid's collapsed forwarding).
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one origin fetch in progress.
type flight struct {
	done chan struct{}
	once sync.Once
}

// join returns the flight for key and whether the caller leads it.
func (f *flights) join(key string) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.m[key]; ok {
		return fl, false
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	return fl, true
}

// finish ends a flight, waking its waiters; it may be called more than once.
func (f *flights) finish(key string, fl *flight) {
	fl.once.Do(func() {
		f.mu.Lock()
		if f.m[key] == fl {
			delete(f.m, key)
		}
		f.mu.Unlock()
		close(fl.done)
	})
}
