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
//
// A cluster of nodes on one database keeps the same manifest and PEMs as
// blobs instead (OpenDB, internal/blobdb): dkim/DOMAIN/manifest.json and
// dkim/DOMAIN/SELECTOR.pem. Every Keys call compares the manifest's
// version with the cached one (one indexed row), so a rotation on one
// node signs the next message on every node; changes swap the manifest
// at the version they read, in one transaction with the key blobs, so
// that nodes making a new domain's keys at once agree on one set.
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

// Store holds the keys of every domain, in one of two backends: files
// under one directory (data_dir/dkim, Open) or blobs in a cluster's
// database (OpenDB). It is safe for concurrent use; changes made by
// another process (pail dkim rotate, another node) are seen on the next
// call.
type Store struct {
	b   backend
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

// cached is a domain's keys as read at one stamp of its manifest.
type cached struct {
	stamp string
	keys  []Key
}

// DirIn returns the key directory inside a data directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "dkim") }

// Open opens the key directory dir (creating it if needed); now gives
// the time for new keys (nil: time.Now).
func Open(dir string, now func() time.Time) (*Store, error) {
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	return newStore(fileBackend{dir: dir}, now), nil
}

func newStore(b backend, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{b: b, now: now, cache: map[string]cached{}}
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

// changeAttempts bounds how often a change is made again on top of a
// manifest another node changed meanwhile (OpenDB).
const changeAttempts = 5

// Ensure returns the keys of domain, creating an active RSA and Ed25519
// key first when it has no active key of either. On a database shared by
// several nodes, concurrent Ensures of a new domain create one key set:
// the manifest is created only if absent, and the losers read the
// winner's.
func (s *Store) Ensure(domain string) ([]Key, error) {
	return s.change(normalize(domain), func(keys []Key) ([]Key, []Algorithm, []string, error) {
		var add []Algorithm
		for _, a := range []Algorithm{RSA, Ed25519} {
			if !slices.ContainsFunc(keys, func(k Key) bool { return k.Algorithm == a && k.State == Active }) {
				add = append(add, a)
			}
		}
		return keys, add, nil, nil
	})
}

// Keys returns the keys of domain without creating any (none when the
// domain has none).
func (s *Store) Keys(domain string) ([]Key, error) {
	domain = normalize(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, _, err := s.load(domain)
	return keys, err
}

// Rotate makes a new RSA and Ed25519 key the active ones of domain; the
// keys active until now become retiring. It returns the domain's keys.
func (s *Store) Rotate(domain string) ([]Key, error) {
	return s.change(normalize(domain), func(keys []Key) ([]Key, []Algorithm, []string, error) {
		keys = slices.Clone(keys)
		for i := range keys {
			if keys[i].State == Active {
				keys[i].State = Retiring
			}
		}
		return keys, []Algorithm{RSA, Ed25519}, nil, nil
	})
}

// Retire removes a retiring selector of domain and its key file. An
// active selector cannot be retired: rotate first.
func (s *Store) Retire(domain, selector string) error {
	domain = normalize(domain)
	_, err := s.change(domain, func(keys []Key) ([]Key, []Algorithm, []string, error) {
		i := slices.IndexFunc(keys, func(k Key) bool { return k.Selector == selector })
		if i < 0 {
			return nil, nil, nil, fmt.Errorf("dkim: %s has no selector %q", domain, selector)
		}
		if keys[i].State == Active {
			return nil, nil, nil, fmt.Errorf("dkim: selector %q of %s is active; run pail dkim rotate %s first", selector, domain, domain)
		}
		return slices.Delete(slices.Clone(keys), i, i+1), nil, []string{selector}, nil
	})
	return err
}

// edit is a change to one domain's keys: given the keys as they are, it
// returns the keys to keep (in order), the algorithms of the new active
// keys to add after them, and the selectors whose key files go.
type edit func(keys []Key) (keep []Key, add []Algorithm, remove []string, err error)

// change applies fn to domain's keys and saves the result. When the
// backend reports that the manifest changed since it was read (another
// node changed it), fn is applied again to the new keys.
func (s *Store) change(domain string, fn edit) ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		keys, stamp, err := s.load(domain)
		if err != nil {
			return nil, err
		}
		keep, add, remove, err := fn(keys)
		if err != nil {
			return nil, err
		}
		if len(add) == 0 && len(remove) == 0 {
			return keys, nil
		}
		keys, files, err := s.generate(domain, keep, add)
		if err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(manifest{Keys: keys}, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		delete(s.cache, domain)
		next, err := s.b.commit(domain, stamp, append(data, '\n'), files, remove)
		if errors.Is(err, errChanged) && attempt < changeAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		if next != "" {
			s.cache[domain] = cached{stamp: next, keys: keys}
		}
		return keys, nil
	}
}

// keyFile is a new key's PEM, to be stored under its selector.
type keyFile struct {
	selector string
	pem      []byte
}

// generate creates an active key per algorithm in algs after keys, and
// returns all the keys with the new ones' PEM.
func (s *Store) generate(domain string, keys []Key, algs []Algorithm) ([]Key, []keyFile, error) {
	keys = slices.Clone(keys)
	now := s.now().UTC().Truncate(time.Second)
	var files []keyFile
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
			return nil, nil, fmt.Errorf("dkim: generate %s key for %s: %w", a, domain, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.signer)
		if err != nil {
			return nil, nil, fmt.Errorf("dkim: %w", err)
		}
		files = append(files, keyFile{k.Selector, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})})
		keys = append(keys, k)
	}
	return keys, files, nil
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

// load returns domain's keys and the stamp of the manifest they were
// read from, from the cache while the manifest is unchanged. A domain
// without a manifest has no keys (and stamp ""). s.mu is held.
func (s *Store) load(domain string) ([]Key, string, error) {
	if !validDomain(domain) {
		return nil, "", fmt.Errorf("dkim: invalid domain %q", domain)
	}
	stamp, err := s.b.stamp(domain)
	if err != nil {
		return nil, "", err
	}
	if stamp == "" {
		delete(s.cache, domain)
		return nil, "", nil
	}
	if c, ok := s.cache[domain]; ok && c.stamp == stamp {
		return c.keys, stamp, nil
	}
	data, stamp, err := s.b.manifest(domain)
	if err != nil || stamp == "" {
		delete(s.cache, domain)
		return nil, "", err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, "", fmt.Errorf("dkim: %s: %w", s.b.manifestName(domain), err)
	}
	for i := range m.Keys {
		k := &m.Keys[i]
		k.Domain = domain
		if k.Selector == "" || strings.ContainsAny(k.Selector, "/\\.") {
			return nil, "", fmt.Errorf("dkim: %s: invalid selector %q", s.b.manifestName(domain), k.Selector)
		}
		data, name, err := s.b.key(domain, k.Selector)
		if err != nil {
			return nil, "", err
		}
		if k.signer, err = parseKey(data, name, k.Algorithm); err != nil {
			return nil, "", err
		}
	}
	s.cache[domain] = cached{stamp: stamp, keys: m.Keys}
	return m.Keys, stamp, nil
}

// parseKey parses a PKCS#8 PEM private key of algorithm a, read from
// name.
func parseKey(data []byte, name string, a Algorithm) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("dkim: key %s: no PEM PRIVATE KEY block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: key %s: %w", name, err)
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
	return nil, fmt.Errorf("dkim: key %s: not an %s key", name, a)
}
