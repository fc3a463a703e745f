// Package dkim signs the mail pail sends for its local domains with
// DKIM (RFC 6376), using github.com/emersion/go-msgauth for the
// signature itself.
//
// Every local domain has two signing keys at a time: an RSA-2048 key
// (a=rsa-sha256, RFC 6376 §3.3) and an Ed25519 key (a=ed25519-sha256,
// RFC 8463), and each message gets one signature from each, so that a
// verifier that knows only RSA and one that prefers Ed25519 both find
// one to check. The keys live under data_dir/dkim/DOMAIN/: one PKCS#8
// PEM file per selector (mode 0600) and manifest.json, which lists the
// selectors with their algorithm, creation time and state:
//
//   - active: signs every message (one rsa, one ed25519);
//   - retiring: signs nothing but is still listed, so that its DNS
//     record stays published for mail signed before a rotation, until
//     Retire removes it.
//
// Selectors are named after the day they were made, p20261206r for RSA
// and p20261206e for Ed25519 (a digit is added when the day's name is
// taken). Store creates keys for a domain the first time they are needed
// (pail serve's start, an admin command, or the first message from a
// domain added since), prints the DNS TXT record to publish (TXT) and
// rotates and retires keys. Signer computes the DKIM-Signature header
// fields for a message.
package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"pail/internal/safeio"
)

// rsaBits is the RSA key size: RFC 8301 §3.2 requires at least 1024 and
// recommends 2048, which every DNS TXT record still carries.
const rsaBits = 2048

// manifestName is the per-domain file that lists the selectors.
const manifestName = "manifest.json"

// Algorithm is a key's algorithm as DNS records name it (the k= tag).
type Algorithm string

// The algorithms pail signs with.
const (
	RSA     Algorithm = "rsa"     // rsa-sha256, RFC 6376 §3.3.1
	Ed25519 Algorithm = "ed25519" // ed25519-sha256, RFC 8463 §3
)

// State is where a key stands in its life.
type State string

// The states of a key.
const (
	Active   State = "active"   // signs every message
	Retiring State = "retiring" // kept in DNS for mail already signed
)

// Key is one selector of one domain.
type Key struct {
	Domain    string    `json:"-"`
	Selector  string    `json:"selector"`
	Algorithm Algorithm `json:"algorithm"`
	Created   time.Time `json:"created"`
	State     State     `json:"state"`

	signer crypto.Signer
}

// Signer returns the private key.
func (k Key) Signer() crypto.Signer { return k.signer }

// Name is the DNS name of the key's record, SELECTOR._domainkey.DOMAIN.
// (RFC 6376 §3.6.2.1).
func (k Key) Name() string { return k.Selector + "._domainkey." + k.Domain + "." }

// TXT is the value of the key's DNS TXT record (RFC 6376 §3.6.1,
// RFC 8463 §4.2), as one string: "v=DKIM1; k=rsa; p=...".
func (k Key) TXT() string {
	var p []byte
	switch pub := k.signer.Public().(type) {
	case ed25519.PublicKey:
		p = pub // RFC 8463 §4.2: the raw 32 bytes, not a SubjectPublicKeyInfo
	default:
		p, _ = x509.MarshalPKIXPublicKey(pub)
	}
	return "v=DKIM1; k=" + string(k.Algorithm) + "; p=" + base64.StdEncoding.EncodeToString(p)
}

// manifest is the content of manifest.json.
type manifest struct {
	Keys []Key `json:"keys"`
}

// Store holds the keys of every domain under one directory
// (data_dir/dkim). It is safe for concurrent use; changes made by
// another process (pail dkim rotate) are seen on the next call.
type Store struct {
	dir string
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

// cached is a domain's keys as read at the manifest's modification time.
type cached struct {
	mod  time.Time
	size int64
	keys []Key
}

// DirIn returns the key directory inside a data directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "dkim") }

// Open opens the key directory dir (creating it if needed); now gives
// the time for new keys (nil: time.Now).
func Open(dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	return &Store{dir: dir, now: now, cache: map[string]cached{}}, nil
}

// normalize lower-cases a domain and drops a trailing dot.
func normalize(domain string) string {
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}

// validDomain reports whether domain is safe as a directory name.
func validDomain(domain string) bool {
	if domain == "" || len(domain) > 253 || strings.HasPrefix(domain, ".") {
		return false
	}
	for _, c := range domain {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return !strings.Contains(domain, "..")
}

// Ensure returns the keys of domain, creating an active RSA and Ed25519
// key first when it has no active key of either.
func (s *Store) Ensure(domain string) ([]Key, error) {
	domain = normalize(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.load(domain)
	if err != nil {
		return nil, err
	}
	var add []Algorithm
	for _, a := range []Algorithm{RSA, Ed25519} {
		if !slices.ContainsFunc(keys, func(k Key) bool { return k.Algorithm == a && k.State == Active }) {
			add = append(add, a)
		}
	}
	if len(add) == 0 {
		return keys, nil
	}
	return s.addKeys(domain, keys, add, false)
}

// Keys returns the keys of domain without creating any (none when the
// domain has none).
func (s *Store) Keys(domain string) ([]Key, error) {
	domain = normalize(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(domain)
}

// Rotate makes a new RSA and Ed25519 key the active ones of domain; the
// keys active until now become retiring. It returns the domain's keys.
func (s *Store) Rotate(domain string) ([]Key, error) {
	domain = normalize(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.load(domain)
	if err != nil {
		return nil, err
	}
	return s.addKeys(domain, keys, []Algorithm{RSA, Ed25519}, true)
}

// Retire removes a retiring selector of domain and its key file. An
// active selector cannot be retired: rotate first.
func (s *Store) Retire(domain, selector string) error {
	domain = normalize(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.load(domain)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k Key) bool { return k.Selector == selector })
	if i < 0 {
		return fmt.Errorf("dkim: %s has no selector %q", domain, selector)
	}
	if keys[i].State == Active {
		return fmt.Errorf("dkim: selector %q of %s is active; run pail dkim rotate %s first", selector, domain, domain)
	}
	keys = slices.Delete(slices.Clone(keys), i, i+1)
	if err := s.save(domain, keys); err != nil {
		return err
	}
	// The manifest no longer names the file: a crash before this
	// removal leaves only an unused file.
	if err := os.Remove(filepath.Join(s.dir, domain, selector+".pem")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dkim: %w", err)
	}
	return nil
}

// addKeys creates a key per algorithm in algs, makes it active (when
// retire, the active keys become retiring first) and saves the manifest.
// s.mu is held.
func (s *Store) addKeys(domain string, keys []Key, algs []Algorithm, retire bool) ([]Key, error) {
	if !validDomain(domain) {
		return nil, fmt.Errorf("dkim: invalid domain %q", domain)
	}
	ddir := filepath.Join(s.dir, domain)
	if err := safeio.MkdirAll(ddir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	keys = slices.Clone(keys)
	if retire {
		for i := range keys {
			if keys[i].State == Active {
				keys[i].State = Retiring
			}
		}
	}
	now := s.now().UTC().Truncate(time.Second)
	for _, a := range algs {
		k := Key{Domain: domain, Algorithm: a, Created: now, State: Active}
		k.Selector = newSelector(keys, now, a)
		var err error
		switch a {
		case RSA:
			k.signer, err = rsa.GenerateKey(rand.Reader, rsaBits)
		case Ed25519:
			_, k.signer, err = ed25519.GenerateKey(rand.Reader)
		}
		if err != nil {
			return nil, fmt.Errorf("dkim: generate %s key for %s: %w", a, domain, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.signer)
		if err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		// The key file first: a crash before the manifest names it
		// leaves only an unused file.
		data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := safeio.WriteFile(filepath.Join(ddir, k.Selector+".pem"), data, 0o600); err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		keys = append(keys, k)
	}
	if err := s.save(domain, keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// newSelector names a new key: p + the day + r or e, with a digit from 2
// on when that name is taken.
func newSelector(keys []Key, now time.Time, a Algorithm) string {
	base := "p" + now.Format("20060102") + string(a[0:1]) // "r" or "e"
	name := base
	for n := 2; slices.ContainsFunc(keys, func(k Key) bool { return k.Selector == name }); n++ {
		name = fmt.Sprintf("%s%d", base, n)
	}
	return name
}

// save writes domain's manifest and updates the cache. s.mu is held.
func (s *Store) save(domain string, keys []Key) error {
	data, err := json.MarshalIndent(manifest{Keys: keys}, "", "  ")
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	path := filepath.Join(s.dir, domain, manifestName)
	if err := safeio.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	delete(s.cache, domain)
	if st, err := os.Stat(path); err == nil {
		s.cache[domain] = cached{mod: st.ModTime(), size: st.Size(), keys: keys}
	}
	return nil
}

// load returns domain's keys, from the cache while the manifest is
// unchanged. A domain without a manifest has no keys. s.mu is held.
func (s *Store) load(domain string) ([]Key, error) {
	if !validDomain(domain) {
		return nil, fmt.Errorf("dkim: invalid domain %q", domain)
	}
	ddir := filepath.Join(s.dir, domain)
	path := filepath.Join(ddir, manifestName)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		delete(s.cache, domain)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if c, ok := s.cache[domain]; ok && c.mod.Equal(st.ModTime()) && c.size == st.Size() {
		return c.keys, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", path, err)
	}
	for i := range m.Keys {
		k := &m.Keys[i]
		k.Domain = domain
		if k.Selector == "" || strings.ContainsAny(k.Selector, "/\\.") {
			return nil, fmt.Errorf("dkim: %s: invalid selector %q", path, k.Selector)
		}
		k.signer, err = readKey(filepath.Join(ddir, k.Selector+".pem"), k.Algorithm)
		if err != nil {
			return nil, err
		}
	}
	s.cache[domain] = cached{mod: st.ModTime(), size: st.Size(), keys: m.Keys}
	return m.Keys, nil
}

// readKey reads a PKCS#8 PEM private key of algorithm a.
func readKey(path string, a Algorithm) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim: key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("dkim: key %s: no PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: key %s: %w", path, err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if a == RSA {
			return k, nil
		}
	case ed25519.PrivateKey:
		if a == Ed25519 {
			return k, nil
		}
	}
	return nil, fmt.Errorf("dkim: key %s: not an %s key", path, a)
}
