package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"pail/internal/testnet"
	"pail/internal/tlsconf"
)

// TestACMEWiring: with [acme] on and its directory not answering, `pail
// serve` starts, IMAPS and HTTPS present the self-signed certificate,
// CertsReal is false, the http listener hands ACME challenge paths to
// the ACME manager (a host not configured is refused) and the web pages
// and client autoconfiguration still answer, and Shutdown does not wait for the directory. With [tls]
// certificate files, CertsReal is true.
func TestACMEWiring(t *testing.T) {
	dir := t.TempDir()
	imaps, httpAddr, httpsAddr := testnet.Addr(t), testnet.Addr(t), testnet.Addr(t)
	// The directory accepts connections and never answers.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dead := hang.Addr().String()
	conf := fmt.Sprintf("hostname = \"mx.town.test\"\ndomains = [\"town.test\"]\ndata_dir = %q\n[listen]\nimaps = %q\nhttp = %q\nhttps = %q\n[acme]\nenabled = true\ndirectory = \"https://%s/dir\"\n",
		filepath.Join(dir, "data"), imaps, httpAddr, httpsAddr, dead)
	srv := newQuiet(t, loadConf(t, dir, conf))
	srv.Start(io.Discard)
	for _, addr := range []string{imaps, httpsAddr} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		org := c.ConnectionState().PeerCertificates[0].Subject.Organization
		c.Close()
		if len(org) != 1 || org[0] != "pail self-signed" {
			t.Errorf("%s: certificate of %v, want the self-signed one while ACME has none", addr, org)
		}
	}
	if srv.CertsReal() {
		t.Error("CertsReal with the self-signed certificate")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		host, path string
		want       int
	}{{"mx.town.test", "/login", 200}, {"other.test", "/.well-known/acme-challenge/x", 403}, {"mx.town.test", "/.well-known/acme-challenge/x", 404},
		// Client autoconfiguration behind the challenges.
		{"autoconfig.town.test", "/mail/config-v1.1.xml", 200}, {"autoconfig.other.test", "/mail/config-v1.1.xml", 404}} {
		req, _ := http.NewRequest("GET", "http://"+httpAddr+tc.path, nil)
		req.Host = tc.host
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s%s: %d, want %d", tc.host, tc.path, res.StatusCode, tc.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	srv.Shutdown(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}

	// Certificate files from the operator are real.
	certs, err := tlsconf.NewCerts("", "", filepath.Join(dir, "files"), []string{"mx.town.test"})
	if err != nil {
		t.Fatal(err)
	}
	conf = fmt.Sprintf("hostname = \"mx.town.test\"\ndomains = [\"town.test\"]\ndata_dir = %q\n[listen]\nimaps = %q\n[tls]\ncert = %q\nkey = %q\n",
		filepath.Join(dir, "data2"), testnet.Addr(t), certs.CertFile(), filepath.Join(dir, "files", "tls", "key.pem"))
	srv = newQuiet(t, loadConf(t, dir, conf))
	defer srv.Shutdown(ctx)
	if !srv.CertsReal() {
		t.Error("CertsReal false with [tls] certificate files")
	}
}
