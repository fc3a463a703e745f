package doctor

import (
	"context"
	"strings"
	"testing"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
)

// TestDKIM: each key in use is compared with the record published at
// its selector, p= compared with whitespace removed and the record's
// strings joined: the key pail uses is OK, another key, a revoked one or
// none FAILs for an active key, and a retiring key's missing record only
// WARNs.
func TestDKIM(t *testing.T) {
	cfg := testConfig(t)
	st, err := dkim.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := st.Ensure(testDomain)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.Rotate(testDomain)
	if err != nil {
		t.Fatal(err)
	}
	other, err := dkim.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := other.Ensure(testDomain)
	if err != nil {
		t.Fatal(err)
	}
	var active []dkim.Key
	for _, k := range keys {
		if k.State == dkim.Active {
			active = append(active, k)
		}
	}
	if len(active) != 2 || len(old) != 2 {
		t.Fatalf("keys %v", keys)
	}
	// The RSA key as pail dns-records prints it (strings of 255 bytes),
	// with spaces inside p=, as DNS hosting panels often store it.
	rsa := dnsrecords.DKIM(active[0]).String()
	rsa = strings.Replace(rsa, "p=", "p= ", 1)
	// The Ed25519 selector publishes the other store's Ed25519 key.
	wrong := `"` + otherKeys[1].TXT() + `"`
	records := []string{
		rsa,
		strings.TrimSuffix(active[1].Name(), ".") + ". 300 IN TXT " + wrong,
		// One retiring key still published, the other not.
		dnsrecords.DKIM(old[0]).String(),
	}
	d, ns := newTestDoctor(t, cfg, records...)
	d.o.Keys = func(domain string) ([]dkim.Key, error) { return st.Keys(domain) }
	rs := d.checkDKIM(context.Background(), testDomain)
	got := map[string]Result{}
	for _, r := range rs {
		got[r.Check] = r
	}
	if len(got) != 4 {
		t.Fatalf("results %+v", rs)
	}
	check := func(k dkim.Key) Result { return got["dkim "+strings.TrimSuffix(k.Name(), ".")] }
	want(t, check(active[0]), OK, "published key is the active rsa key in use")
	want(t, check(active[1]), Fail, "is not the active ed25519 key in use", "pail dns-records hill.test")
	want(t, check(old[0]), OK, "retiring rsa")
	want(t, check(old[1]), Warn, "no TXT record at "+old[1].Selector)
	if !ns.Asked(strings.ToLower(active[0].Name()) + " TXT") {
		t.Errorf("selector not asked of the configured resolver: %v", ns.Queries())
	}

	// A revoked key (empty p=) for a key pail signs with.
	d, _ = newTestDoctor(t, cfg, strings.TrimSuffix(active[0].Name(), ".")+`. 300 IN TXT "v=DKIM1; k=rsa; p="`)
	want(t, d.checkKey(context.Background(), testDomain, active[0]), Fail, "revoked")

	// Signing off: nothing to publish; no keys yet: a warning.
	off := false
	cfg.DKIM.Domains = map[string]config.DKIMDomain{testDomain: {Enabled: &off}}
	want(t, d.checkDKIM(context.Background(), testDomain)[0], OK, "signing is off")
	cfg.DKIM.Domains = nil
	d.o.Keys = nil
	want(t, d.checkDKIM(context.Background(), testDomain)[0], Warn, "no DKIM keys yet")
}
