package resolve_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

var zone = []string{
	"hill.test. 300 IN MX 10 mx.hill.test.",
	"hill.test. 300 IN TXT \"v=spf1 \" \"mx -all\"",
	"hill.test. 300 IN TXT \"second\"",
	"mx.hill.test. 300 IN A 127.0.0.1",
	"mx.hill.test. 300 IN AAAA ::1",
	"_25._tcp.mx.hill.test. 300 IN TLSA 3 1 1 0011223344556677889900112233445566778899001122334455667788990011",
	"1.0.0.127.in-addr.arpa. 300 IN PTR mx.hill.test.",
	"null.test. 300 IN MX 0 .",
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestLookups(t *testing.T) {
	d := resolvetest.Start(t, zone)
	r := resolve.New(d.Addr, 0)
	mx, err := r.LookupMX(ctx(t), "hill.test")
	if err != nil || len(mx) != 1 || mx[0] != (resolve.MX{Pref: 10, Host: "mx.hill.test"}) {
		t.Errorf("MX %v %v", mx, err)
	}
	if mx, err := r.LookupMX(ctx(t), "null.test"); err != nil || len(mx) != 1 || mx[0].Host != "" {
		t.Errorf("null MX %v %v", mx, err)
	}
	if nmx, err := r.LookupNetMX(ctx(t), "null.test"); err != nil || len(nmx) != 0 {
		t.Errorf("net MX of a null MX %v %v", nmx, err)
	}
	ips, err := r.LookupIP(ctx(t), "mx.hill.test")
	if want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}; err != nil || !slices.Equal(ips, want) {
		t.Errorf("IP %v %v", ips, err)
	}
	txt, err := r.LookupTXT(ctx(t), "hill.test")
	if err != nil || !slices.Equal(txt, []string{"v=spf1 mx -all", "second"}) {
		t.Errorf("TXT %q %v (a record's strings are joined, records kept apart)", txt, err)
	}
	names, err := r.LookupAddr(ctx(t), "127.0.0.1")
	if err != nil || !slices.Equal(names, []string{"mx.hill.test."}) {
		t.Errorf("PTR %v %v", names, err)
	}
	tl, err := r.LookupTLSA(ctx(t), "_25._tcp.mx.hill.test")
	if err != nil || len(tl.Records) != 1 || tl.Records[0].Usage != 3 || tl.Authenticated {
		t.Errorf("TLSA %+v %v", tl, err)
	}
	d.Authenticated.Store(true)
	if tl, err := r.LookupTLSA(ctx(t), "_25._tcp.mx.hill.test"); err != nil || !tl.Authenticated {
		t.Errorf("the AD bit of a validated answer was lost: %+v %v", tl, err)
	}
	if !d.Asked("_25._tcp.mx.hill.test. TLSA") {
		t.Errorf("queries %v", d.Queries())
	}
}

func TestNotFound(t *testing.T) {
	d := resolvetest.Start(t, zone, "broken.test")
	r := resolve.New(d.Addr, 0)
	_, err := r.LookupMX(ctx(t), "nowhere.test")
	var de *net.DNSError
	if !errors.Is(err, resolve.ErrNXDomain) || !errors.As(err, &de) || !de.IsNotFound || !resolve.IsNotFound(err) {
		t.Errorf("NXDOMAIN: %v", err)
	}
	_, err = r.LookupTXT(ctx(t), "mx.hill.test")
	if !errors.Is(err, resolve.ErrNoData) || !resolve.IsNotFound(err) {
		t.Errorf("no data: %v", err)
	}
	_, err = r.LookupIP(ctx(t), "hill.test")
	if !errors.Is(err, resolve.ErrNoData) {
		t.Errorf("a name with no address: %v", err)
	}
	_, err = r.LookupIP(ctx(t), "nowhere.test")
	if !errors.Is(err, resolve.ErrNXDomain) {
		t.Errorf("no such name: %v", err)
	}
	_, err = r.LookupMX(ctx(t), "broken.test")
	if err == nil || resolve.IsNotFound(err) || !errors.As(err, &de) || !de.IsTemporary {
		t.Errorf("SERVFAIL must be a temporary failure, not an answer: %v", err)
	}
}

func TestTruncatedGoesTCP(t *testing.T) {
	d := resolvetest.Start(t, zone)
	d.TruncateUDP.Store(true)
	mx, err := resolve.New(d.Addr, 0).LookupMX(ctx(t), "hill.test")
	if err != nil || len(mx) != 1 {
		t.Errorf("MX over TCP after truncation: %v %v", mx, err)
	}
}

// A resolver that does not answer costs the query timeout times the
// attempts, and a budget cuts a run of lookups short.
func TestDeadResolver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := resolve.New(pc.LocalAddr().String(), 200*time.Millisecond)
	start := time.Now()
	_, err = r.LookupTXT(ctx(t), "hill.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTemporary || !de.IsTimeout {
		t.Errorf("silence: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("one lookup took %v", el)
	}
	bctx, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	for range 10 {
		r.LookupTXT(bctx, "hill.test")
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("ten lookups under a 300 ms budget took %v", el)
	}
}

func TestLiteralsAndLocalhost(t *testing.T) {
	r := resolve.New("127.0.0.1:1", 100*time.Millisecond)
	if ips, err := r.LookupIP(ctx(t), "192.0.2.1"); err != nil || len(ips) != 1 {
		t.Errorf("literal %v %v", ips, err)
	}
	if ips, err := r.LookupIP(ctx(t), "localhost"); err != nil || ips[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("localhost %v %v", ips, err)
	}
}

func TestDialContext(t *testing.T) {
	d := resolvetest.Start(t, zone)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := resolve.New(d.Addr, 0).DialContext(ctx(t), "tcp", net.JoinHostPort("mx.hill.test", port))
	if err != nil {
		t.Fatalf("dial through the resolver: %v", err)
	}
	c.Close()
	if !d.Asked("mx.hill.test. A") {
		t.Errorf("the name was not resolved through the configured server: %v", d.Queries())
	}
}
