package delivery

import (
	"context"
	"errors"
	"testing"

	"pail/internal/store"
)

func newTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addrs(r Route) []string {
	var out []string
	for _, t := range r.Accounts {
		out = append(out, t.Address)
	}
	return append(out, r.Remote...)
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	isLocal := func(d string) bool { return d == "hill.com" || d == "hill.org" }
	r := NewRouter(st, isLocal, "")
	r.SetHostname("MX.Hill.com.")

	if _, err := r.Resolve(ctx, "postmaster@hill.com"); !errors.Is(err, ErrNoPostmaster) {
		t.Errorf("postmaster with no accounts: %v", err)
	}
	st.AddAccount(ctx, "jill@hill.com", "h", false)
	st.AddAccount(ctx, "bob@hill.com", "h", false)
	st.AddAlias(ctx, "team@hill.com", []string{"jill@hill.com", "bob@hill.com", "carol@elsewhere.net", "team@hill.com"})
	st.AddAlias(ctx, "all@hill.org", []string{"team@hill.com", "jill@hill.com"})
	st.AddAlias(ctx, "loop1@hill.com", []string{"loop2@hill.com"})
	st.AddAlias(ctx, "loop2@hill.com", []string{"loop1@hill.com"})

	for _, tc := range []struct {
		rcpt string
		want string
		err  error
	}{
		{"jill@hill.com", "[jill@hill.com]", nil},
		{"JILL@HILL.COM", "[jill@hill.com]", nil},
		{"jill+news@hill.com", "[jill@hill.com]", nil},
		{"team@hill.com", "[bob@hill.com jill@hill.com carol@elsewhere.net]", nil},
		{"team+x@hill.com", "[bob@hill.com jill@hill.com carol@elsewhere.net]", nil},
		{"all@hill.org", "[jill@hill.com bob@hill.com carol@elsewhere.net]", nil},
		{"Postmaster@hill.org", "[jill@hill.com]", nil},
		{"postmaster", "[jill@hill.com]", nil},
		// RFC 5321 §4.5.1: postmaster at the host name, and only postmaster.
		{"postmaster@mx.hill.com", "[jill@hill.com]", nil},
		{"PostMaster@MX.HILL.COM.", "[jill@hill.com]", nil},
		{"jill@mx.hill.com", "", ErrNotLocal},
		{"postmaster@other.hill.com", "", ErrNotLocal},
		{"loop1@hill.com", "", ErrUnknownUser},
		{"nobody@hill.com", "", ErrUnknownUser},
		{"jill@elsewhere.net", "", ErrNotLocal},
		{"not an address", "", ErrUnknownUser},
	} {
		route, err := r.Resolve(ctx, tc.rcpt)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.rcpt, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.rcpt, err)
			continue
		}
		if got := fmtList(addrs(route)); got != tc.want {
			t.Errorf("%s -> %s, want %s", tc.rcpt, got, tc.want)
		}
	}

	// A configured postmaster wins over the first admin.
	r2 := NewRouter(st, isLocal, "bob@hill.com")
	if route, err := r2.Resolve(ctx, "postmaster@hill.com"); err != nil || fmtList(addrs(route)) != "[bob@hill.com]" {
		t.Errorf("configured postmaster: %v %v", route, err)
	}
}

func TestMaySend(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	r := NewRouter(st, func(d string) bool { return d == "hill.com" }, "")
	jill, _ := st.AddAccount(ctx, "jill@hill.com", "h", false)
	st.AddAccount(ctx, "bob@hill.com", "h", false)
	st.AddAlias(ctx, "sales@hill.com", []string{"jill@hill.com"})
	for from, want := range map[string]bool{
		"jill@hill.com":      true,
		"Jill@Hill.com":      true,
		"jill+list@hill.com": true,
		"sales@hill.com":     true,
		"bob@hill.com":       false,
		"jill@elsewhere.net": false,
		"":                   false,
	} {
		if got, err := r.MaySend(ctx, jill, from); got != want || err != nil {
			t.Errorf("MaySend(%q) = %v, %v", from, got, err)
		}
	}
}

func fmtList(xs []string) string {
	s := "["
	for i, x := range xs {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}
