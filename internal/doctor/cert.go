package doctor

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"pail/internal/dnsrecords"
)

// Expiry thresholds of the certificate check. ACME renews 30 days ahead
// (acme.renew_before), so a certificate this close to its end has missed
// renewals.
const (
	// certFailWithin: a week is the last margin to fix renewal before
	// clients refuse the certificate.
	certFailWithin = 7 * 24 * time.Hour
	// certWarnWithin: three weeks means renewal is already late.
	certWarnWithin = 21 * 24 * time.Hour
)

// maxCertFileBytes bounds a certificate or key file read: a chain of a
// few certificates is a few kilobytes.
const maxCertFileBytes = 1 << 20

// certSource is where the certificate for a host comes from.
type certSource struct {
	// what names it for messages ("[tls] cert /etc/pail/cert.pem").
	what  string
	chain []*x509.Certificate
	// err says why there is none; missing that it does not exist yet.
	err     error
	missing bool
}

// certHosts are the names clients reach this host by, each of which the
// certificate must carry: the host name (MX, submission, IMAP, POP3),
// mta-sts.DOMAIN when pail serves the MTA-STS policy (RFC 8461 §3.3
// requires a valid certificate for it), and with [acme] every host it
// obtains certificates for (autoconfig.DOMAIN by default).
func (d *doctor) certHosts() []string {
	hosts := []string{strings.ToLower(d.cfg.Hostname)}
	if dnsrecords.ServesMTASTS(d.cfg) {
		for _, dom := range d.cfg.Domains {
			hosts = append(hosts, "mta-sts."+dom)
		}
	}
	if d.cfg.ACME.Enabled {
		hosts = append(hosts, d.cfg.ACMEHosts()...)
	}
	var out []string
	for _, h := range hosts {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// fallbackCert is the certificate served when ACME has none: the [tls]
// files, else pail's self-signed one in data_dir/tls (as package
// tlsconf chooses).
func (d *doctor) fallbackCert() certSource {
	if d.cfg.TLS.Cert != "" {
		s := certSource{what: "[tls] cert " + d.cfg.TLS.Cert}
		if _, err := tls.LoadX509KeyPair(d.cfg.TLS.Cert, d.cfg.TLS.Key); err != nil {
			s.err = fmt.Errorf("loading [tls] cert and key: %w", err)
			return s
		}
		s.chain, s.err = readChain(d.cfg.TLS.Cert)
		return s
	}
	path := filepath.Join(d.cfg.DataDir, "tls", "cert.pem")
	s := certSource{what: "self-signed " + path}
	s.chain, s.err = readChain(path)
	s.missing = errors.Is(s.err, fs.ErrNotExist)
	return s
}

// acmeCert is the certificate ACME holds for host in data_dir/acme
// (autocert's cache: the file named after the host holds the private
// key and the chain in PEM).
func (d *doctor) acmeCert(host string) certSource {
	path := filepath.Join(d.cfg.DataDir, "acme", host)
	s := certSource{what: "ACME " + path}
	s.chain, s.err = readChain(path)
	s.missing = errors.Is(s.err, fs.ErrNotExist)
	return s
}

// checkCertificates checks, for every host clients use, the certificate
// pail presents for it: it verifies against the system's roots for that
// name (RFC 6125), is not pail's self-signed one (which no sender or
// client verifies), and is not close to expiry.
func (d *doctor) checkCertificates() []Result {
	now := d.o.Now()
	fallback := d.fallbackCert()
	var out []Result
	for _, host := range d.certHosts() {
		src := fallback
		note := ""
		if d.cfg.ACME.Enabled {
			if a := d.acmeCert(host); a.err == nil {
				src = a
			} else if a.missing {
				note = "ACME has no certificate for it yet, so pail serves the fallback: "
			} else {
				src = a
			}
		}
		out = append(out, d.checkCert(host, src, note, now))
	}
	return out
}

// checkCert checks the certificate src for host.
func (d *doctor) checkCert(host string, src certSource, note string, now time.Time) Result {
	check := "certificate " + host
	realFix := "enable [acme] (or set [tls] cert and key to files from a CA) for " + host
	if src.err != nil {
		if src.missing {
			return Result{Check: check, Status: Warn, Detail: note + "no certificate yet (" + src.what + "); pail serve makes a self-signed one at start", Fix: realFix}
		}
		return Result{Check: check, Status: Fail, Detail: note + src.err.Error(), Fix: "replace " + src.what + " with a valid certificate and key, or " + realFix}
	}
	leaf := src.chain[0]
	left := leaf.NotAfter.Sub(now)
	expires := fmt.Sprintf("expires %s (%d days)", leaf.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24))
	renew := "renew it now"
	if d.cfg.ACME.Enabled {
		renew = "see why ACME does not renew it (pail serve's log, \"acme:\" lines)"
	}
	switch {
	case !now.Before(leaf.NotAfter):
		return Result{Check: check, Status: Fail, Detail: note + src.what + " expired on " + leaf.NotAfter.UTC().Format(time.DateOnly), Fix: renew}
	case now.Before(leaf.NotBefore):
		return Result{Check: check, Status: Fail, Detail: note + src.what + " is not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339), Fix: "check the clock, or " + realFix}
	}
	if selfSigned(leaf) {
		detail := note + src.what + " is self-signed: clients must be told to trust it, and senders verifying MTA-STS or DANE refuse it"
		if leaf.VerifyHostname(host) != nil {
			return Result{Check: check, Status: Fail, Detail: detail + "; and it does not name " + host, Fix: realFix}
		}
		return Result{Check: check, Status: Warn, Detail: detail + "; " + expires, Fix: realFix}
	}
	pool := x509.NewCertPool()
	for _, c := range src.chain[1:] {
		pool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: d.o.Roots, Intermediates: pool, CurrentTime: now})
	var he x509.HostnameError
	switch {
	case errors.As(err, &he):
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s%s does not name %s (it names %s)", note, src.what, host, strings.Join(leaf.DNSNames, ", ")), Fix: "get a certificate that names " + host + " too ([acme] hosts, or the [tls] files)"}
	case err != nil:
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s%s does not verify: %v", note, src.what, err), Fix: "serve the full chain (leaf, then intermediates) from a CA clients trust, or " + realFix}
	}
	detail := fmt.Sprintf("%s%s, issued by %s, %s", note, src.what, leaf.Issuer.CommonName, expires)
	switch {
	case left < certFailWithin:
		return Result{Check: check, Status: Fail, Detail: detail, Fix: renew}
	case left < certWarnWithin:
		return Result{Check: check, Status: Warn, Detail: detail, Fix: renew}
	case note != "":
		return Result{Check: check, Status: Warn, Detail: detail, Fix: "see why ACME has not obtained it (pail serve's log, \"acme:\" lines)"}
	}
	return Result{Check: check, Status: OK, Detail: detail}
}

// selfSigned reports whether c is issued by its own subject and signed
// by its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// readChain reads the CERTIFICATE blocks of a PEM file, leaf first;
// other blocks (a private key in autocert's cache files) are skipped.
func readChain(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCertFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxCertFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxCertFileBytes)
	}
	var chain []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return chain, nil
}
