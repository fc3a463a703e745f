// Package tlsconf provides the server's TLS configuration: the certificate
// files named in the config, or a self-signed certificate created in the
// data directory on first start so that STARTTLS and implicit TLS work out
// of the box.
package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
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
	cur               atomic.Pointer[tls.Certificate]
}

// NewCerts loads the certificate files, or with both names empty the
// self-signed certificate in dataDir/tls (created if missing).
func NewCerts(certFile, keyFile, dataDir string, names []string) (*Certs, error) {
	if certFile == "" {
		dir := filepath.Join(dataDir, "tls")
		certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if _, err := os.Stat(certFile); os.IsNotExist(err) {
			if err := writeSelfSigned(dir, certFile, keyFile, names); err != nil {
				return nil, err
			}
		}
	}
	c := &Certs{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
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

func writeSelfSigned(dir, certFile, keyFile string, names []string) error {
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("tls: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"pail self-signed"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(selfSignedLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range append(names, "localhost") {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
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
