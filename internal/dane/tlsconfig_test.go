package dane

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// handshakeTimeout bounds one test handshake on loopback.
const handshakeTimeout = 10 * time.Second

// tlsServer listens on 127.0.0.1:0 with the leaf and its chain and
// reports the SNI of each handshake on the returned channel.
func tlsServer(t *testing.T, p pki, maxVersion uint16) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sni := make(chan string, 8)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{p.leaf.cert.Raw, p.inter.cert.Raw},
			PrivateKey:  p.leaf.key,
		}},
		MaxVersion: maxVersion,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			sni <- hello.ServerName
			return nil, nil
		},
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(handshakeTimeout))
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					tc.Write([]byte("x"))
				}
			}()
		}
	}()
	return ln.Addr().String(), sni
}

// dialDANE makes a TLS connection to addr with ClientConfig.
func dialDANE(t *testing.T, addr string, rrs []*dns.TLSA, mxHost string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	d := tls.Dialer{Config: ClientConfig(rrs, mxHost, nil)}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

// The configuration verifies the real handshake's chain with the TLSA
// records, sends the MX host as SNI and refuses TLS before 1.2.
func TestClientConfigHandshake(t *testing.T) {
	// The chain is valid now (the handshake checks at time.Now()).
	root := makeCert(t, certSpec{cn: "Root", ca: true, notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)}, nil)
	inter := makeCert(t, certSpec{cn: "Inter", ca: true, notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)}, root)
	leaf := makeCert(t, certSpec{cn: "mx", names: []string{"mx.example.org"}, notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)}, inter)
	p := pki{root, inter, leaf}
	other := newPKI(t, []string{"mx.example.org"}, time.Time{}, time.Time{})
	addr, sni := tlsServer(t, p, 0)

	pass := map[string][]*dns.TLSA{
		"DANE-EE": {tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, p.leaf)},
		"DANE-TA": {tlsaFor(t, UsageDANETA, SelectorCert, MatchSHA256, p.inter)},
	}
	for name, rrs := range pass {
		if err := dialDANE(t, addr, rrs, "MX.example.org."); err != nil {
			t.Errorf("%s: handshake: %v", name, err)
		}
		if got := <-sni; got != "mx.example.org" {
			t.Errorf("%s: SNI %q, want mx.example.org", name, got)
		}
	}

	err := dialDANE(t, addr, []*dns.TLSA{tlsaFor(t, UsageDANEEE, SelectorSPKI, MatchSHA256, other.leaf)}, "mx.example.org")
	if !errors.Is(err, ErrNoMatch) {
		t.Errorf("handshake with a record for another key = %v, want ErrNoMatch", err)
	}
	<-sni
	err = dialDANE(t, addr, pass["DANE-TA"], "mx.example.net")
	if !errors.Is(err, ErrHostMismatch) {
		t.Errorf("DANE-TA handshake naming another MX = %v, want ErrHostMismatch", err)
	}
	<-sni

	old, _ := tlsServer(t, p, tls.VersionTLS11)
	if err := dialDANE(t, old, pass["DANE-EE"], "mx.example.org"); err == nil {
		t.Error("handshake with a TLS 1.1 server succeeded")
	}
}
