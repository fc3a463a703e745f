package config

import (
	"strings"
	"testing"
)

func TestProxyValidateNamesTheKey(t *testing.T) {
	for _, c := range []struct {
		mutate func(*Proxy)
		key    string
	}{
		{func(p *Proxy) { p.Listen = "nope" }, "proxy.listen"},
		{func(p *Proxy) { p.CacheBytes = 0 }, "proxy.cache_bytes"},
		{func(p *Proxy) { p.Origin = "ftp://x" }, "proxy.origin"},
		{func(p *Proxy) { p.Sites = map[string]string{"www.example.com": "not a url"} }, "proxy.sites.www.example.com"},
		{func(p *Proxy) { p.ConnectPorts = []int{0} }, "proxy.connect_ports"},
		{func(p *Proxy) { p.Forward, p.ForwardAllow = true, []string{"10.0.0.0/33"} }, "proxy.forward_allow"},
		{func(p *Proxy) { p.Forward, p.ForwardAllow = true, []string{"intranet.test"} }, "proxy.forward_allow"},
		{func(p *Proxy) { p.Forward, p.TrustedProxies = true, []string{"proxy.test"} }, "proxy.trusted_proxies"},
		// Forwarding is off by default: a listener with nothing else to
		// serve is refused.
		{func(p *Proxy) {}, "proxy: no origin"},
	} {
		cfg := Default()
		cfg.Proxy.Listen = "127.0.0.1:3128"
		c.mutate(&cfg.Proxy)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.key) {
			t.Errorf("want an error naming %s, got %v", c.key, err)
		}
	}
	cfg := Default()
	if err := cfg.parse("[proxy]\nlisten = \"127.0.0.1:3128\"\nadmin_token = \"t\"\n[proxy.sites]\n\"www.example.com\" = \"http://127.0.0.1:8000\"\n"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || cfg.Proxy.Sites["www.example.com"] == "" || cfg.Proxy.CacheBytes != DefaultProxyCacheBytes {
		t.Errorf("parsed %+v, %v", cfg.Proxy, err)
	}
}

// TestProxyForwardOptIn: forwarding is off unless configured, and the
// exceptions and trusted proxies parse.
func TestProxyForwardOptIn(t *testing.T) {
	if Default().Proxy.Forward {
		t.Error("[proxy] forward is on by default")
	}
	cfg := Default()
	if err := cfg.parse("[proxy]\nlisten = \"127.0.0.1:3128\"\nforward = true\nforward_allow = [\"127.0.0.1/32\", \"10.0.0.5:8080\", \"[fd00::1]:80\", \"intranet.test:8000\"]\ntrusted_proxies = [\"192.0.2.1\", \"10.0.0.0/8\"]\n"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || !cfg.Proxy.Forward || len(cfg.Proxy.ForwardAllow) != 4 || len(cfg.Proxy.TrustedProxies) != 2 {
		t.Errorf("parsed %+v, %v", cfg.Proxy, err)
	}
}
