package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pail/internal/httpcache"
)

// loginOrigin stands for a loopback-only service (the webmail's login
// page, in the report that found the open proxy).
func loginOrigin(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "webmail login")
	}))
	t.Cleanup(o.Close)
	return o, &hits
}

// viaProxy sends method u through the proxy at proxyURL as a forward
// proxy request (absolute-form), as curl -x does.
func viaProxy(t *testing.T, proxyURL, method, u string) (*http.Response, string) {
	t.Helper()
	pu, _ := url.Parse(proxyURL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 5 * time.Second}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("MAIL FROM:<a@b>\r\n")
	}
	req, _ := http.NewRequest(method, u, body)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s through the proxy: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestForwardOffUnlessConfigured: a proxy that is not told to forward
// refuses absolute-form requests for other hosts, so `curl -x PROXY
// http://127.0.0.1:8080/login` does not reach a loopback-only service.
func TestForwardOffUnlessConfigured(t *testing.T) {
	o, hits := loginOrigin(t)
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) { c.Forward = false })
	resp, body := viaProxy(t, u, "GET", o.URL+"/login")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "forward proxying is disabled") || hits.Load() != 0 {
		t.Errorf("forwarding off: %d %q, origin saw %d", resp.StatusCode, body, hits.Load())
	}
}

// TestForwardRefusesLoopback: with forwarding on, the loopback service
// is refused (403 with the reason) until forward_allow names it, and the
// check holds for a name that resolves to loopback, for other methods
// (pass) and for CONNECT, checked on the address dialled.
func TestForwardRefusesLoopback(t *testing.T) {
	o, hits := loginOrigin(t)
	ou, _ := url.Parse(o.URL)
	_, port, _ := net.SplitHostPort(ou.Host)
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) {
		c.Origin = nil
		c.ConnectPorts = []int{mustAtoi(t, port)}
	})
	for _, tc := range []struct{ method, url, reason string }{
		{"GET", o.URL + "/login", "127.0.0.1 is a loopback address"},
		{"GET", "http://localhost:" + port + "/login", "is a loopback address"}, // refused when dialled
		{"POST", "http://localhost:" + port + "/login", "is a loopback address"},
		{"POST", o.URL + "/login", "127.0.0.1 is a loopback address"},
	} {
		resp, body := viaProxy(t, u, tc.method, tc.url)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.reason) {
			t.Errorf("%s %s: %d %q, want 403 %q", tc.method, tc.url, resp.StatusCode, body, tc.reason)
		}
	}
	for _, target := range []string{ou.Host, "localhost:" + port} {
		if code, body := connect(t, u, target); code != http.StatusForbidden || !strings.Contains(body, "loopback") {
			t.Errorf("CONNECT %s: %d %q, want 403", target, code, body)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback origin saw %d requests", hits.Load())
	}

	// Allowed by the list: the same requests reach it.
	u2, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) { c.Origin = nil; c.ForwardAllow = []string{"127.0.0.1/32", "::1"} })
	for _, target := range []string{o.URL + "/login", "http://localhost:" + port + "/login"} {
		if resp, body := viaProxy(t, u2, "GET", target); resp.StatusCode != 200 || body != "webmail login" {
			t.Errorf("allowed %s: %d %q", target, resp.StatusCode, body)
		}
	}
}

// connect sends CONNECT target to the proxy and returns the status and
// body of its answer.
func connect(t *testing.T, proxyURL, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode == 200 {
		return 200, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestForwardDestinationRules: the ranges that are not globally
// reachable and the ports that are not HTTP's are refused before any
// connection is tried (every target here would be refused at the dial
// too; none is ever contacted).
func TestForwardDestinationRules(t *testing.T) {
	var lookups, dials atomic.Int32
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) {
		c.Origin = nil
		// Nothing may be dialled; should a rule fail, nothing leaves
		// the machine either.
		c.DialChecked = func(ctx context.Context, addr string) (net.Conn, error) {
			dials.Add(1)
			return nil, fmt.Errorf("test: no dialling %s", addr)
		}
		c.LookupIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
			lookups.Add(1)
			switch host {
			case "metadata.test":
				return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
			case "rebind.test":
				return []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::1")}, nil
			}
			return nil, fmt.Errorf("no such host %s", host)
		}
	})
	for _, tc := range []struct{ target, reason string }{
		{"http://10.0.0.1/", "private"},
		{"http://172.16.5.4:8080/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://100.64.0.1/", "CGNAT"},
		{"http://0.0.0.0:8080/", "this network"},
		{"http://224.0.0.1/", "multicast"},
		{"http://255.255.255.255/", "broadcast"},
		{"http://192.0.2.1/", "documentation"},
		{"http://[::1]/", "loopback"},
		{"http://[::]/", "unspecified"},
		{"http://[fd00::1]/", "unique-local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[64:ff9b::7f00:1]/", "embeds 127.0.0.1"},
		{"http://[2002:7f00:1::]/", "embeds 127.0.0.1"},
		{"http://[ff02::1]/", "multicast"},
		{"http://8.8.8.8:25/", "port 25 is not an HTTP port"},
		{"http://8.8.8.8:443/", "port 443 is not an HTTP port"},
		{"http://8.8.8.8:6667/", "port 6667 is not an HTTP port"},
		{"http://metadata.test/", "169.254.169.254 is a link-local address"},
		{"http://rebind.test:8080/", "10.1.2.3 is a private address"},
	} {
		resp, body := viaProxy(t, u, "GET", tc.target)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.reason) {
			t.Errorf("%s: %d %q, want 403 %q", tc.target, resp.StatusCode, body, tc.reason)
		}
	}
	if n := lookups.Load(); n != 2 {
		t.Errorf("%d lookups, want 2 (literal addresses are never resolved)", n)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials, want none", n)
	}
}

// TestForwardNeverToItself: even with loopback allowed, a forward
// request naming the proxy's own address is refused at once, and the
// same URL is served right after: the loop that froze a URL for 60 s
// (an inner request waiting on the outer one's fetch) cannot form.
func TestForwardNeverToItself(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "from the origin")
	}))
	t.Cleanup(origin.Close)
	ou, _ := url.Parse(origin.URL)
	srv, err := New(Config{Origin: ou, Forward: true, ForwardAllow: []string{"127.0.0.0/8"}, Store: httpcache.NewMemoryStore(1<<20, 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	self := "http://" + ln.Addr().String()

	start := time.Now()
	resp, body := viaProxy(t, self, "GET", self+"/x")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "this proxy's own address") || time.Since(start) > 2*time.Second {
		t.Errorf("forward to itself: %d %q after %v", resp.StatusCode, body, time.Since(start))
	}
	if code, body := connect(t, self, ln.Addr().String()); code != http.StatusForbidden {
		t.Errorf("CONNECT to itself: %d %q", code, body)
	}
	start = time.Now()
	if resp, body := get(t, self+"/x"); resp.StatusCode != 200 || string(body) != "from the origin" || time.Since(start) > 2*time.Second {
		t.Errorf("the URL right after: %d %q after %v", resp.StatusCode, body, time.Since(start))
	}
}

// TestForwardAllowParsing: forward_allow entries are CIDRs, addresses,
// address:port and host:port; anything else stops New.
func TestForwardAllowParsing(t *testing.T) {
	p, err := parseDestPolicy([]string{"10.0.0.0/8", "fd00::5", "127.0.0.1:8080", "[::1]:8081", "intranet.test:8000"})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		host string
		ip   netip.Addr
		port uint16
		ok   bool
	}{
		{"10.9.9.9", ip("10.9.9.9"), 8080, true},
		{"fd00::5", ip("fd00::5"), 80, true},
		{"fd00::6", ip("fd00::6"), 80, false},
		{"127.0.0.1", ip("127.0.0.1"), 8080, true},
		{"127.0.0.1", ip("127.0.0.1"), 8081, false},
		{"::1", ip("::1"), 8081, true},
		{"intranet.test", ip("192.168.7.7"), 8000, true},
		{"intranet.test", ip("192.168.7.7"), 8001, false},
		{"other.test", ip("192.168.7.7"), 8000, false},
	} {
		if got := p.checkAddr(tc.host, tc.ip, tc.port) == nil; got != tc.ok {
			t.Errorf("%s %s:%d allowed %v, want %v", tc.host, tc.ip, tc.port, got, tc.ok)
		}
	}
	// An entry with a port lifts the port rule for that destination.
	if p.checkPort("127.0.0.1", 8080) != nil || p.checkPort("intranet.test", 8000) != nil || p.checkPort("10.0.0.1", 25) == nil {
		t.Error("port rule exceptions wrong")
	}
	for _, bad := range []string{"", "example.test", "10.0.0.0/33", "host:0", "host:http", "[::1]"} {
		if _, err := New(Config{Store: httpcache.NewMemoryStore(1<<20, 1<<20), ForwardAllow: []string{bad}}); err == nil {
			t.Errorf("forward allow %q accepted", bad)
		}
	}
}

// TestForwardDialsTheCheckedAddress: a name is resolved once and only an
// address that passed the check is dialled (no second lookup that could
// answer differently: DNS rebinding).
func TestForwardDialsTheCheckedAddress(t *testing.T) {
	o, hits := loginOrigin(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(o.URL, "http://"))
	var mu sync.Mutex
	var dialled []string
	var lookups atomic.Int32
	u, _ := startProxy(t, http.NotFoundHandler(), func(c *Config) {
		c.Origin = nil
		c.ForwardAllow = []string{"127.0.0.1"}
		c.LookupIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
			if lookups.Add(1) > 1 {
				return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil // a rebinding answer
			}
			return []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("127.0.0.1")}, nil
		}
		c.DialChecked = func(ctx context.Context, addr string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	})
	resp, body := viaProxy(t, u, "GET", "http://mixed.test:"+port+"/login")
	if resp.StatusCode != 200 || body != "webmail login" || hits.Load() != 1 {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialled) != 1 || dialled[0] != "127.0.0.1:"+port || lookups.Load() != 1 {
		t.Errorf("dialled %q after %d lookups, want only 127.0.0.1:%s after one", dialled, lookups.Load(), port)
	}
}
