//go:build interop

package interop

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// TestDANEDelivery (issue 13 item 4): hill.test's zone is signed with
// ldns-signzone, served by NSD and validated by unbound, which is town's
// resolver. Hill is a pail whose STARTTLS certificate the zone's TLSA
// record names. Town delivers when the record matches; when it names
// another certificate, or the signatures are broken (SERVFAIL), the
// message is deferred and nothing reaches hill, not even in the clear.
func TestDANEDelivery(t *testing.T) {
	for _, c := range []struct {
		name    string
		mode    zoneMode
		other   bool // the TLSA record names another certificate
		deliver bool
		reply   string
	}{
		{"match", zoneSigned, false, true, ""},
		{"mismatch", zoneSigned, true, false, "4.7.5"},
		{"bogus", zoneBogus, false, false, "4.7.5"},
		{"insecure zone, mismatch ignored", zoneInsecure, true, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			townSMTP, hillSMTP := testnet.Addr(t), testnet.Addr(t)
			_, townPort, _ := net.SplitHostPort(townSMTP)
			_, hillPort, _ := net.SplitHostPort(hillSMTP)
			port, _ := strconv.Atoi(hillPort)
			dir := t.TempDir()
			cert := newDANECert(t, dir, "mx.hill.test")
			named := cert
			if c.other {
				named = newDANECert(t, dir, "mx.hill.test")
			}
			dns := startDNSSEC(t, daneZone("hill.test", port, c.mode, tlsaRData(t, 3, 1, 1, named.leaf)))
			town := newMailServer(t, "mx.town.test", "town.test", townSMTP, "", dns.resolver, hillPort)
			hill := newMailServer(t, "mx.hill.test", "hill.test", hillSMTP, "", dns.resolver, townPort)
			appendConfig(t, hill, fmt.Sprintf("\n[tls]\ncert = %q\nkey = %q\n", cert.certFile, cert.keyFile))
			hill.addUser("bob@hill.test")
			town.start()
			hill.start()
			town.pail("From: alice@town.test\r\nTo: bob@hill.test\r\nSubject: dane "+c.name+"\r\n\r\nHi.\r\n",
				[]string{"sendmail"}, "-f", "alice@town.test", "bob@hill.test")
			if c.deliver {
				m := waitForMessage(t, hill, town, "bob@hill.test", "dane "+c.name)
				if r := strings.Join(m.headers("Received"), "\n"); !strings.Contains(r, "ESMTPS") {
					t.Errorf("delivered without TLS:\n%s", r)
				}
				return
			}
			list := waitQueueReply(t, town, c.reply)
			t.Logf("town queue:\n%s", list)
			if !strings.Contains(list, "mx.hill.test") {
				t.Errorf("queue:\n%s", list)
			}
			if msgs := hill.export("bob@hill.test"); len(msgs) != 0 {
				t.Errorf("hill got %d messages despite DANE failing", len(msgs))
			}
		})
	}
}

// appendConfig adds text at the end of s's configuration file.
func appendConfig(t *testing.T, s *server, text string) {
	t.Helper()
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// waitQueueReply waits until `pail queue list` on s shows a reply with
// the enhanced code enh, and returns the listing.
func waitQueueReply(t *testing.T, s *server, enh string) string {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		list := string(s.pail("", []string{"queue", "list"}))
		if strings.Contains(list, enh) {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s reply in the queue:\n%s", enh, list)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
