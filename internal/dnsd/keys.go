package dnsd

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"pail/internal/safeio"
)

// DNSSEC keys. Each signed zone has one or two combined signing keys
// (CSK: a DNSKEY with the SEP flag that signs every RRset, the DNSKEY
// set included, RFC 6781 §3.1.4), ECDSA P-256 with SHA-256 (algorithm
// 13, RFC 6605). They live under data_dir/dnssec/ZONE/ (the layout of
// the DKIM keys under data_dir/dkim): one PKCS#8 PEM file per key,
// TAG.pem (mode 0600), and manifest.json listing the keys with their
// key tag, creation time and state:
//
//   - active: published and signing, its DS is the one the parent
//     should hold;
//   - retiring: still published and still signing (the double-signature
//     roll-over, RFC 6781 §4.1.1.2 and §4.1.2), so that resolvers that
//     know only its DS at the parent keep validating, until the roll-over
//     is finished.

// keyManifestName is the per-zone file that lists the keys.
const keyManifestName = "manifest.json"

// DNSSEC key flags (RFC 4034 §2.1.1): Zone Key plus Secure Entry Point,
// 257, the flags of a key whose DS the parent holds.
const cskFlags = dns.ZONE | dns.SEP

// p256Bits is the key size DNSKEY.Generate takes for P-256.
const p256Bits = 256

// maxKeysPerZone bounds a manifest: an active key and a retiring one is
// what a roll-over needs; more is a damaged file.
const maxKeysPerZone = 4

// KeyState is where a zone key stands in its life.
type KeyState string

// The states of a zone key.
const (
	KeyActive   KeyState = "active"   // published, signing, its DS at the parent
	KeyRetiring KeyState = "retiring" // published and signing until the roll-over ends
)

// ZoneKey is one DNSSEC key of one zone.
type ZoneKey struct {
	Tag     uint16    `json:"tag"`
	Created time.Time `json:"created"`
	State   KeyState  `json:"state"`

	dnskey *dns.DNSKEY
	signer crypto.Signer
}

// DNSKEY returns the key's public record at the zone apex.
func (k ZoneKey) DNSKEY() *dns.DNSKEY { return k.dnskey }

// DS returns the key's DS record with a SHA-256 digest (RFC 4509), the
// record the parent zone publishes.
func (k ZoneKey) DS() *dns.DS { return k.dnskey.ToDS(dns.SHA256) }

// keyManifest is the content of manifest.json.
type keyManifest struct {
	Keys []ZoneKey `json:"keys"`
}

// KeyStore holds the DNSSEC keys of every zone under one directory
// (data_dir/dnssec). Each call reads the files again: keys are read
// when zones are built (start and reload) and by admin commands, never
// per query.
type KeyStore struct {
	dir string
	now func() time.Time
}

// KeyDirIn returns the key directory inside a data directory.
func KeyDirIn(dataDir string) string { return filepath.Join(dataDir, "dnssec") }

// OpenKeyStore opens the key directory dir, creating it (mode 0700) when
// needed. now gives the time for new keys (nil: time.Now).
func OpenKeyStore(dir string, now func() time.Time) (*KeyStore, error) {
	if now == nil {
		now = time.Now
	}
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	return &KeyStore{dir: dir, now: now}, nil
}

// zoneDir returns the directory of zone's keys, or an error for a name
// that is no safe directory name.
func (s *KeyStore) zoneDir(zone string) (string, error) {
	z := strings.TrimSuffix(dns.CanonicalName(zone), ".")
	if z == "" {
		// The root zone's keys get a name of their own.
		z = "root"
	}
	for _, c := range z {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", fmt.Errorf("dnssec: zone %q cannot name a key directory", zone)
		}
	}
	if strings.HasPrefix(z, ".") || strings.Contains(z, "..") {
		return "", fmt.Errorf("dnssec: zone %q cannot name a key directory", zone)
	}
	return filepath.Join(s.dir, z), nil
}

// Keys returns zone's keys without creating any: none (and no error)
// when the zone has no manifest. A manifest naming a key file that is
// missing or unreadable is an error.
func (s *KeyStore) Keys(zone string) ([]ZoneKey, error) {
	dir, err := s.zoneDir(zone)
	if err != nil {
		return nil, err
	}
	return loadKeys(dir, dns.CanonicalName(zone))
}

// Ensure returns zone's keys, making an active key first when the zone
// has no manifest at all (its first signed start). A damaged manifest
// or key file is an error, never replaced: a new key would break the
// chain of trust the parent's DS makes.
func (s *KeyStore) Ensure(zone string) ([]ZoneKey, error) {
	keys, err := s.Keys(zone)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	dir, _ := s.zoneDir(zone)
	if _, err := os.Stat(filepath.Join(dir, keyManifestName)); err == nil {
		return nil, fmt.Errorf("dnssec: %s: manifest lists no key", zone)
	}
	return s.addKey(zone, nil)
}

// Rollover begins a key roll-over of zone: a new active key, the keys
// active until now retiring (still published and signing). It refuses
// while a roll-over is under way (a retiring key exists).
func (s *KeyStore) Rollover(zone string) ([]ZoneKey, error) {
	keys, err := s.Keys(zone)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("dnssec: %s has no keys yet; they are made on the first start with dns.dnssec = true", zone)
	}
	if slices.ContainsFunc(keys, func(k ZoneKey) bool { return k.State == KeyRetiring }) {
		return nil, fmt.Errorf("dnssec: a roll-over of %s is under way; finish it first (pail dns rollover --finish %s)", zone, zone)
	}
	keys = slices.Clone(keys)
	for i := range keys {
		keys[i].State = KeyRetiring
	}
	return s.addKey(zone, keys)
}

// FinishRollover ends a roll-over of zone: the retiring keys are
// removed (unpublished, no longer signing) and their files deleted.
func (s *KeyStore) FinishRollover(zone string) ([]ZoneKey, error) {
	keys, err := s.Keys(zone)
	if err != nil {
		return nil, err
	}
	var kept, gone []ZoneKey
	for _, k := range keys {
		if k.State == KeyRetiring {
			gone = append(gone, k)
		} else {
			kept = append(kept, k)
		}
	}
	if len(gone) == 0 {
		return nil, fmt.Errorf("dnssec: no roll-over of %s is under way", zone)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("dnssec: %s would be left without an active key", zone)
	}
	dir, _ := s.zoneDir(zone)
	if err := saveManifest(dir, kept); err != nil {
		return nil, err
	}
	// The manifest no longer names the files: a crash before they are
	// removed leaves only unused files.
	for _, k := range gone {
		if err := os.Remove(keyFile(dir, k.Tag)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("dnssec: %w", err)
		}
	}
	return kept, nil
}

// addKey makes a new active key for zone, adds it to keys and saves the
// manifest.
func (s *KeyStore) addKey(zone string, keys []ZoneKey) ([]ZoneKey, error) {
	dir, err := s.zoneDir(zone)
	if err != nil {
		return nil, err
	}
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	origin := dns.CanonicalName(zone)
	var k ZoneKey
	for {
		dk := newDNSKEY(origin)
		priv, err := dk.Generate(p256Bits)
		if err != nil {
			return nil, fmt.Errorf("dnssec: generate a key for %s: %w", zone, err)
		}
		k = ZoneKey{Tag: dk.KeyTag(), Created: s.now().UTC().Truncate(time.Second), State: KeyActive,
			dnskey: dk, signer: priv.(crypto.Signer)}
		// Key tags are not unique (RFC 4034 Appendix B); two keys of one
		// zone with one tag make validators try both, so avoid it.
		if !slices.ContainsFunc(keys, func(o ZoneKey) bool { return o.Tag == k.Tag }) {
			break
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	// The key file first: a crash before the manifest names it leaves
	// only an unused file.
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := safeio.WriteFile(keyFile(dir, k.Tag), data, 0o600); err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	first := len(keys) == 0
	keys = append(keys, k)
	if first {
		// The zone's first key: a second process making one at the same
		// time (pail serve's start and pail dns ds) must not replace
		// the manifest the other wrote; the one written first wins and
		// the loser reads it.
		err := writeManifest(dir, keys, safeio.WriteNew)
		if errors.Is(err, fs.ErrExist) {
			os.Remove(keyFile(dir, k.Tag))
			return loadKeys(dir, origin)
		}
		return keys, err
	}
	if err := saveManifest(dir, keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// newDNSKEY is an empty P-256 CSK record for origin.
func newDNSKEY(origin string) *dns.DNSKEY {
	return &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: dnskeyTTL},
		Flags:     cskFlags,
		Protocol:  3, // RFC 4034 §2.1.2: always 3
		Algorithm: dns.ECDSAP256SHA256,
	}
}

// dnskeyTTL is the TTL of the DNSKEY set: an hour, so that a roll-over
// step reaches every resolver's cache within one (RFC 6781 §4.1.4).
const dnskeyTTL = 3600

func keyFile(dir string, tag uint16) string {
	return filepath.Join(dir, strconv.Itoa(int(tag))+".pem")
}

// saveManifest replaces dir's manifest.
func saveManifest(dir string, keys []ZoneKey) error {
	return writeManifest(dir, keys, safeio.WriteFile)
}

// writeManifest writes dir's manifest with write (safeio.WriteFile or
// WriteNew).
func writeManifest(dir string, keys []ZoneKey, write func(string, []byte, os.FileMode) error) error {
	data, err := json.MarshalIndent(keyManifest{Keys: keys}, "", "  ")
	if err != nil {
		return fmt.Errorf("dnssec: %w", err)
	}
	if err := write(filepath.Join(dir, keyManifestName), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("dnssec: %w", err)
	}
	return nil
}

// loadKeys reads the manifest in dir and every key it names; no
// manifest: no keys.
func loadKeys(dir, origin string) ([]ZoneKey, error) {
	path := filepath.Join(dir, keyManifestName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	var m keyManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("dnssec: %s: %w", path, err)
	}
	if len(m.Keys) > maxKeysPerZone {
		return nil, fmt.Errorf("dnssec: %s: %d keys, at most %d", path, len(m.Keys), maxKeysPerZone)
	}
	for i := range m.Keys {
		k := &m.Keys[i]
		if k.State != KeyActive && k.State != KeyRetiring {
			return nil, fmt.Errorf("dnssec: %s: key %d has state %q", path, k.Tag, k.State)
		}
		priv, err := readZoneKey(keyFile(dir, k.Tag))
		if err != nil {
			return nil, err
		}
		dk := newDNSKEY(origin)
		// RFC 6605 §4: the public key is Q's x and y, 32 octets each.
		dk.PublicKey = base64.StdEncoding.EncodeToString(pubBytes(&priv.PublicKey))
		if dk.KeyTag() != k.Tag {
			return nil, fmt.Errorf("dnssec: %s: key file of key %d holds a key with tag %d", path, k.Tag, dk.KeyTag())
		}
		k.dnskey, k.signer = dk, priv
	}
	return m.Keys, nil
}

// pubBytes is the uncompressed point of pub without its 0x04 prefix.
func pubBytes(pub *ecdsa.PublicKey) []byte {
	b, _ := pub.Bytes()
	return b[1:]
}

// readZoneKey reads a PKCS#8 PEM ECDSA P-256 private key.
func readZoneKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dnssec: key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("dnssec: key %s: no PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dnssec: key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("dnssec: key %s: not an ECDSA P-256 key", path)
	}
	return ec, nil
}
