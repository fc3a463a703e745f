package httpcache

import (
	"fmt"
	"sync"
	"testing"
)

// TestMemoryStoreConcurrentHits runs lock-free hits (Variants, Open,
// SIEVE's visited bit) against inserts, updates and evictions; run with
// -race. A body that is opened is always the one stored with its entry.
func TestMemoryStoreConcurrentHits(t *testing.T) {
	s := NewMemoryStore(8<<10, 1<<10) // room for a few dozen entries
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("http://h/%d", i%50)
				for _, e := range s.Variants(key) {
					b, err := s.Open(e)
					if err != nil {
						continue // evicted meanwhile
					}
					if got := string(b.(InMemory).Bytes()); got != key {
						t.Errorf("opened %q for %s", got, key)
					}
					b.Close()
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		key := fmt.Sprintf("http://h/%d", i%50)
		e := put(t, s, key, key)
		if i%7 == 0 {
			ne := e.Clone()
			ne.Header.Set("X", "2")
			s.Update(e, ne)
		}
		if i%11 == 0 {
			s.DeleteKey(key)
		}
	}
	close(stop)
	wg.Wait()
	st := s.Stats()
	if st.Bytes > st.Budget || st.Evictions == 0 {
		t.Errorf("stats %+v", st)
	}
}
