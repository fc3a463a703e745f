package dkim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

const testMsg = "From: Ann <ann@hill.test>\r\nTo: bob@far.test\r\nSubject: hi\r\n" +
	"Date: Sun, 06 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@hill.test>\r\n\r\nHello,\r\nworld.\r\n"

func testStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dkim")
	day := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s, err := Open(dir, func() time.Time { return day })
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// lookup answers TXT queries from the records the store prints.
func lookup(t *testing.T, s *Store, domain string) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		keys, err := s.Keys(domain)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if strings.TrimSuffix(k.Name(), ".") == strings.TrimSuffix(name, ".") {
				return []string{k.TXT()}, nil
			}
		}
		return nil, errors.New("no such record " + name)
	}
}

func verify(t *testing.T, s *Store, msg string) []*msgdkim.Verification {
	t.Helper()
	v, err := msgdkim.VerifyWithOptions(strings.NewReader(msg), &msgdkim.VerifyOptions{LookupTXT: lookup(t, s, "hill.test")})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func local(d string) bool { return d == "hill.test" }

func TestEnsureCreatesAndReloads(t *testing.T) {
	s, dir := testStore(t)
	keys, err := s.Ensure("Hill.Test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Selector != "p20261206r" || keys[0].Algorithm != RSA ||
		keys[1].Selector != "p20261206e" || keys[1].Algorithm != Ed25519 {
		t.Fatalf("keys = %+v", keys)
	}
	for _, name := range []string{"p20261206r.pem", "p20261206e.pem", "manifest.json"} {
		st, err := os.Stat(filepath.Join(dir, "hill.test", name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	if !strings.HasPrefix(keys[0].TXT(), "v=DKIM1; k=rsa; p=MIIBIjAN") || !strings.HasPrefix(keys[1].TXT(), "v=DKIM1; k=ed25519; p=") {
		t.Errorf("TXT = %q, %q", keys[0].TXT(), keys[1].TXT())
	}
	// A second store (another process) reads the same keys, and Ensure
	// does not make new ones.
	s2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s2.Ensure("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0].TXT() != keys[0].TXT() || again[1].TXT() != keys[1].TXT() {
		t.Fatalf("reloaded keys differ: %+v", again)
	}
}

func TestSignVerifyBoth(t *testing.T) {
	s, _ := testStore(t)
	sig, err := NewSigner(s, Policy{Local: local}).Sign(strings.NewReader(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	signed := string(sig) + testMsg
	v := verify(t, s, signed)
	if len(v) != 2 {
		t.Fatalf("%d verifications, want 2", len(v))
	}
	for _, r := range v {
		if r.Err != nil || r.Domain != "hill.test" {
			t.Errorf("verification %+v", r)
		}
		if got := strings.ToLower(strings.Join(r.HeaderKeys, ":")); got != "from:from:subject:subject:date:date:to:to:message-id:message-id" {
			t.Errorf("h= %v: From not oversigned", r.HeaderKeys)
		}
	}
	if !strings.Contains(signed, "a=rsa-sha256") || !strings.Contains(signed, "a=ed25519-sha256") ||
		!strings.Contains(signed, "c=relaxed/relaxed") || strings.Contains(signed, "; l=") {
		t.Errorf("signature tags: %s", sig)
	}
	// A changed body byte, and an added From, fail both.
	for _, bad := range []string{
		strings.Replace(signed, "world.", "World.", 1),
		strings.Replace(signed, "\r\nTo: ", "\r\nFrom: mallory@hill.test\r\nTo: ", 1),
	} {
		for _, r := range verify(t, s, bad) {
			if r.Err == nil {
				t.Errorf("altered message verified with %s", r.Domain)
			}
		}
	}
}

func TestNotSigned(t *testing.T) {
	s, _ := testStore(t)
	sg := NewSigner(s, Policy{Local: local, Disabled: func(d string) bool { return d == "off.test" }})
	for _, from := range []string{"eve@far.test", "ann@hill.test.evil", "Ann <ann@hill.test>, eve@far.test"} {
		_, err := sg.Sign(strings.NewReader(strings.Replace(testMsg, "Ann <ann@hill.test>", from, 1)))
		if !errors.Is(err, ErrNotSigned) {
			t.Errorf("From %s: err %v, want ErrNotSigned", from, err)
		}
	}
	sg = NewSigner(s, Policy{Local: func(string) bool { return true }, Disabled: func(d string) bool { return d == "hill.test" }})
	if _, err := sg.Sign(strings.NewReader(testMsg)); !errors.Is(err, ErrNotSigned) {
		t.Errorf("disabled domain: err %v", err)
	}
	if keys, _ := s.Keys("far.test"); len(keys) != 0 {
		t.Errorf("keys made for a foreign domain: %v", keys)
	}
}

func TestRotateRetire(t *testing.T) {
	s, dir := testStore(t)
	sg := NewSigner(s, Policy{Local: local})
	old, err := sg.Sign(strings.NewReader(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.Rotate("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 || keys[0].State != Retiring || keys[1].State != Retiring ||
		keys[2].Selector != "p20261206r2" || keys[3].Selector != "p20261206e2" || keys[2].State != Active {
		t.Fatalf("after rotate: %+v", keys)
	}
	if err := s.Retire("hill.test", "p20261206r2"); err == nil {
		t.Error("retired an active selector")
	}
	// New mail is signed with the new selectors; mail signed before
	// still verifies.
	sig, err := sg.Sign(strings.NewReader(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sig, []byte("s=p20261206r2")) || bytes.Contains(sig, []byte("s=p20261206r;")) {
		t.Errorf("signed with %s", sig)
	}
	for _, r := range verify(t, s, string(old)+testMsg) {
		if r.Err != nil {
			t.Errorf("old signature: %v", r.Err)
		}
	}
	if err := s.Retire("hill.test", "p20261206r"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "hill.test", "p20261206r.pem")); !os.IsNotExist(err) {
		t.Errorf("retired key file: %v", err)
	}
	s2, _ := Open(dir, nil)
	keys, err = s2.Keys("hill.test")
	if err != nil || len(keys) != 3 {
		t.Fatalf("after retire: %v %+v", err, keys)
	}
	// Configured selectors override the active ones.
	sg = NewSigner(s2, Policy{Local: local, Selectors: func(string) []string { return []string{"p20261206e"} }})
	sig, err = sg.Sign(strings.NewReader(testMsg))
	if err != nil || bytes.Count(sig, []byte("DKIM-Signature:")) != 1 || !bytes.Contains(sig, []byte("s=p20261206e;")) {
		t.Errorf("configured selector: %v %s", err, sig)
	}
}

func TestBadKeyFile(t *testing.T) {
	s, dir := testStore(t)
	if _, err := s.Ensure("hill.test"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "hill.test", "p20261206e.pem"), []byte("junk"), 0o600)
	s2, _ := Open(dir, nil)
	if _, err := NewSigner(s2, Policy{Local: local}).Sign(strings.NewReader(testMsg)); err == nil || errors.Is(err, ErrNotSigned) {
		t.Errorf("unreadable key: err %v", err)
	}
}

// BenchmarkSign measures Sign on a 4 KiB message: both signatures, as
// pail signs every message, and each algorithm alone (by naming its
// selector in the policy), each checked to make the signatures it names.
func BenchmarkSign(b *testing.B) {
	dir := b.TempDir()
	s, _ := Open(dir, nil)
	keys, err := s.Ensure("hill.test")
	if err != nil {
		b.Fatal(err)
	}
	selector := map[Algorithm]string{}
	for _, k := range keys {
		selector[k.Algorithm] = k.Selector
	}
	msg := testMsg + strings.Repeat("A line of body text that goes on for a while to make 4 KiB.\r\n", 64)
	for _, c := range []struct {
		name string
		algs []Algorithm
		want []string
	}{
		{"rsa+ed25519", nil, []string{"a=rsa-sha256", "a=ed25519-sha256"}},
		{"rsa-sha256", []Algorithm{RSA}, []string{"a=rsa-sha256"}},
		{"ed25519-sha256", []Algorithm{Ed25519}, []string{"a=ed25519-sha256"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := Policy{Local: local}
			if c.algs != nil {
				var sels []string
				for _, a := range c.algs {
					sels = append(sels, selector[a])
				}
				p.Selectors = func(string) []string { return sels }
			}
			sg := NewSigner(s, p)
			sig, err := sg.Sign(strings.NewReader(msg))
			if err != nil {
				b.Fatal(err)
			}
			if n := strings.Count(string(sig), "DKIM-Signature:"); n != len(c.want) {
				b.Fatalf("%d signatures, want %d:\n%s", n, len(c.want), sig)
			}
			for _, w := range c.want {
				if !strings.Contains(string(sig), w) {
					b.Fatalf("no %s in\n%s", w, sig)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sg.Sign(strings.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Mail From the host name (DSNs from MAILER-DAEMON@mx.hill.test) is
// signed by the local domain above it; other subdomains are not.
func TestHostNameSignedByItsDomain(t *testing.T) {
	s, _ := testStore(t)
	sg := NewSigner(s, Policy{Local: local, Host: "mx.hill.test"})
	dsn := strings.Replace(testMsg, "Ann <ann@hill.test>", "Mail Delivery System <MAILER-DAEMON@MX.hill.test>", 1)
	sig, err := sg.Sign(strings.NewReader(dsn))
	if err != nil {
		t.Fatalf("a DSN From the host name: %v", err)
	}
	v := verify(t, s, string(sig)+dsn)
	if len(v) != 2 || v[0].Err != nil || v[0].Domain != "hill.test" {
		t.Errorf("verifications %+v", v)
	}
	for _, from := range []string{"x@other.hill.test", "x@mx.hill.test.evil"} {
		if _, err := sg.Sign(strings.NewReader(strings.Replace(testMsg, "Ann <ann@hill.test>", from, 1))); !errors.Is(err, ErrNotSigned) {
			t.Errorf("From %s: err %v, want ErrNotSigned", from, err)
		}
	}
	sg = NewSigner(s, Policy{Local: local, Host: "mx.far.test"})
	if _, err := sg.Sign(strings.NewReader(strings.Replace(dsn, "hill.test", "far.test", 1))); !errors.Is(err, ErrNotSigned) {
		t.Errorf("a host name under no local domain: err %v", err)
	}
}
