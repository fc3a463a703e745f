package dnsd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTruncation: an answer too big for the UDP size (512 without EDNS,
// the OPT size with it) comes back with TC, and the client gets it whole
// over TCP.
func TestTruncation(t *testing.T) {
	_, addr := startServer(t, testConfig())
	for _, tc := range []struct {
		name string
		opts []func(*dns.Msg)
		tc   bool
	}{
		{"no EDNS", nil, true},
		{"EDNS 512", []func(*dns.Msg){withEDNS(512)}, true},
		{"EDNS 1232", []func(*dns.Msg){withEDNS(1232)}, false},
		{"EDNS 4096 (capped to 1232)", []func(*dns.Msg){withEDNS(4096)}, false},
	} {
		r := query(t, addr, "udp", "big.example.test", dns.TypeTXT, tc.opts...)
		if r.Truncated != tc.tc {
			t.Errorf("%s: TC %v, want %v", tc.name, r.Truncated, tc.tc)
		}
		if r.Len() > 1232 {
			t.Errorf("%s: UDP answer of %d octets", tc.name, r.Len())
		}
		if !tc.tc && len(r.Answer) != 7 {
			t.Errorf("%s: %d answers, want 7", tc.name, len(r.Answer))
		}
		if tc.tc {
			// The client's fallback: the same question over TCP.
			r := query(t, addr, "tcp", "big.example.test", dns.TypeTXT, tc.opts...)
			if r.Truncated || len(r.Answer) != 7 {
				t.Errorf("%s over TCP: TC %v, %d answers", tc.name, r.Truncated, len(r.Answer))
			}
		}
	}
}

// TestRRL: past the rate, UDP answers to one prefix are dropped or slip
// out truncated; TCP answers are never limited.
func TestRRL(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit.ResponsesPerSecond = 5
	cfg.RateLimit.Slip = 2
	// A clock under the test's control, so that no tokens come back
	// during the test.
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	_, addr := startServer(t, cfg, func(s *Server) {
		s.now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	// The start-up probe used one token; a second restores it.
	clock.Add(int64(time.Second))

	var full, slipped, dropped int
	c := &dns.Client{Timeout: 150 * time.Millisecond}
	for range 20 {
		m := new(dns.Msg)
		m.SetQuestion("www.example.test.", dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		switch {
		case err != nil:
			dropped++
		case r.Truncated && len(r.Answer) == 0:
			slipped++
		case len(r.Answer) == 1:
			full++
		default:
			t.Fatalf("unexpected answer %v", r)
		}
	}
	if full != 5 || slipped != 7 || dropped != 8 {
		t.Errorf("20 queries at 5/s with slip 2: %d answered, %d slipped, %d dropped; want 5, 7, 8", full, slipped, dropped)
	}
	for range 10 {
		if r := query(t, addr, "tcp", "www.example.test", dns.TypeA); len(r.Answer) != 1 {
			t.Fatalf("TCP answer limited: %v", r)
		}
	}
	// Time passes: tokens come back.
	clock.Add(int64(time.Second))
	if r := query(t, addr, "udp", "www.example.test", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("after a second: %v", r)
	}
}

// TestRRLBounded: a flood from many prefixes does not grow the table
// without bound.
func TestRRLBounded(t *testing.T) {
	l := newLimiter(1, 0, 24, 56)
	now := time.Now()
	for i := range 3 * maxBuckets {
		l.check(netipFrom(i), now)
	}
	total := 0
	for i := range l.shards {
		total += len(l.shards[i].buckets)
	}
	if total > maxBuckets {
		t.Errorf("%d buckets, bound %d", total, maxBuckets)
	}
}

// TestReloadUnderLoad: reloading again and again while clients query
// loses no query, and each answer is from the old zone or the new.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "r.test.zone")
	write := func(v int) {
		text := fmt.Sprintf("$ORIGIN r.test.\n$TTL 60\n@ SOA ns1 host %d 3600 900 604800 60\n NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.%d\n", v, v)
		tmp := zone + ".tmp"
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, zone); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	cfg := testConfig()
	cfg.ZoneFiles = []string{zone, "testdata/example.test.zone"}
	s, addr := startServer(t, cfg)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var answered, failed atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 2 * time.Second}
			for !stop.Load() {
				m := new(dns.Msg)
				m.SetQuestion("www.r.test.", dns.TypeA)
				r, _, err := c.Exchange(m, addr)
				if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					failed.Add(1)
					continue
				}
				answered.Add(1)
			}
		}()
	}
	for v := 2; v <= 60; v++ {
		write(v)
		if err := s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || answered.Load() < 100 {
		t.Errorf("%d answered, %d failed during reloads", answered.Load(), failed.Load())
	}
	if r := query(t, addr, "udp", "www.r.test", dns.TypeA); addrs(r)[0] != "192.0.2.60" {
		t.Errorf("after the last reload: %v", addrs(r))
	}
	// A broken file leaves the old data in place.
	if err := os.WriteFile(zone, []byte("this is not a zone"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(cfg); err == nil {
		t.Error("reload of a broken zone succeeded")
	}
	if r := query(t, addr, "udp", "www.r.test", dns.TypeA); addrs(r)[0] != "192.0.2.60" {
		t.Errorf("after a failed reload: %v", addrs(r))
	}
}

// TestServeUDPShared: on a socket from Listen, ServeUDP reads several
// sockets on one address; queries from many source ports are all
// answered, and Shutdown ends ServeUDP without error.
func TestServeUDPShared(t *testing.T) {
	s, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	served := make(chan error, 1)
	go func() { served <- s.ServeUDP(pc) }()
	addr := pc.LocalAddr().String()
	for i := range 32 {
		// A new client socket, so a new source port, each time.
		r := query(t, addr, "udp", "www.example.test", dns.TypeA)
		if got := addrs(r); len(got) != 1 || got[0] != "192.0.2.80" {
			t.Fatalf("query %d: %v", i, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeUDP: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeUDP did not return after Shutdown")
	}
	// The sockets are closed: the port can be bound again.
	pc2, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("port still held after Shutdown: %v", err)
	} else {
		pc2.Close()
	}
}

// TestRejectLikeMiekg: queries the reader refuses before parsing them
// get the answers miekg/dns's Server gives: NOTIMP for an UPDATE,
// FORMERR for two questions, nothing for a response.
func TestRejectLikeMiekg(t *testing.T) {
	s, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The reference: miekg/dns's own Server calling ServeDNS.
	ref, _ := listenBoth(t)
	started := make(chan struct{})
	go s.serve(&dns.Server{PacketConn: ref, Handler: s, NotifyStartedFunc: func() { close(started) }})
	<-started
	addr := ref.LocalAddr().String()
	pc, _, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeUDP(pc)
	fast := pc.LocalAddr().String()
	for _, tc := range []struct {
		name string
		edit func(*dns.Msg)
	}{
		{"update", func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }},
		{"notify", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }},
	} {
		var got [2]string
		for i, a := range []string{addr, fast} {
			m := new(dns.Msg)
			m.SetQuestion("www.example.test.", dns.TypeA)
			m.Id = 7
			tc.edit(m)
			c := &dns.Client{Timeout: 2 * time.Second}
			r, _, err := c.Exchange(m, a)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got[i] = r.String()
		}
		if got[0] != got[1] {
			t.Errorf("%s: miekg/dns answers\n%s\nthe fast path\n%s", tc.name, got[0], got[1])
		}
	}
}

// recordWriter is a dns.Writer that keeps a copy of what it is given.
type recordWriter struct{ got []byte }

func (w *recordWriter) Write(b []byte) (int, error) {
	w.got = append(w.got[:0], b...)
	return len(b), nil
}

// TestNoADWriterKeepsBuffer: the AD bit goes out clear, and the caller's
// buffer is left as it was (io.Writer: Write must not modify it).
func TestNoADWriterKeepsBuffer(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeA)
	m.AuthenticatedData = true
	buf, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(buf)
	rec := &recordWriter{}
	if n, err := (noADWriter{rec}).Write(buf); err != nil || n != len(buf) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if !bytes.Equal(buf, orig) {
		t.Errorf("the caller's buffer was changed: % x, was % x", buf[:4], orig[:4])
	}
	var out dns.Msg
	if err := out.Unpack(rec.got); err != nil {
		t.Fatal(err)
	}
	if out.AuthenticatedData {
		t.Error("AD written set")
	}
}
