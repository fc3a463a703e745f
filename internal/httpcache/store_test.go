package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

func put(t *testing.T, s Store, key, body string) *Entry {
	t.Helper()
	w, err := s.Create(&Entry{Key: key, Status: 200, Header: http.Header{"X": {"1"}}, ResponseTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		w.Abort()
		return nil
	}
	e, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func read(t *testing.T, s Store, e *Entry) string {
	t.Helper()
	b, err := s.Open(e)
	if err != nil {
		return ""
	}
	defer b.Close()
	buf := make([]byte, e.Size)
	b.ReadAt(buf, 0)
	return string(buf)
}

func stores(t *testing.T, budget, maxObject int64) map[string]Store {
	d, err := OpenDiskStore(t.TempDir(), budget, maxObject)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{"memory": NewMemoryStore(budget, maxObject), "disk": d}
}

func TestStoreBudgetAndEviction(t *testing.T) {
	for name, s := range stores(t, 20_000, 5_000) {
		t.Run(name, func(t *testing.T) {
			hot := put(t, s, "http://h/hot", string(make([]byte, 1000)))
			for i := range 100 {
				read(t, s, hot) // SIEVE keeps what is read
				put(t, s, fmt.Sprintf("http://h/%d", i), string(make([]byte, 1000)))
				if st := s.Stats(); st.Bytes > st.Budget {
					t.Fatalf("over budget: %+v", st)
				}
			}
			if len(s.Variants("http://h/hot")) != 1 {
				t.Error("the hot entry was evicted")
			}
			if s.Stats().Evictions == 0 {
				t.Error("no evictions")
			}
			if e := put(t, s, "http://h/big", string(make([]byte, 6000))); e != nil {
				t.Error("an object over the object limit was stored")
			}
		})
	}
}

func TestStorePurge(t *testing.T) {
	for name, s := range stores(t, 1<<20, 1<<20) {
		t.Run(name, func(t *testing.T) {
			put(t, s, "http://h/a/1", "x")
			put(t, s, "http://h/a/2", "x")
			put(t, s, "http://h/b", "x")
			if n := s.DeleteKey("http://h/b"); n != 1 {
				t.Errorf("DeleteKey = %d", n)
			}
			if n := s.DeletePrefix("http://h/a/"); n != 2 {
				t.Errorf("DeletePrefix = %d", n)
			}
			if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
				t.Errorf("left %+v", st)
			}
		})
	}
}

func TestDiskStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenDiskStore(dir, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := put(t, s, "http://h/x", "hello")
	ne := e.Clone()
	ne.Header.Set("X", "2")
	if _, err := s.Update(e, ne); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := OpenDiskStore(dir, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	vs := s2.Variants("http://h/x")
	if len(vs) != 1 || read(t, s2, vs[0]) != "hello" || vs[0].Header.Get("X") != "2" {
		t.Fatalf("after restart: %+v", vs)
	}
}

func TestParseCacheControl(t *testing.T) {
	d := ParseCacheControl(http.Header{"Cache-Control": {`Max-Age=5, no-cache="a, b", x="q\"uote,d"`, "private"}})
	if n, _, ok := d.Seconds("max-age"); !ok || n != 5 {
		t.Errorf("max-age = %d %v", n, ok)
	}
	if f := d.FieldNames("no-cache"); len(f) != 2 || f[1] != "B" {
		t.Errorf("no-cache fields = %q", f)
	}
	if d["x"].Value != `q"uote,d` || !d.Has("private") {
		t.Errorf("parsed %+v", d)
	}
}

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		err  bool
	}{
		{"bytes=0-4", "[{0 5}]", false}, {"bytes=-2", "[{8 2}]", false}, {"bytes=8-", "[{8 2}]", false},
		{"bytes=0-0,2-3", "[{0 1} {2 2}]", false}, {"bytes=20-", "[]", true}, {"items=0-1", "[]", false},
		{"bytes=5-1", "[]", false},
	} {
		r, err := ParseRange(c.in, 10)
		if got := fmt.Sprint(r); (err != nil) != c.err || (len(r) > 0 && got != c.want) {
			t.Errorf("ParseRange(%q) = %v, %v", c.in, r, err)
		}
	}
}
