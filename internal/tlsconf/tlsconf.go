// Package tlsconf provides the server's TLS configuration: the certificate
// files named in the config, or a self-signed certificate created in the
// data directory on first start so that STARTTLS and implicit TLS work out
// of the box.
package tlsconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"pail/internal/safeio"
)

// selfSignedLifetime is how long a generated certificate is valid.
const selfSignedLifetime = 5 * 365 * 24 * time.Hour

// Load returns a server TLS config. With certFile and keyFile empty it uses
// (creating if missing) a self-signed certificate in dataDir/tls for the
// given host names.
func Load(certFile, keyFile, dataDir string, names []string) (*tls.Config, error) {
	c, err := NewCerts(certFile, keyFile, dataDir, names)
	if err != nil {
		return nil, err
	}
	return c.Config(), nil
}

// Certs is the server's certificate, replaceable while the server runs
// (Reload on SIGHUP): connections made after a Reload get the new one.
type Certs struct {
	certFile, keyFile string
	made              bool
	cur               atomic.Pointer[tls.Certificate]
}

// NewCerts loads the certificate files, or with both names empty the
// self-signed certificate in dataDir/tls. That one is made when missing,
// and made again when it is pail's own self-signed certificate but does not
// name everything in names, localhost, 127.0.0.1 and ::1 (one from an older
// pail, or from before the host name or the domains changed), so that
// clients which check the name against the certificate accept it. A
// certificate someone else put there is left alone.
func NewCerts(certFile, keyFile, dataDir string, names []string) (*Certs, error) {
	made := false
	if certFile == "" {
		dir := filepath.Join(dataDir, "tls")
		certFile, keyFile = SelfSignedCertFile(dataDir), filepath.Join(dir, "key.pem")
		stale, err := needsSelfSigned(certFile, keyFile, names)
		if err != nil {
			return nil, err
		}
		if stale {
			if err := writeSelfSigned(dir, certFile, keyFile, names); err != nil {
				return nil, err
			}
			made = true
		}
	}
	c := &Certs{certFile: certFile, keyFile: keyFile, made: made}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Made reports whether NewCerts wrote a new self-signed certificate, so
// that the server can say so: clients that trusted the old one must be
// given the new one.
func (c *Certs) Made() bool { return c.made }

// CertFile is the certificate file in use.
func (c *Certs) CertFile() string { return c.certFile }

// Leaf is the certificate presented now (the first of its chain), as
// last loaded.
func (c *Certs) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// SelfSignedCertFile is where the self-signed certificate of dataDir is
// kept.
func SelfSignedCertFile(dataDir string) string { return filepath.Join(dataDir, "tls", "cert.pem") }

// ReadLeaf returns the first certificate of the PEM file certFile, or
// with certFile empty of the self-signed certificate in dataDir, without
// making one: nil and no error when that one does not exist yet.
func ReadLeaf(certFile, dataDir string) (*x509.Certificate, error) {
	if certFile == "" {
		certFile = SelfSignedCertFile(dataDir)
		if _, err := os.Stat(certFile); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	for {
		var block *pem.Block
		if block, pemBytes = pem.Decode(pemBytes); block == nil {
			return nil, fmt.Errorf("tls: %s holds no certificate", certFile)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tls: %s: %w", certFile, err)
			}
			return cert, nil
		}
	}
}

// selfSignedOrg marks the certificates pail makes itself; only those are
// ever replaced.
const selfSignedOrg = "pail self-signed"

// subjectNames are the DNS names and IP addresses a self-signed
// certificate for names carries: each name once, localhost, and the
// loopback addresses, which clients on the same machine use.
func subjectNames(names []string) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, n := range append(append([]string{}, names...), "localhost", "127.0.0.1", "::1") {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if ip := net.ParseIP(n); ip != nil {
			n = ip.String()
			if !seen[n] {
				ips = append(ips, ip)
			}
		} else if n != "" && !seen[n] {
			dns = append(dns, n)
		}
		seen[n] = true
	}
	return dns, ips
}

// needsSelfSigned reports whether the self-signed certificate at certFile
// is to be made: it is missing, or it is pail's own and lacks a name.
func needsSelfSigned(certFile, keyFile string, names []string) (bool, error) {
	pemBytes, err := os.ReadFile(certFile)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("tls: %w", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return false, nil // not pail's; loading it says what is wrong
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	// Self-signed: issued by its own subject, signed by its own key.
	// (CheckSignatureFrom would refuse a parent that is not a CA.)
	if err != nil || !slices.Equal(cert.Subject.Organization, []string{selfSignedOrg}) ||
		!bytes.Equal(cert.RawIssuer, cert.RawSubject) ||
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
		return false, nil
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return false, nil // not a pair pail wrote; leave it to the operator
	}
	dns, ips := subjectNames(names)
	for _, n := range dns {
		if !slices.Contains(cert.DNSNames, n) {
			return true, nil
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return true, nil
		}
	}
	return false, nil
}

// Reload reads the certificate files again. On error the old certificate
// stays in use.
func (c *Certs) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.cur.Store(&cert)
	return nil
}

// Config returns a TLS server config that always presents the current
// certificate.
func (c *Certs) Config() *tls.Config {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil },
		MinVersion:     tls.VersionTLS12,
	}
}

// selfSignedKey is the key of a self-signed certificate made at
// keyFile: the P-256 key pail wrote there before, when there is one, so
// that a certificate made again for new names keeps its key and the
// DANE-EE TLSA record published for it (RFC 7671 §5.1: it names the
// key, not the certificate) stays true; else a new one.
func selfSignedKey(keyFile string) (*ecdsa.PrivateKey, error) {
	if b, err := os.ReadFile(keyFile); err == nil {
		if block, _ := pem.Decode(b); block != nil && block.Type == "EC PRIVATE KEY" {
			if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil && k.Curve == elliptic.P256() {
				return k, nil
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls: generate key: %w", err)
	}
	return key, nil
}

// writeSelfSigned makes a self-signed certificate for names in
// certFile, with its key (selfSignedKey) in keyFile.
func writeSelfSigned(dir, certFile, keyFile string, names []string) error {
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	key, err := selfSignedKey(keyFile)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("tls: serial: %w", err)
	}
	dns, ips := subjectNames(names)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: dns[0], Organization: []string{selfSignedOrg}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(selfSignedLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tls: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	// The key first: a certificate without its key would stop start-up.
	if err := safeio.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := safeio.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}
