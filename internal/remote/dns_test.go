package remote

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// mxConfig sends mail for every domain through DNS at d, to port port.
func mxConfig(t *testing.T, d *dnsServer, port string) Config {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Hostname: "mx.town.test", Port: p, Resolver: d.addr, Timeouts: fastTimeouts()}
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
	if !d.asked("mx1.hill.test. A") {
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
	if !d.asked("hill.test. MX") || !d.asked("hill.test. A") {
		t.Errorf("queries %v", d.queries)
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
	if p.sessions() != 0 || d.asked("hill.test. A") {
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
	d.truncateUDP.Store(true)
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
