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

// TestMemoryStoreSizeHint stores bodies whose announced size (Entry.Size
// at Create) is right, too small, too large, absent, or past the largest
// object: the stored body and Size are what was written either way, and
// a body past the largest object is refused.
func TestMemoryStoreSizeHint(t *testing.T) {
	const maxObject = 64
	for _, tc := range []struct {
		name      string
		hint, len int
		ok        bool
	}{
		{"exact", 10, 10, true},
		{"short hint", 4, 10, true},
		{"long hint", 40, 10, true},
		{"no hint", 0, 10, true},
		{"hint past the largest object", 1 << 20, 10, true},
		{"body past the largest object", 10, maxObject + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewMemoryStore(1<<20, maxObject)
			body := make([]byte, tc.len)
			for i := range body {
				body[i] = byte('a' + i%26)
			}
			w, err := s.Create(&Entry{Key: "http://h/x", Status: 200, Size: int64(tc.hint)})
			if err != nil {
				t.Fatal(err)
			}
			// Two writes, as a body streams.
			_, err1 := w.Write(body[:tc.len/2])
			_, err2 := w.Write(body[tc.len/2:])
			e, err := w.Commit()
			if !tc.ok {
				if err1 == nil && err2 == nil || err == nil {
					t.Fatalf("stored a %d-byte body over the %d-byte limit", tc.len, maxObject)
				}
				return
			}
			if err1 != nil || err2 != nil || err != nil {
				t.Fatalf("write %v, %v, commit %v", err1, err2, err)
			}
			if e.Size != int64(tc.len) {
				t.Errorf("Size %d, want %d", e.Size, tc.len)
			}
			b, err := s.Open(e)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.(InMemory).Bytes(); string(got) != string(body) {
				t.Errorf("stored %q, want %q", got, body)
			}
		})
	}
}
