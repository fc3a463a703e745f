package remote

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

// mxConfig sends mail for every domain through DNS at d, to port port.
func mxConfig(t *testing.T, d *resolvetest.Server, port string) Config {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Hostname: "mx.town.test", Port: p, Resolver: d.Addr, Timeouts: fastTimeouts()}
}

func peerPort(t *testing.T, p *peer) string {
	t.Helper()
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestMXPreferenceOrder(t *testing.T) {
	p := startPeer(t, peerOptions{})
	// mx1 is preferred but nothing listens on 127.0.0.2 at that port;
	// the backup, mx2, takes the mail.
	d := startDNS(t, []string{
		"hill.test. 300 IN MX 20 mx2.hill.test.",
		"hill.test. 300 IN MX 10 mx1.hill.test.",
		"mx1.hill.test. 300 IN A 127.0.0.2",
		"mx2.hill.test. 300 IN A 127.0.0.1",
	})
	res := deliver(t, New(mxConfig(t, d, peerPort(t, p))), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Delivered)
	if res[0].RemoteMTA != "mx2.hill.test" {
		t.Errorf("delivered by %q, want mx2.hill.test", res[0].RemoteMTA)
	}
	if !d.Asked("mx1.hill.test. A") {
		t.Errorf("the preferred MX host was not tried first")
	}
}

func TestMXEveryHostTried(t *testing.T) {
	d := startDNS(t, []string{
		"hill.test. 300 IN MX 10 mx1.hill.test.",
		"hill.test. 300 IN MX 20 mx2.hill.test.",
		"mx1.hill.test. 300 IN A 127.0.0.2",
		"mx2.hill.test. 300 IN A 127.0.0.3",
	})
	res := deliver(t, New(mxConfig(t, d, "1")), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if !strings.Contains(res[0].Reply.Text, "mx2.hill.test") || res[0].Reply.Enhanced != "4.4.1" {
		t.Errorf("reply %+v, want a connection failure at the last host", res[0].Reply)
	}
}

func TestMXImplicit(t *testing.T) {
	p := startPeer(t, peerOptions{})
	d := startDNS(t, []string{"hill.test. 300 IN A 127.0.0.1"})
	res := deliver(t, New(mxConfig(t, d, peerPort(t, p))), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Delivered)
	if !d.Asked("hill.test. MX") || !d.Asked("hill.test. A") {
		t.Errorf("queries %v", d.Queries())
	}
}

func TestMXNoAddressAtAll(t *testing.T) {
	d := startDNS(t, []string{"hill.test. 300 IN TXT \"no mail here\""})
	res := deliver(t, New(mxConfig(t, d, "25")), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Failed)
	if res[0].Reply.Enhanced != "5.1.2" {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestMXNXDomain(t *testing.T) {
	d := startDNS(t, nil)
	res := deliver(t, New(mxConfig(t, d, "25")), "nowhere.test", newMessage("bob@nowhere.test"))
	wantStatus(t, res, Failed)
	if res[0].Reply.Enhanced != "5.1.2" || !strings.Contains(res[0].Reply.Text, "NXDOMAIN") {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestMXNull(t *testing.T) {
	p := startPeer(t, peerOptions{})
	d := startDNS(t, []string{
		"hill.test. 300 IN MX 0 .",
		"hill.test. 300 IN A 127.0.0.1",
	})
	res := deliver(t, New(mxConfig(t, d, peerPort(t, p))), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Failed)
	if res[0].Reply.Enhanced != "5.1.10" {
		t.Errorf("reply %+v, want 5.1.10 (RFC 7505)", res[0].Reply)
	}
	if p.sessions() != 0 || d.Asked("hill.test. A") {
		t.Errorf("a null MX domain was still contacted")
	}
}

func TestMXServfail(t *testing.T) {
	d := startDNS(t, nil, "hill.test")
	res := deliver(t, New(mxConfig(t, d, "25")), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if res[0].Reply.Enhanced != "4.4.3" {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestMXHostWithoutAddress(t *testing.T) {
	d := startDNS(t, []string{"hill.test. 300 IN MX 10 gone.hill.test."})
	res := deliver(t, New(mxConfig(t, d, "25")), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if res[0].Reply.Enhanced != "4.4.4" {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestMXLoopsToSelf(t *testing.T) {
	d := startDNS(t, []string{
		"hill.test. 300 IN MX 10 mx.town.test.",
		"mx.town.test. 300 IN A 127.0.0.1",
	})
	res := deliver(t, New(mxConfig(t, d, "25")), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Failed)
	if res[0].Reply.Enhanced != "5.4.6" {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestMXTruncatedRetriedOverTCP(t *testing.T) {
	p := startPeer(t, peerOptions{})
	var recs []string
	for i := range 60 {
		recs = append(recs, "hill.test. 300 IN MX 10 mx"+strings.Repeat("x", 40)+string(rune('a'+i%26))+string(rune('a'+i/26))+".hill.test.")
	}
	recs = append(recs, "hill.test. 300 IN MX 5 mx.hill.test.", "mx.hill.test. 300 IN A 127.0.0.1")
	d := startDNS(t, recs)
	d.TruncateUDP.Store(true)
	res := deliver(t, New(mxConfig(t, d, peerPort(t, p))), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Delivered)
}

func TestAddressLiteral(t *testing.T) {
	p := startPeer(t, peerOptions{})
	cfg := Config{Hostname: "mx.town.test", Timeouts: fastTimeouts()}
	cfg.Port, _ = strconv.Atoi(peerPort(t, p))
	wantStatus(t, deliver(t, New(cfg), "[127.0.0.1]", newMessage("bob@[127.0.0.1]")), Delivered)
	wantStatus(t, deliver(t, New(cfg), "[not-an-ip]", newMessage("bob@[not-an-ip]")), Failed)
}

// outbound.source: connections come from that address, EHLO says the name
// given for it, and addresses of the other family are not tried.
func TestSourceAddress(t *testing.T) {
	p := startPeer(t, peerOptions{})
	d := startDNS(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN AAAA ::1",
		"mx.hill.test. 300 IN A 127.0.0.1",
		"six.test. 300 IN AAAA ::1",
	})
	cfg := mxConfig(t, d, peerPort(t, p))
	cfg.Source = netip.MustParseAddr("127.0.0.2")
	cfg.EHLOName = "out.town.test"
	wantStatus(t, deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test")), Delivered)
	got := p.messages()
	if len(got) != 1 {
		t.Fatalf("peer got %d messages", len(got))
	}
	if host, _, _ := net.SplitHostPort(got[0].remote); host != "127.0.0.2" {
		t.Errorf("connection came from %s, want outbound.source 127.0.0.2", got[0].remote)
	}
	if got[0].helo != "out.town.test" {
		t.Errorf("EHLO %q, want the source's name", got[0].helo)
	}
	res := deliver(t, New(cfg), "six.test", newMessage("bob@six.test"))
	wantStatus(t, res, Deferred)
	if !strings.Contains(res[0].Reply.Text, "family") {
		t.Errorf("an IPv6-only host with an IPv4 source: %+v", res[0].Reply)
	}
}

func TestEHLOName(t *testing.T) {
	d := startDNS(t, []string{
		"mx.town.test. 300 IN A 127.0.0.2",
		"out.town.test. 300 IN A 127.0.0.3",
		"3.0.0.127.in-addr.arpa. 300 IN PTR out.town.test.",
		"4.0.0.127.in-addr.arpa. 300 IN PTR liar.town.test.",
		"liar.town.test. 300 IN A 127.0.0.9",
	})
	r := resolve.New(d.Addr, 0)
	ctx := context.Background()
	for _, c := range []struct {
		src, want string
		ok        bool
	}{
		{"127.0.0.2", "mx.town.test", true},  // the host name's own address
		{"127.0.0.3", "out.town.test", true}, // forward-confirmed PTR
		{"127.0.0.4", "mx.town.test", false}, // PTR that does not resolve back
		{"127.0.0.5", "mx.town.test", false}, // no PTR at all
	} {
		got, err := EHLOName(ctx, r, "mx.town.test", netip.MustParseAddr(c.src))
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("source %s: %q, %v; want %q (ok %v)", c.src, got, err, c.want, c.ok)
		}
	}
}

// A resolver that never answers defers the message within the budget.
func TestDeadResolverDefers(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := Config{Hostname: "mx.town.test", Resolver: pc.LocalAddr().String(), Timeouts: fastTimeouts()}
	cfg.Timeouts.DNS = 300 * time.Millisecond
	start := time.Now()
	res := deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if res[0].Reply.Enhanced != "4.4.3" {
		t.Errorf("reply %+v", res[0].Reply)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("a dead resolver held the delivery %v", el)
	}
}
