package main

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/pop3d"
	"pail/internal/store"
)

// loginDelay is how long the test's logins take on purpose: far longer
// than downloading the test maildrop, so a timed window that includes the
// login shows it.
const loginDelay = 300 * time.Millisecond

// slowAuth is pail's real authenticator behind a fixed delay, standing in
// for a server that computes the password hash at every login.
type slowAuth struct{ *auth.Authenticator }

func (a slowAuth) Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error) {
	time.Sleep(loginDelay)
	return a.Authenticator.Authenticate(ctx, remote, username, password)
}

// startPOP3 runs pail's POP3 server on 127.0.0.1:0 over a real store with
// one account holding msgs, and returns its address.
func startPOP3(t *testing.T, msgs []string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, "u1@hill.test", hash, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		sp, err := st.NewBody()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sp.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if ds, err := st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: acct.ID}}); err != nil {
			t.Fatalf("deliver: %v %v", err, ds)
		}
	}
	authn := auth.New(st)
	srv := pop3d.New(pop3d.Config{
		Hostname:            "mx.hill.test",
		MaxConnections:      10,
		MaxConnectionsPerIP: 10,
		WriteTimeout:        10 * time.Second,
	}, pop3d.Deps{Store: st, Auth: slowAuth{authn}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestPOP3TimesDownloadsNotLogin checks that a POP3 run repeats full
// downloads of the maildrop until its duration has passed and that its
// timed window leaves the login out (bench/pop3.sh compares a server that
// answers logins from a cache with one that hashes every password).
func TestPOP3TimesDownloadsNotLogin(t *testing.T) {
	msgs := []string{
		"Subject: one\r\n\r\nHello.\r\n",
		"Subject: dots\r\n\r\n.\r\n..\r\nend\r\n",
	}
	// What RETR returns after dot-unstuffing: the stored bytes.
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	addr := startPOP3(t, msgs)
	window := 50 * time.Millisecond
	r, err := pop3Download(config{addr: addr, user: "u1@hill.test", pass: "pw", users: 1, duration: window, passes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.count != len(msgs) {
		t.Errorf("count = %d, want %d", r.count, len(msgs))
	}
	if r.passes < 2 {
		t.Errorf("passes = %d, want several full downloads in %s", r.passes, window)
	}
	if r.bytes != r.passes*size {
		t.Errorf("bytes = %d, want %d passes × %d", r.bytes, r.passes, size)
	}
	if r.login < loginDelay {
		t.Errorf("login = %s, want at least the login delay %s", r.login, loginDelay)
	}
	if r.seconds < window.Seconds() || r.seconds >= loginDelay.Seconds() {
		t.Errorf("timed window = %.3fs, want at least %s and less than the untimed login (%s)", r.seconds, window, loginDelay)
	}

	// Without a duration: exactly -passes downloads.
	r, err = pop3Download(config{addr: addr, user: "u1@hill.test", pass: "pw", users: 1, passes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.passes != 3 || r.bytes != 3*size {
		t.Errorf("-passes 3: passes = %d, bytes = %d, want 3 and %d", r.passes, r.bytes, 3*size)
	}
}
