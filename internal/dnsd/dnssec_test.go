package dnsd

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// signedConfig is benchConfig (zones and a pool) signed, keys in a new
// directory.
func signedConfig(t *testing.T) config.DNS {
	t.Helper()
	cfg := benchConfig()
	cfg.DNSSEC = true
	cfg.KeyDir = filepath.Join(t.TempDir(), "dnssec")
	return cfg
}

// withDO adds an OPT record with the DO bit.
func withDO(m *dns.Msg) { m.SetEdns0(1232, true) }

// zoneKeys asks addr for the DNSKEY set of zone and checks its own
// signature.
func zoneKeys(t *testing.T, addr, zone string) []*dns.DNSKEY {
	t.Helper()
	r := query(t, addr, "tcp", zone, dns.TypeDNSKEY, withDO)
	var keys []*dns.DNSKEY
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		t.Fatalf("no DNSKEY at %s: %v", zone, r)
	}
	verifySection(t, keys, r.Answer)
	return keys
}

// verifySection checks that every RRset of rrs (but RRSIGs) has an RRSIG
// from each key, valid now and made by RRSIG.Verify's rules, and that
// each signature's validity is backdated and a week long.
func verifySection(t *testing.T, keys []*dns.DNSKEY, rrs []dns.RR) {
	t.Helper()
	sets := map[[2]string][]dns.RR{}
	var sigs []*dns.RRSIG
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok {
			sigs = append(sigs, s)
			continue
		}
		h := rr.Header()
		k := [2]string{strings.ToLower(h.Name), strconv.Itoa(int(h.Rrtype))}
		sets[k] = append(sets[k], rr)
	}
	now := time.Now()
	for k, set := range sets {
		for _, key := range keys {
			found := false
			for _, s := range sigs {
				if strings.ToLower(s.Hdr.Name) != k[0] || strconv.Itoa(int(s.TypeCovered)) != k[1] || s.KeyTag != key.KeyTag() {
					continue
				}
				found = true
				if err := s.Verify(key, set); err != nil {
					t.Errorf("RRSIG of %s by key %d: %v", k, key.KeyTag(), err)
				}
				if !s.ValidityPeriod(now) {
					t.Errorf("RRSIG of %s not valid now", k)
				}
				inc, exp := time.Unix(int64(s.Inception), 0), time.Unix(int64(s.Expiration), 0)
				if now.Sub(inc) < 50*time.Minute || exp.Sub(now) < 6*24*time.Hour {
					t.Errorf("RRSIG of %s valid %v to %v: want backdated an hour, a week long", k, inc, exp)
				}
			}
			if !found {
				t.Errorf("RRset %s has no RRSIG by key %d in %v", k, key.KeyTag(), rrs)
			}
		}
	}
}

// nsecOf returns the NSEC records of a section.
func nsecOf(rrs []dns.RR) []*dns.NSEC {
	var out []*dns.NSEC
	for _, rr := range rrs {
		if n, ok := rr.(*dns.NSEC); ok {
			out = append(out, n)
		}
	}
	return out
}

// TestDNSSECSignedAnswers: with dns.dnssec, the DNSKEY set at the apex
// and every answer to a DO query (static, pool, CNAME chain, wildcard,
// additional addresses) carry RRSIGs that verify with it; the same
// answer again carries the same signature (cached); a query without DO
// gets no signature.
func TestDNSSECSignedAnswers(t *testing.T) {
	_, addr := startServer(t, signedConfig(t))
	keys := zoneKeys(t, addr, "example.test.")
	if len(keys) != 1 || keys[0].Flags != 257 || keys[0].Algorithm != dns.ECDSAP256SHA256 {
		t.Fatalf("DNSKEY set %v: want one CSK (flags 257), algorithm 13", keys)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.example.test.", dns.TypeA},
		{"WwW.Example.Test.", dns.TypeA},
		{"chain.example.test.", dns.TypeA},
		{"x.wild.example.test.", dns.TypeTXT},
		{"example.test.", dns.TypeMX},
		{"example.test.", dns.TypeANY},
		{"cdn.example.test.", dns.TypeA},
	} {
		r := query(t, addr, "tcp", q.name, q.qtype, withDO, withECS("10.1.7.0/24"))
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%s %s: %v", q.name, dns.TypeToString[q.qtype], r)
		}
		if o := r.IsEdns0(); o == nil || !o.Do() {
			t.Errorf("%s: answer without the DO bit (RFC 3225 §3)", q.name)
		}
		verifySection(t, keys, r.Answer)
		verifySection(t, keys, r.Extra[:len(r.Extra)-1])
	}
	// Cached: ECDSA signatures differ each time they are made.
	a := query(t, addr, "udp", "www.example.test.", dns.TypeA, withDO)
	b := query(t, addr, "udp", "www.example.test.", dns.TypeA, withDO)
	if a.Answer[1].String() != b.Answer[1].String() {
		t.Errorf("the same answer was signed twice:\n%v\n%v", a.Answer[1], b.Answer[1])
	}
	plain := query(t, addr, "udp", "www.example.test.", dns.TypeA, withEDNS(1232))
	for _, rr := range slices.Concat(plain.Answer, plain.Ns, plain.Extra) {
		if rr.Header().Rrtype == dns.TypeRRSIG {
			t.Errorf("RRSIG in an answer without DO: %v", rr)
		}
	}
}

// TestDNSSECDenial: black lies (RFC 4470): a name that does not exist is
// NOERROR with an NSEC at it, next name \000.NAME, bitmap RRSIG NSEC;
// NODATA lists the name's types (the apex with SOA, NS and DNSKEY, a
// pool name with A); a referral proves the absence of DS. Each NSEC and
// SOA verifies. Without DO, NXDOMAIN stays.
func TestDNSSECDenial(t *testing.T) {
	_, addr := startServer(t, signedConfig(t))
	keys := zoneKeys(t, addr, "example.test.")
	for _, c := range []struct {
		name   string
		qtype  uint16
		owner  string
		bitmap []uint16
	}{
		{"nope.example.test.", dns.TypeA, "nope.example.test.", []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"a.b.nope.example.test.", dns.TypeAAAA, "a.b.nope.example.test.", []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"alias-none.example.test.", dns.TypeMX, "alias-none.example.test.", []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"example.test.", dns.TypeAAAA, "example.test.",
			[]uint16{dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeTXT, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCAA}},
		{"www.example.test.", dns.TypeAAAA, "www.example.test.", []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}},
		{"ent.example.test.", dns.TypeA, "ent.example.test.", []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"cdn.example.test.", dns.TypeAAAA, "cdn.example.test.", []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}},
		{"cdn.example.test.", dns.TypeTXT, "cdn.example.test.", []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}},
		{"sub.example.test.", dns.TypeDS, "sub.example.test.", []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}},
	} {
		r := query(t, addr, "tcp", c.name, c.qtype, withDO)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !r.Authoritative {
			t.Errorf("%s %s: want authoritative NOERROR without data, got %v", c.name, dns.TypeToString[c.qtype], r)
			continue
		}
		ns := nsecOf(r.Ns)
		if len(ns) != 1 {
			t.Errorf("%s: NSEC records %v", c.name, ns)
			continue
		}
		n := ns[0]
		if n.Hdr.Name != c.owner || n.NextDomain != `\000.`+c.owner || !slices.Equal(n.TypeBitMap, c.bitmap) {
			t.Errorf("%s %s: NSEC %v, want owner %s next \\000.%s bitmap %v", c.name, dns.TypeToString[c.qtype], n, c.owner, c.owner, c.bitmap)
		}
		if n.Hdr.Ttl != 60 {
			t.Errorf("NSEC TTL %d, want the SOA's negative TTL 60", n.Hdr.Ttl)
		}
		verifySection(t, keys, r.Ns)
		// The NSEC denies the type asked and covers no other name.
		if slices.Contains(n.TypeBitMap, c.qtype) {
			t.Errorf("%s: NSEC lists the type denied", c.name)
		}
	}
	// A referral without DS: NS unsigned, an NSEC proving no DS.
	r := query(t, addr, "tcp", "host.sub.example.test.", dns.TypeA, withDO)
	ns := nsecOf(r.Ns)
	if r.Authoritative || len(ns) != 1 || ns[0].Hdr.Name != "sub.example.test." || slices.Contains(ns[0].TypeBitMap, dns.TypeDS) {
		t.Errorf("referral: %v", r)
	}
	verifySection(t, keys, slices.DeleteFunc(slices.Clone(r.Ns), func(rr dns.RR) bool {
		return rr.Header().Rrtype == dns.TypeNS || (rr.Header().Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeNS)
	}))
	for _, rr := range r.Ns {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeNS {
			t.Errorf("the child's NS set is signed in a referral: %v", s)
		}
	}
	plain := query(t, addr, "udp", "nope.example.test.", dns.TypeA, withEDNS(1232))
	if plain.Rcode != dns.RcodeNameError || len(nsecOf(plain.Ns)) != 0 {
		t.Errorf("without DO: want NXDOMAIN without NSEC, got %v", plain)
	}
}

// TestDNSSECKeys: keys are made on the first start (mode 0600, in the
// data directory), the same on the next; a roll-over publishes and signs
// with both keys (double signature) until it is finished.
func TestDNSSECKeys(t *testing.T) {
	cfg := signedConfig(t)
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ks, err := OpenKeyStore(cfg.KeyDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ks.Keys("example.test.")
	if err != nil || len(keys) != 1 || keys[0].State != KeyActive {
		t.Fatalf("keys %v, %v", keys, err)
	}
	st, err := os.Stat(keyFile(filepath.Join(cfg.KeyDir, "example.test"), keys[0].Tag))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	ds := keys[0].DS()
	if ds.Algorithm != dns.ECDSAP256SHA256 || ds.DigestType != dns.SHA256 || ds.KeyTag != keys[0].Tag {
		t.Errorf("DS %v", ds)
	}

	_, addr := startServer(t, cfg)
	if got := zoneKeys(t, addr, "example.test."); len(got) != 1 || got[0].KeyTag() != keys[0].Tag {
		t.Fatalf("second start serves keys %v, want the first start's %d", got, keys[0].Tag)
	}

	rolled, err := ks.Rollover("example.test")
	if err != nil || len(rolled) != 2 || rolled[0].State != KeyRetiring || rolled[1].State != KeyActive {
		t.Fatalf("rollover: %v %v", rolled, err)
	}
	if _, err := ks.Rollover("example.test"); err == nil {
		t.Error("a second roll-over began while one is under way")
	}
	_, addr = startServer(t, cfg)
	both := zoneKeys(t, addr, "example.test.")
	if len(both) != 2 {
		t.Fatalf("during the roll-over the DNSKEY set is %v, want both keys", both)
	}
	r := query(t, addr, "tcp", "www.example.test.", dns.TypeA, withDO)
	verifySection(t, both, r.Answer)

	done, err := ks.FinishRollover("example.test")
	if err != nil || len(done) != 1 || done[0].Tag != rolled[1].Tag {
		t.Fatalf("finish: %v %v", done, err)
	}
	if _, err := os.Stat(keyFile(filepath.Join(cfg.KeyDir, "example.test"), keys[0].Tag)); !os.IsNotExist(err) {
		t.Errorf("the retired key's file is still there: %v", err)
	}
	_, addr = startServer(t, cfg)
	if got := zoneKeys(t, addr, "example.test."); len(got) != 1 || got[0].KeyTag() != rolled[1].Tag {
		t.Errorf("after the roll-over: %v", got)
	}
}

// TestDNSSECBrokenKey: a zone whose key file is unreadable or damaged
// is answered SERVFAIL, with or without DO, and logged; the other zone
// is still answered, signed.
func TestDNSSECBrokenKey(t *testing.T) {
	cfg := signedConfig(t)
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ks, _ := OpenKeyStore(cfg.KeyDir, nil)
	keys, _ := ks.Keys("example.test")
	file := keyFile(filepath.Join(cfg.KeyDir, "example.test"), keys[0].Tag)
	for _, damage := range []func(){
		func() {
			os.WriteFile(file, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
		},
		func() { os.Remove(file) },
	} {
		damage()
		var log bytes.Buffer
		s, err := NewWithRecords(cfg, slog.New(slog.NewTextHandler(&log, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		pc, ln := listenBoth(t)
		go s.ServeUDP(pc)
		go s.ServeTCP(ln)
		addr := pc.LocalAddr().String()
		for _, opts := range [][]func(*dns.Msg){{withDO}, nil} {
			r := query(t, addr, "udp", "www.example.test.", dns.TypeA, opts...)
			if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
				t.Errorf("broken key: %v, want SERVFAIL", r)
			}
		}
		if !strings.Contains(log.String(), "example.test") || !strings.Contains(log.String(), "SERVFAIL") {
			t.Errorf("no log line naming the zone: %q", log.String())
		}
		r := query(t, addr, "udp", "2.0.192.in-addr.arpa.", dns.TypeSOA, withDO)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Errorf("the other zone: %v", r)
		}
		s.Close()
	}
}

// TestDNSSECFirstKeyRace: two stores making a zone's first key at once
// (pail serve starting while pail dns ds runs) end with one key, the
// same for both.
func TestDNSSECFirstKeyRace(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	tags := make(chan uint16, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			ks, err := OpenKeyStore(dir, nil)
			if err == nil {
				var keys []ZoneKey
				if keys, err = ks.Ensure("race.test"); err == nil {
					tags <- keys[0].Tag
					return
				}
			}
			errs <- err
		}()
	}
	var first uint16
	for i := range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case tag := <-tags:
			if i == 0 {
				first = tag
			} else if tag != first {
				t.Errorf("stores made keys %d and %d", first, tag)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "race.test", "*.pem"))
	if len(files) != 1 {
		t.Errorf("key files %v, want one", files)
	}
}

// TestDNSSECLongName: a name that does not exist and is too long for the
// \000 label of its NSEC is SERVFAIL to a DO query, not a wrong denial,
// and not logged (probes would flood the log).
func TestDNSSECLongName(t *testing.T) {
	var log bytes.Buffer
	s, err := NewWithRecords(signedConfig(t), slog.New(slog.NewTextHandler(&log, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pc, ln := listenBoth(t)
	go s.ServeUDP(pc)
	go s.ServeTCP(ln)
	long := strings.Repeat(strings.Repeat("a", 62)+".", 3) + strings.Repeat("b", 50) + ".example.test." // 254 octets
	if _, ok := dns.IsDomainName(long); !ok {
		t.Fatalf("test name %d octets is not a name", len(long))
	}
	r := query(t, pc.LocalAddr().String(), "tcp", long, dns.TypeA, withDO)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("long name: %v", r)
	}
	if log.Len() != 0 {
		t.Errorf("logged: %s", log.String())
	}
}
