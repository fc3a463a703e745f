package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pail/internal/httpcache"
)

// reflectForwarding is an origin that builds its page from the
// forwarding fields, as one that makes absolute links does, and lets the
// page be cached.
var reflectForwarding = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=600")
	fmt.Fprintf(w, "host=%s proto=%s for=%s forwarded=%s original=%s",
		r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"),
		r.Header.Get("Forwarded"), r.Header.Get("X-Original-Url"))
})

// attackerFields are what an attacker sends to poison the cache.
var attackerFields = []string{
	"X-Forwarded-Host", "evil.test", "X-Forwarded-Proto", "gopher", "X-Forwarded-For", "6.6.6.6",
	"Forwarded", "for=6.6.6.6;host=evil.test", "X-Original-Url", "/evil",
}

// TestForwardingFieldsDoNotPoison: a client's X-Forwarded-Host (and the
// rest of the family) is not part of the cache key; it used to reach the
// origin, whose reflecting answer, stored, went to every other client.
// Now the origin only ever sees what the proxy sets itself.
func TestForwardingFieldsDoNotPoison(t *testing.T) {
	u, _ := startProxy(t, reflectForwarding)
	_, attacked := get(t, u+"/page", attackerFields...)
	_, victim := get(t, u+"/page")
	for _, b := range []string{string(attacked), string(victim)} {
		if strings.Contains(b, "evil") || strings.Contains(b, "6.6.6.6") || strings.Contains(b, "gopher") {
			t.Errorf("a client's forwarding fields reached the origin: %q", b)
		}
	}
	host := strings.TrimPrefix(u, "http://")
	if want := "host=" + host + " proto=http for=127.0.0.1 forwarded= original="; string(victim) != want {
		t.Errorf("the origin saw %q, want %q", victim, want)
	}
}

// TestForwardingFieldsFromTrustedProxy: a configured trusted proxy's
// fields pass, with the peer appended to X-Forwarded-For.
func TestForwardingFieldsFromTrustedProxy(t *testing.T) {
	u, _ := startProxy(t, reflectForwarding, func(c *Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	_, b := get(t, u+"/page", attackerFields...)
	if want := "host=evil.test proto=gopher for=6.6.6.6, 127.0.0.1 forwarded=for=6.6.6.6;host=evil.test original=/evil"; string(b) != want {
		t.Errorf("the origin saw %q, want %q", b, want)
	}
	if _, err := New(Config{Store: httpcache.NewMemoryStore(1<<20, 1<<20), TrustedProxies: []string{"not-an-address"}}); err == nil {
		t.Error("a bad trusted proxy entry was accepted")
	}
}
