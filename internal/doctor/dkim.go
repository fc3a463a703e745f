package doctor

import (
	"context"
	"fmt"
	"strings"

	"pail/internal/dkim"
)

// checkDKIM checks that each of the domain's DKIM keys (the active ones,
// which sign, and the retiring ones, which mail still in flight was
// signed with) is published at SELECTOR._domainkey.DOMAIN with the same
// public key (RFC 6376 §3.6.2.1): a receiver verifies with what DNS
// says, so a stale record fails every signature.
func (d *doctor) checkDKIM(ctx context.Context, domain string) []Result {
	if !d.cfg.DKIM.SignsFor(domain) {
		return []Result{{Check: "dkim " + domain, Status: OK, Detail: "signing is off for " + domain + " ([dkim]); no key to publish"}}
	}
	var keys []dkim.Key
	if d.o.Keys != nil {
		var err error
		if keys, err = d.o.Keys(domain); err != nil {
			return []Result{{Check: "dkim " + domain, Status: Fail, Detail: fmt.Sprintf("reading the keys: %v", err), Fix: "check the files under data_dir/dkim (pail dkim list " + domain + ")"}}
		}
	}
	if len(keys) == 0 {
		return []Result{{Check: "dkim " + domain, Status: Warn, Detail: "no DKIM keys yet; pail serve makes them at start",
			Fix: fmt.Sprintf("run pail dns-records %s (it makes the keys) and publish its DKIM records", domain)}}
	}
	var out []Result
	for _, k := range keys {
		out = append(out, d.checkKey(ctx, domain, k))
	}
	return out
}

// checkKey checks one key's record.
func (d *doctor) checkKey(ctx context.Context, domain string, k dkim.Key) Result {
	name := strings.TrimSuffix(k.Name(), ".")
	check := "dkim " + name
	fix := fmt.Sprintf("publish the TXT record for %s that pail dns-records %s prints", name, domain)
	// A missing record for a retiring key fails only mail signed before
	// the rotation; one for an active key fails all mail.
	bad := Fail
	if k.State == dkim.Retiring {
		bad = Warn
	}
	want := dkimTag(k.TXT(), "p")
	txts, err := d.r.LookupTXT(ctx, k.Name())
	switch {
	case isNotFound(err):
		return Result{Check: check, Status: bad, Detail: fmt.Sprintf("no TXT record at %s (%s key, %s)", name, k.State, k.Algorithm), Fix: fix}
	case err != nil:
		return Result{Check: check, Status: Fail, Detail: lookupFailed(name+" TXT", err), Fix: resolverFix}
	}
	var found []string
	for _, t := range txts {
		// RFC 6376 §3.6.1: v= is optional, p= is required; records
		// of another kind at the name are not keys.
		if v := dkimTag(t, "v"); v != "" && v != "DKIM1" {
			continue
		}
		p, ok := dkimTagOK(t, "p")
		if !ok {
			continue
		}
		if p == want {
			return Result{Check: check, Status: OK, Detail: fmt.Sprintf("published key is the %s %s key in use", k.State, k.Algorithm)}
		}
		found = append(found, p)
	}
	switch {
	case len(found) == 0:
		return Result{Check: check, Status: bad, Detail: fmt.Sprintf("the TXT records at %s hold no DKIM key", name), Fix: fix}
	case len(found) == 1 && found[0] == "":
		return Result{Check: check, Status: bad, Detail: fmt.Sprintf("the key at %s is revoked (empty p=) but pail uses it (%s)", name, k.State), Fix: fix}
	}
	return Result{Check: check, Status: bad,
		Detail: fmt.Sprintf("the published key at %s is not the %s %s key in use: receivers fail its signatures", name, k.State, k.Algorithm), Fix: fix}
}

// dkimTag returns the value of a tag of a DKIM key record (RFC 6376
// §3.2 tag-list), whitespace removed (§3.6.1: p= is base64 with FWS
// allowed anywhere); "" when absent.
func dkimTag(rec, tag string) string {
	v, _ := dkimTagOK(rec, tag)
	return v
}

// dkimTagOK is dkimTag, also saying whether the tag is there.
func dkimTagOK(rec, tag string) (string, bool) {
	for spec := range strings.SplitSeq(rec, ";") {
		k, v, ok := strings.Cut(spec, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), ""), true
		}
	}
	return "", false
}
