//go:build interop

package interop

import (
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"pail/internal/resolve/resolvetest"
	"pail/internal/testnet"
)

// queueKillMessages is how many messages town's queue carries to hill
// while town is killed again and again.
const queueKillMessages = 150

// TestQueueKill puts messages on town's outgoing queue, then SIGKILLs town
// at random moments while it delivers them to hill, restarting it each time.
// In the end hill has every message exactly once (the queue is
// at-least-once; hill drops a redelivery, the same data from the same
// sender to the same recipient), town's queue is empty, and both stores
// check clean.
func TestQueueKill(t *testing.T) {
	townSMTP, hillSMTP := testnet.Addr(t), testnet.Addr(t)
	_, townPort, _ := net.SplitHostPort(townSMTP)
	_, hillPort, _ := net.SplitHostPort(hillSMTP)
	dns := resolvetest.Start(t, []string{
		"hill.test. 300 IN MX 10 mx.hill.test.",
		"mx.hill.test. 300 IN A 127.0.0.1",
	})
	town := newMailServer(t, "mx.town.test", "town.test", townSMTP, "", dns.Addr, hillPort)
	hill := newMailServer(t, "mx.hill.test", "hill.test", hillSMTP, "", dns.Addr, townPort)
	hill.addUser("bob@hill.test")
	hill.start()

	// Queue the messages with town stopped: `pail sendmail` writes to
	// the data directory directly.
	for i := range queueKillMessages {
		msg := fmt.Sprintf("From: alice@town.test\nTo: bob@hill.test\nMessage-ID: <kill-%d@town.test>\nSubject: kill %d\n\n%s\n",
			i, i, strings.Repeat(fmt.Sprintf("line %d of a queued message\n", i), 40))
		town.pail(msg, []string{"sendmail"}, "-f", "alice@town.test", "bob@hill.test")
	}

	for round := range 6 {
		town.start()
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		town.kill()
		t.Logf("round %d: killed town", round)
	}
	town.start()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		out := string(town.pail("", []string{"queue", "list"}))
		if strings.Contains(out, "queue is empty") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("town's queue did not drain:\n%s", out)
		}
		town.pail("", []string{"queue", "flush"})
		time.Sleep(500 * time.Millisecond)
	}

	idRE := regexp.MustCompile(`(?m)^Message-ID: <(kill-\d+)@town\.test>`)
	count := map[string]int{}
	for _, m := range hill.export("bob@hill.test") {
		if id := idRE.FindStringSubmatch(string(m.Raw)); id != nil {
			count[id[1]]++
		}
	}
	for i := range queueKillMessages {
		if n := count[fmt.Sprintf("kill-%d", i)]; n != 1 {
			t.Errorf("message kill-%d is in bob's INBOX %d times", i, n)
		}
	}
	for _, s := range []*server{town, hill} {
		if out := string(s.pail("", []string{"check"})); !strings.Contains(out, "clean") {
			t.Errorf("pail check: %s", out)
		}
	}
	dups := strings.Count(hill.log.String(), "status=duplicate")
	t.Logf("%d messages delivered once each; hill dropped %d redeliveries", len(count), dups)
}
