//go:build interop

package interop

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/dane"
	"pail/internal/testnet"
)

// TestDNSSECHarness checks the DNSSEC harness the DANE tests stand on,
// and internal/dane against a real TLS server with the records a real
// validating resolver returns: NSD serves zones signed by ldns-signzone,
// unbound validates them from their trust anchors. A signed zone's TLSA
// records come with AD and authenticate the server's certificate (a
// record for another certificate does not); a zone changed after signing
// or served without its signatures is SERVFAIL; an unsigned zone without
// a trust anchor answers without AD. A DANE-TA record for a CA
// authenticates the certificate it issued for the MX host only.
func TestDNSSECHarness(t *testing.T) {
	dir := t.TempDir()
	cert := newDANECert(t, dir, "mx.dane.test")
	other := newDANECert(t, dir, "mx.dane.test")

	// The "MX": a TLS listener on loopback with the test's certificate.
	ln, err := tls.Listen("tcp", testnet.Addr(t), &tls.Config{Certificates: []tls.Certificate{cert.tls}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveHandshakes(ln)
	_, portText, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portText)

	// A second one whose certificate a CA issued, for DANE-TA.
	ca := newDANECA(t, dir, "DANE test CA")
	issued := newDANECertFrom(t, dir, ca, "mx3.dane.test")
	lnTA, err := tls.Listen("tcp", testnet.Addr(t), &tls.Config{Certificates: []tls.Certificate{issued.tls}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lnTA.Close() })
	go serveHandshakes(lnTA)
	_, portTA, _ := net.SplitHostPort(lnTA.Addr().String())

	good := tlsaRData(t, dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, cert.leaf)
	signed := daneZone("dane.test", port, zoneSigned, good)
	// A second MX name in the signed zone whose record names another key.
	signed.records = append(signed.records, "mx2 IN A 127.0.0.1",
		"_"+portText+"._tcp.mx2 IN TLSA "+tlsaRData(t, dane.UsageDANEEE, dane.SelectorCert, dane.MatchSHA512, other.leaf),
		"mx3 IN A 127.0.0.1",
		"_"+portTA+"._tcp.mx3 IN TLSA "+tlsaRData(t, dane.UsageDANETA, dane.SelectorSPKI, dane.MatchSHA256, ca.leaf))
	d := startDNSSEC(t,
		signed,
		daneZone("bogus.test", port, zoneBogus, good),
		daneZone("stripped.test", port, zoneStripped, good),
		daneZone("plain.test", port, zoneInsecure, good),
	)

	tlsaName, err := dane.QueryName(port, "mx.dane.test")
	if err != nil {
		t.Fatal(err)
	}
	// Signed and trusted: every answer authenticated.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"dane.test", dns.TypeMX}, {"mx.dane.test", dns.TypeA}, {tlsaName, dns.TypeTLSA}} {
		r := d.query(q.name, q.qtype)
		if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || len(r.Answer) == 0 {
			t.Errorf("%s %s: rcode %s, AD %v, %d answers; want NOERROR with AD\n%v",
				q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(r.Answer), r)
		}
	}
	r := d.query(tlsaName, dns.TypeTLSA)
	rrs := tlsaOf(r)
	if len(rrs) != 1 {
		t.Fatalf("TLSA %s: %d records, want 1\n%v", tlsaName, len(rrs), r)
	}

	// Tampered after signing, and stripped of its signatures: bogus.
	for _, host := range []string{"mx.bogus.test", "mx.stripped.test"} {
		name, _ := dane.QueryName(port, host)
		r := d.query(name, dns.TypeTLSA)
		if r.Rcode != dns.RcodeServerFailure || r.AuthenticatedData {
			t.Errorf("%s TLSA: rcode %s, AD %v; want SERVFAIL without AD\n%v", name, dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
		}
		// With CD the data comes through, unvalidated: it was the
		// signature that failed, not the lookup.
		if r := dnsQuery(t, d.resolver, name, dns.TypeTLSA, true); r.Rcode != dns.RcodeSuccess || len(tlsaOf(r)) != 1 || r.AuthenticatedData {
			t.Errorf("%s TLSA with CD: rcode %s, AD %v, %d TLSA; want NOERROR, no AD, 1 TLSA", name, dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(tlsaOf(r)))
		}
	}
	// Unsigned, no trust anchor: answered, not authenticated.
	plainName, _ := dane.QueryName(port, "mx.plain.test")
	if r := d.query(plainName, dns.TypeTLSA); r.Rcode != dns.RcodeSuccess || r.AuthenticatedData || len(tlsaOf(r)) != 1 {
		t.Errorf("%s TLSA: rcode %s, AD %v, %d TLSA; want NOERROR without AD, 1 TLSA", plainName, dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(tlsaOf(r)))
	}

	// The authenticated records authenticate the real server, through
	// Verify on the handshake's chain and through ClientConfig.
	state := handshake(t, ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: "mx.dane.test"})
	if err := dane.Verify(rrs, state.PeerCertificates, []string{"mx.dane.test"}, time.Now()); err != nil {
		t.Errorf("Verify with unbound's TLSA records: %v", err)
	}
	if _, err := dialTLS(ln.Addr().String(), dane.ClientConfig(rrs, "mx.dane.test", nil)); err != nil {
		t.Errorf("handshake with dane.ClientConfig: %v", err)
	}

	// The record published for another certificate, just as authentic,
	// does not.
	name2, _ := dane.QueryName(port, "mx2.dane.test")
	r2 := d.query(name2, dns.TypeTLSA)
	if !r2.AuthenticatedData || len(tlsaOf(r2)) != 1 {
		t.Fatalf("%s TLSA: AD %v, %d records\n%v", name2, r2.AuthenticatedData, len(tlsaOf(r2)), r2)
	}
	err = dane.Verify(tlsaOf(r2), state.PeerCertificates, []string{"mx2.dane.test"}, time.Now())
	if !errors.Is(err, dane.ErrNoMatch) || dane.ResultType(err) != dane.ResultValidationFailure {
		t.Errorf("Verify with another certificate's record = %v (%s), want ErrNoMatch", err, dane.ResultType(err))
	}
	if _, err := dialTLS(ln.Addr().String(), dane.ClientConfig(tlsaOf(r2), "mx2.dane.test", nil)); !errors.Is(err, dane.ErrNoMatch) {
		t.Errorf("handshake with another certificate's record = %v, want ErrNoMatch", err)
	}

	// DANE-TA: the CA's record authenticates the certificate it issued
	// for the MX host, and not for another name.
	p3, _ := strconv.Atoi(portTA)
	name3, _ := dane.QueryName(p3, "mx3.dane.test")
	r3 := d.query(name3, dns.TypeTLSA)
	if !r3.AuthenticatedData || len(tlsaOf(r3)) != 1 {
		t.Fatalf("%s TLSA: AD %v, %d records\n%v", name3, r3.AuthenticatedData, len(tlsaOf(r3)), r3)
	}
	if _, err := dialTLS(lnTA.Addr().String(), dane.ClientConfig(tlsaOf(r3), "mx3.dane.test", nil)); err != nil {
		t.Errorf("DANE-TA handshake: %v", err)
	}
	_, err = dialTLS(lnTA.Addr().String(), dane.ClientConfig(tlsaOf(r3), "mx4.dane.test", nil))
	if !errors.Is(err, dane.ErrHostMismatch) || dane.ResultType(err) != dane.ResultHostMismatch {
		t.Errorf("DANE-TA handshake for another MX name = %v, want ErrHostMismatch", err)
	}
}

// serveHandshakes completes the TLS handshake of every connection to ln
// and closes it, until ln is closed.
func serveHandshakes(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(peerTimeout))
			c.(*tls.Conn).Handshake()
		}()
	}
}

// handshake connects to addr with cfg and returns the session's state.
func handshake(t *testing.T, addr string, cfg *tls.Config) tls.ConnectionState {
	t.Helper()
	st, err := dialTLS(addr, cfg)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	return st
}

// dialTLS connects to addr with cfg, completes the handshake and closes.
func dialTLS(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}
