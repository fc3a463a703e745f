package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pail/internal/httpcache"
)

// TestLoopThroughItselfAnswersAtOnce: a proxy whose origin is itself
// used to fetch from itself, the inner request waiting on the outer
// one's in-flight fetch (same cache key) until the origin timeout, the
// URL frozen for everyone for 60 s. The inner request now carries our
// Via and is answered 508 before it can wait, so the client has its
// answer at once.
func TestLoopThroughItselfAnswersAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := url.Parse("http://" + ln.Addr().String())
	srv, err := New(Config{Origin: self, Store: httpcache.NewMemoryStore(1<<20, 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	for i := range 2 { // twice: nothing stays frozen
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", self.String()+"/x", nil)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("request %d through a proxy that is its own origin: %v after %v", i, err, time.Since(start))
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusLoopDetected || !strings.Contains(string(body), "already passed through") {
			t.Errorf("request %d: %d %q, want 508", i, resp.StatusCode, body)
		}
	}
	if n := srv.Metrics().Loops.Load(); n != 2 {
		t.Errorf("%d loops counted, want 2", n)
	}
}

// TestViaLoopRule: a request with our Via member (our pseudonym, and our
// comment or none) is a loop, on the fast path too (a hit is not
// served); another proxy's member, even one using the same pseudonym
// with its own comment, is not, and such chained requests keep the fast
// path. The origin sees our member with our comment.
func TestViaLoopRule(t *testing.T) {
	p := newPair(t)
	p.prime(t, "/v", []string{"Cache-Control", "max-age=100"}, "cached")
	if got := p.fast.origin.last().Header.Get("Via"); got != "1.1 pail ("+p.fast.viaID+")" {
		t.Errorf("the origin got Via %q", got)
	}
	ours := "1.1 pail (" + p.fast.viaID + ")"
	for _, tc := range []struct {
		via  string
		loop bool
	}{
		{ours, true},
		{"1.1 edge, " + ours, true},
		{"1.0 edge, 1.1 PAIL", true}, // comment removed on the way
		{"HTTP/1.1 pail (" + p.fast.viaID + ")", true},
		{"1.1 pail (pail-0123456789abcdef)", false}, // another pail in the chain
		{"1.1 edge", false},
		{"1.1 pailfish", false},
	} {
		// A new connection each: the fast path reads it first.
		before := p.fast.fastHits.Load()
		answers, _ := exchange(t, p.fast, false, rawStep{"GET /v HTTP/1.1\r\nHost: example.test\r\nVia: " + tc.via + "\r\n\r\n", "GET"})
		fast := p.fast.fastHits.Load() - before
		if tc.loop {
			if !strings.HasPrefix(answers[0], "HTTP/1.1 508 ") || fast != 0 {
				t.Errorf("Via %q: %q (fast answers %d), want 508", tc.via, answers[0], fast)
			}
			continue
		}
		if !strings.HasPrefix(answers[0], "HTTP/1.1 200 ") || !strings.HasSuffix(answers[0], "cached") || fast != 1 {
			t.Errorf("Via %q: %q (fast answers %d), want a fast hit", tc.via, answers[0], fast)
		}
	}
	// The same through net/http alone.
	if resp, _ := p.slow.do(t, "GET", "/v", []string{"Host", "example.test", "Via", "1.1 pail (" + p.slow.viaID + ")"}); resp.StatusCode != http.StatusLoopDetected {
		t.Errorf("net/http path: %d, want 508", resp.StatusCode)
	}
}

// TestLoopAcrossTwoProxies: A's origin is B and B's origin is A; the
// request goes round once and comes back to A with A's Via: 508 at once.
func TestLoopAcrossTwoProxies(t *testing.T) {
	la, _ := net.Listen("tcp", "127.0.0.1:0")
	lb, _ := net.Listen("tcp", "127.0.0.1:0")
	ua, _ := url.Parse("http://" + la.Addr().String())
	ub, _ := url.Parse("http://" + lb.Addr().String())
	// The same pseudonym on both: the comments tell them apart, so B
	// does not mistake A's request for its own.
	a, _ := New(Config{Origin: ub, Store: httpcache.NewMemoryStore(1<<20, 1<<20)})
	b, _ := New(Config{Origin: ua, Store: httpcache.NewMemoryStore(1<<20, 1<<20)})
	go a.Serve(la)
	go b.Serve(lb)
	t.Cleanup(func() { a.Close(); b.Close() })
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(ua.String() + "/y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusLoopDetected || a.Metrics().Loops.Load() != 1 || b.Metrics().Loops.Load() != 0 {
		t.Errorf("%d, loops at A %d, at B %d; want 508 found by A", resp.StatusCode, a.Metrics().Loops.Load(), b.Metrics().Loops.Load())
	}
}
