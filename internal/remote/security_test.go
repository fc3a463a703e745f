package remote

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pail/internal/dane"
	"pail/internal/mtasts"
	"pail/internal/resolve"
	"pail/internal/testpki"
	"pail/internal/tlsrpt"
)

// outcomes collects what the client reports for TLS-RPT.
type outcomes struct {
	mu  sync.Mutex
	got []tlsrpt.Outcome
}

func (o *outcomes) Record(_ context.Context, x tlsrpt.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, x)
}

func (o *outcomes) all() []tlsrpt.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]tlsrpt.Outcome(nil), o.got...)
}

// wantOutcome checks that the only outcome reported is of policy type pt
// with the failure want ("" for success).
func (o *outcomes) want(t *testing.T, pt tlsrpt.PolicyType, want tlsrpt.ResultType) {
	t.Helper()
	got := o.all()
	if len(got) != 1 || got[0].PolicyType != pt || got[0].Success != (want == "") || (want != "" && got[0].Failure != want) {
		t.Errorf("TLS-RPT outcomes %+v, want one %s with failure %q", got, pt, want)
		return
	}
	if got[0].PolicyDomain != "hill.test" || (got[0].MXHost != "" && got[0].MXHost != "mx.hill.test") {
		t.Errorf("outcome %+v", got[0])
	}
}

// secureMX is a signed-zone world: hill.test's MX is mx.hill.test at
// 127.0.0.1, whose TLSA records are tlsa, and the resolver sets AD.
func secureMX(t *testing.T, p *peer, ad bool, tlsa ...string) (Config, *outcomes) {
	t.Helper()
	recs := append([]string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 127.0.0.1",
	}, tlsa...)
	d := startDNS(t, recs, "_1._tcp.mx.hill.test.")
	d.Authenticated.Store(ad)
	cfg := mxConfig(t, d, peerPort(t, p))
	o := &outcomes{}
	cfg.Reports = o
	return cfg, o
}

func tlsaFor(t *testing.T, p *peer, cert tls.Certificate) string {
	t.Helper()
	name, _ := dane.QueryName(atoi(t, peerPort(t, p)), "mx.hill.test")
	rr, err := dane.NewTLSA(name, dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, cert.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	return rr.String()
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tlsPeer(t *testing.T, cert tls.Certificate) *peer {
	return startPeer(t, peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
}

// DANE-EE: the certificate matches the authenticated TLSA record: TLS,
// delivered, reported as a tlsa success.
func TestDANEMatch(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Leaf(t, "not-the-mx.example") // DANE-EE ignores names
	p := tlsPeer(t, cert)
	cfg, o := secureMX(t, p, true, tlsaFor(t, p, cert))
	wantStatus(t, deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test")), Delivered)
	if m := p.messages(); len(m) != 1 || !m[0].tls {
		t.Fatalf("messages %+v: want one over TLS", m)
	}
	o.want(t, tlsrpt.PolicyTLSA, "")
}

// A certificate the TLSA records do not match: deferred, and never
// retried in the clear.
func TestDANEMismatchDefers(t *testing.T) {
	ca := testpki.NewCA(t)
	p := tlsPeer(t, ca.Leaf(t, "mx.hill.test"))
	cfg, o := secureMX(t, p, true, tlsaFor(t, p, ca.Leaf(t, "mx.hill.test")))
	res := deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if res[0].Reply.Enhanced != "4.7.5" || !strings.Contains(res[0].Reply.Text, "DANE") {
		t.Errorf("reply %+v", res[0].Reply)
	}
	if len(p.messages()) != 0 || p.sessions() != 1 {
		t.Errorf("%d messages over %d sessions: a DANE failure must not fall back to the clear", len(p.messages()), p.sessions())
	}
	o.want(t, tlsrpt.PolicyTLSA, tlsrpt.ResultValidationFailure)
}

// Authenticated TLSA records and no STARTTLS: deferred (RFC 7672 §2.2).
func TestDANEWithoutSTARTTLSDefers(t *testing.T) {
	ca := testpki.NewCA(t)
	p := startPeer(t, peerOptions{noTLS: true})
	cfg, o := secureMX(t, p, true, tlsaFor(t, p, ca.Leaf(t, "mx.hill.test")))
	res := deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if res[0].Reply.Enhanced != "4.7.4" || len(p.messages()) != 0 {
		t.Errorf("reply %+v, %d messages", res[0].Reply, len(p.messages()))
	}
	o.want(t, tlsrpt.PolicyTLSA, tlsrpt.ResultSTARTTLSNotSupported)
}

// TLSA records the resolver did not authenticate are not used: the
// delivery is opportunistic.
func TestDANEUnauthenticatedIgnored(t *testing.T) {
	ca := testpki.NewCA(t)
	p := tlsPeer(t, ca.Leaf(t, "mx.hill.test"))
	cfg, o := secureMX(t, p, false, tlsaFor(t, p, ca.Leaf(t, "mx.hill.test")))
	wantStatus(t, deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test")), Delivered)
	o.want(t, tlsrpt.PolicyNone, "")
}

// TLSA records of a host in a signed zone that cannot be learnt: the
// host is not used.
func TestDANELookupFailureDefers(t *testing.T) {
	p := startPeer(t, peerOptions{})
	recs := []string{"hill.test. 300 IN MX 10 mx.hill.test.", "mx.hill.test. 300 IN A 127.0.0.1"}
	name, _ := dane.QueryName(atoi(t, peerPort(t, p)), "mx.hill.test")
	d := startDNS(t, recs, name)
	d.Authenticated.Store(true)
	cfg := mxConfig(t, d, peerPort(t, p))
	o := &outcomes{}
	cfg.Reports = o
	res := deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if p.sessions() != 0 || !strings.Contains(res[0].Reply.Text, "TLSA") {
		t.Errorf("reply %+v after %d sessions", res[0].Reply, p.sessions())
	}
	o.want(t, tlsrpt.PolicyTLSA, tlsrpt.ResultDNSSECInvalid)
}

// stsWorld serves hill.test's MTA-STS policy from a real HTTPS server
// whose certificate (for mta-sts.hill.test) ca issued, and returns a
// client configuration using it.
func stsWorld(t *testing.T, ca *testpki.CA, p *peer, policy string) (Config, *outcomes) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "mta-sts.hill.test" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(policy))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "mta-sts.hill.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	d := startDNS(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 127.0.0.1",
		"_mta-sts.hill.test. 300 IN TXT \"v=STSv1; id=20261207;\"",
	})
	r := resolve.New(d.Addr, 0)
	addr := srv.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, network, addr) // mta-sts.hill.test is here
		},
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
	}}
	f, err := mtasts.New(mtasts.Config{Resolver: r, IsNotFound: resolve.IsNotFound, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	cfg := mxConfig(t, d, peerPort(t, p))
	cfg.STS, cfg.RootCAs = f, ca.Pool
	o := &outcomes{}
	cfg.Reports = o
	return cfg, o
}

const enforce = "version: STSv1\r\nmode: enforce\r\nmx: mx.hill.test\r\nmax_age: 86400\r\n"

func TestSTSEnforceValidCertificate(t *testing.T) {
	ca := testpki.NewCA(t)
	p := tlsPeer(t, ca.Leaf(t, "mx.hill.test"))
	cfg, o := stsWorld(t, ca, p, enforce)
	wantStatus(t, deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test")), Delivered)
	if m := p.messages(); len(m) != 1 || !m[0].tls {
		t.Fatalf("messages %+v", m)
	}
	o.want(t, tlsrpt.PolicySTS, "")
	if got := o.all()[0].PolicyStrings; len(got) != 4 || got[1] != "mode: enforce" {
		t.Errorf("policy strings %q", got)
	}
}

func TestSTSEnforceDefers(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t)
	for _, c := range []struct {
		name    string
		peer    peerOptions
		policy  string
		enh     string
		failure tlsrpt.ResultType
	}{
		{"certificate for another name", peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "mx.elsewhere.test")}}}, enforce, "4.7.5", tlsrpt.ResultCertificateHostMismatch},
		{"certificate of an unknown CA", peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{other.Leaf(t, "mx.hill.test")}}}, enforce, "4.7.5", tlsrpt.ResultCertificateNotTrusted},
		{"no STARTTLS", peerOptions{noTLS: true}, enforce, "4.7.4", tlsrpt.ResultSTARTTLSNotSupported},
		{"MX not in the policy", peerOptions{}, strings.Replace(enforce, "mx: mx.hill.test", "mx: *.elsewhere.test", 1), "4.7.5", tlsrpt.ResultValidationFailure},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startPeer(t, c.peer)
			cfg, o := stsWorld(t, ca, p, c.policy)
			res := deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test"))
			wantStatus(t, res, Deferred)
			if res[0].Reply.Enhanced != c.enh || len(p.messages()) != 0 {
				t.Errorf("reply %+v, %d messages: want %s and nothing sent", res[0].Reply, len(p.messages()), c.enh)
			}
			if p.sessions() > 1 {
				t.Errorf("%d sessions: an enforced policy must not fall back to the clear", p.sessions())
			}
			o.want(t, tlsrpt.PolicySTS, c.failure)
		})
	}
}

// A testing policy: the failure is reported, the mail delivered.
func TestSTSTestingReports(t *testing.T) {
	ca := testpki.NewCA(t)
	p := tlsPeer(t, ca.Leaf(t, "mx.elsewhere.test"))
	cfg, o := stsWorld(t, ca, p, strings.Replace(enforce, "enforce", "testing", 1))
	wantStatus(t, deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test")), Delivered)
	o.want(t, tlsrpt.PolicySTS, tlsrpt.ResultCertificateHostMismatch)
}
