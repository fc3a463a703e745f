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
