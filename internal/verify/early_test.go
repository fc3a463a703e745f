package verify

import (
	"context"
	"net"
	"testing"
	"time"

	"pail/internal/resolve"
)

// TestEarly: the envelope checks started at RCPT are what Check reports,
// without asking again; for another envelope they are not used.
func TestEarly(t *testing.T) {
	live := newChecker(t, zone("x"))
	e := live.Start(context.Background(), client, "mx.town.test", "jack@pass.test")
	defer e.Stop()

	// A checker whose resolver is gone: whatever it looks up is a
	// temperror, so a pass can only come from e.
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.LocalAddr().String()
	ln.Close()
	dead := &Checker{Hostname: "mx.hill.test", Resolver: resolve.New(deadAddr, 100*time.Millisecond), Budget: time.Second}

	m := msg("jack@pass.test", "mx.town.test", plain("jack@pass.test"))
	m.Early = e
	r := dead.Check(context.Background(), m)
	if r.SPF.Value != "pass" || r.IPRev.Value != "pass" {
		t.Fatalf("with early checks: spf %+v iprev %+v", r.SPF, r.IPRev)
	}
	// Another sender (a second transaction reusing the session's value by
	// mistake) is looked up afresh.
	m = msg("jack@fail.test", "mx.town.test", plain("jack@fail.test"))
	m.Early = e
	if r := dead.Check(context.Background(), m); r.SPF.Value != "temperror" {
		t.Fatalf("other envelope: spf %+v", r.SPF)
	}
	// Stopped before it finished, the checks end within their budget as
	// temperrors, and Stop is safe on nil.
	e2 := dead.Start(context.Background(), client, "mx.town.test", "jack@pass.test")
	e2.Stop()
	m = msg("jack@pass.test", "mx.town.test", plain("jack@pass.test"))
	m.Early = e2
	start := time.Now()
	if r := dead.Check(context.Background(), m); r.SPF.Value != "temperror" || time.Since(start) > 2*time.Second {
		t.Fatalf("stopped early checks: spf %+v after %s", r.SPF, time.Since(start))
	}
	(*Early)(nil).Stop()
	if (*Checker)(nil).Start(context.Background(), client, "", "") != nil {
		t.Fatal("a nil Checker started checks")
	}
}
