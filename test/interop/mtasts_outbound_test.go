//go:build interop

package interop

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/resolve/resolvetest"
	"pail/internal/testnet"
	"pail/internal/testpki"
)

// TestMTASTSEnforce (issue 13 item 3, both sides): hill is a pail with a
// certificate for mx.hill.test and mta-sts.hill.test issued by a CA that
// town trusts (SSL_CERT_FILE); hill serves its enforce policy on
// https://mta-sts.hill.test (port 443 on a loopback address of its own,
// as senders fetch it from 443 only), and town finds the _mta-sts record
// that `pail dns-records` prints. Town delivers to the MX the policy
// names over verified TLS; an MX the policy does not name, or one without
// STARTTLS, gets nothing and the message waits. Town's TLS-RPT counts
// show each outcome.
func TestMTASTSEnforce(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", ca.Cert.Raw)
	leaf := ca.Leaf(t, "mx.hill.test", "mta-sts.hill.test")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", leaf.Certificate...)
	writeKey(t, keyFile, leaf)

	// A loopback address of hill's own for port 443 (binding it needs
	// root, as CI runs).
	httpsIP := fmt.Sprintf("127.0.%d.%d", 1+os.Getpid()%200, 2+os.Getpid()%250)
	httpsAddr := net.JoinHostPort(httpsIP, "443")

	hillSMTP := testnet.Addr(t)
	_, hillPort, _ := net.SplitHostPort(hillSMTP)
	hill := newMailServer(t, "mx.hill.test", "hill.test", hillSMTP, "", "127.0.0.1:1", "25")
	text, err := os.ReadFile(hill.config)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(text), "[listen]\n", fmt.Sprintf("[listen]\nhttps = %q\n", httpsAddr), 1)
	conf += fmt.Sprintf("\n[tls]\ncert = %q\nkey = %q\n", certFile, keyFile)
	if err := os.WriteFile(hill.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	hill.addUser("bob@hill.test")
	hill.start()
	waitTCP(t, httpsAddr)

	// The records hill asks for, as pail dns-records prints them.
	var stsTXT string
	for _, line := range strings.Split(string(hill.pail("", []string{"dns-records", "hill.test"})), "\n") {
		if rr, err := dns.NewRR(line); err == nil && rr != nil && rr.Header().Name == "_mta-sts.hill.test." {
			stsTXT = line
		}
	}
	if !strings.Contains(stsTXT, "v=STSv1; id=") {
		t.Fatalf("pail dns-records prints no _mta-sts record")
	}

	for _, c := range []struct {
		name    string
		mx      string // the MX host DNS names
		plain   bool   // the MX host offers no STARTTLS
		deliver bool
		counted string // a line of town's pail tlsrpt show, spaces collapsed
	}{
		{"matching MX, valid certificate", "mx.hill.test", false, true, "hill.test sts 1 0"},
		{"MX not in the policy", "mx2.hill.test", false, false, "hill.test sts 0 validation-failure=1"},
		{"MX without STARTTLS", "mx.hill.test", true, false, "hill.test sts 0 starttls-not-supported=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := hillPort
			if c.plain {
				sink, _ := startSink(t) // go-smtp without a TLS configuration
				_, port, _ = net.SplitHostPort(sink)
			}
			d := resolvetest.Start(t, []string{
				"hill.test. 300 IN MX 10 " + c.mx + ".",
				c.mx + ". 300 IN A 127.0.0.1",
				"mta-sts.hill.test. 300 IN A " + httpsIP,
				stsTXT,
			})
			town := newMailServer(t, "mx.town.test", "town.test", testnet.Addr(t), "", d.Addr, port)
			town.env = []string{"SSL_CERT_FILE=" + caFile}
			town.start()
			subject := "sts " + c.name
			town.pail("From: alice@town.test\r\nTo: bob@hill.test\r\nSubject: "+subject+"\r\n\r\nHi.\r\n",
				[]string{"sendmail"}, "-f", "alice@town.test", "bob@hill.test")
			if c.deliver {
				m := waitForMessage(t, hill, town, "bob@hill.test", subject)
				if r := strings.Join(m.headers("Received"), "\n"); !strings.Contains(r, "ESMTPS") {
					t.Errorf("delivered without TLS:\n%s", r)
				}
			} else {
				list := waitQueueReply(t, town, "MTA-STS")
				t.Logf("town queue:\n%s", list)
				if n := len(withSubject(hill.export("bob@hill.test"), subject)); n != 0 {
					t.Errorf("hill got the message despite the enforce policy")
				}
			}
			// The outcome reaches town's TLS-RPT counts (flushed every 5 s).
			deadline := time.Now().Add(15 * time.Second)
			for {
				out := string(town.pail("", []string{"tlsrpt", "show"}))
				found := false
				for _, l := range strings.Split(out, "\n") {
					found = found || strings.Join(strings.Fields(l), " ") == c.counted
				}
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pail tlsrpt show lacks %q:\n%s", c.counted, out)
				}
				time.Sleep(500 * time.Millisecond)
			}
		})
	}
}

func writePEM(t *testing.T, path, typ string, ders ...[]byte) {
	t.Helper()
	var b []byte
	for _, der := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, c tls.Certificate) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "PRIVATE KEY", der)
}

// waitTCP waits until addr accepts connections.
func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
