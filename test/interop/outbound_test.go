//go:build interop

package interop

import (
	"net"
	"os"
	"strings"
	"testing"

	"pail/internal/resolve/resolvetest"
	"pail/internal/testnet"
)

// outbound.source (issue 13 item 6): town sends from 127.0.0.2, the
// address whose forward-confirmed PTR name is out.town.test, so its EHLO
// says out.town.test; hill's Received header shows both. The lookups go
// through the top-level resolver setting.
func TestOutboundSource(t *testing.T) {
	townSMTP, hillSMTP := testnet.Addr(t), testnet.Addr(t)
	_, townPort, _ := net.SplitHostPort(townSMTP)
	_, hillPort, _ := net.SplitHostPort(hillSMTP)
	dns := resolvetest.Start(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 127.0.0.1",
		"mx.town.test. 300 IN A 127.0.0.1",
		"out.town.test. 300 IN A 127.0.0.2",
		"2.0.0.127.in-addr.arpa. 300 IN PTR out.town.test.",
	})
	town := newMailServer(t, "mx.town.test", "town.test", townSMTP, "", dns.Addr, hillPort)
	hill := newMailServer(t, "mx.hill.test", "hill.test", hillSMTP, "", dns.Addr, townPort)
	f, err := os.OpenFile(town.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("source = \"127.0.0.2\"\n") // the last section is [outbound]
	f.Close()
	hill.addUser("bob@hill.test")
	town.start()
	hill.start()
	town.pail("From: alice@town.test\r\nTo: bob@hill.test\r\nSubject: from the source\r\n\r\nHi.\r\n",
		[]string{"sendmail"}, "-f", "alice@town.test", "bob@hill.test")
	m := waitForMessage(t, hill, town, "bob@hill.test", "from the source")
	var seen bool
	for _, r := range m.headers("Received") {
		r = strings.Join(strings.Fields(r), " ")
		if strings.HasPrefix(r, "from out.town.test ") && strings.Contains(r, "127.0.0.2") && strings.Contains(r, "by mx.hill.test") {
			seen = true
		}
	}
	if !seen {
		t.Errorf("hill's Received header does not show EHLO out.town.test from 127.0.0.2:\n%s", headerBlock(m))
	}
	if q := strings.Join(dns.Queries(), ","); !strings.Contains(q, "2.0.0.127.in-addr.arpa. PTR") {
		t.Errorf("the source's PTR was not looked up through the resolver: %s", q)
	}
}
