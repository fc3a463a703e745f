//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/resolve/resolvetest"
)

// tlsrptSeedScript writes the counts of one day into a pail's tlsrpt
// database with Python's sqlite3, standing in for the SMTP client's
// Record calls (the client is wired to the recorder separately): 12
// successful sessions to hill.test under an MTA-STS policy and 2 that
// failed with an expired certificate.
const tlsrptSeedScript = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
policy = "version: STSv1\nmode: enforce\nmx: mx.hill.test\nmax_age: 86400"
cols = "day, policy_domain, policy_type, policy_strings, mx_host, result_type, sending_ip, receiving_ip, receiving_helo, additional, sessions"
db.execute("INSERT INTO counts (" + cols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
           ("2026-12-05", "hill.test", "sts", policy, "mx.hill.test", "", "", "", "", "", 12))
db.execute("INSERT INTO counts (" + cols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
           ("2026-12-05", "hill.test", "sts", policy, "mx.hill.test", "certificate-expired", "127.0.0.1", "127.0.0.2", "mx.hill.test", "", 2))
db.commit()
`

// tlsrptCheckScript reads a report mail as a receiver would, with
// Python's email, gzip and json modules, and prints what it found.
const tlsrptCheckScript = `
import email, email.policy, gzip, json, re, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert msg.get_param("report-type") == "tlsrpt", msg.get_param("report-type")
assert msg["TLS-Report-Domain"] == "hill.test", msg["TLS-Report-Domain"]
assert msg["TLS-Report-Submitter"] == "mx.ash.test", msg["TLS-Report-Submitter"]
assert re.match(r"^Report Domain: hill\.test Submitter: mx\.ash\.test Report-ID: <.+>$", msg["Subject"]), msg["Subject"]
assert msg["DKIM-Signature"] is not None, "not DKIM-signed"
parts = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
name = parts[0].get_filename()
assert re.match(r"^mx\.ash\.test!hill\.test!1796428800!1796515199![A-Za-z0-9]+\.json\.gz$", name), name
rep = json.loads(gzip.decompress(parts[0].get_payload(decode=True)))
assert rep["organization-name"] == "Ash Mail", rep
assert rep["date-range"] == {"start-datetime": "2026-12-05T00:00:00Z", "end-datetime": "2026-12-05T23:59:59Z"}, rep["date-range"]
assert rep["contact-info"] == "postmaster@ash.test", rep
p = rep["policies"][0]
assert p["policy"]["policy-type"] == "sts" and p["policy"]["policy-domain"] == "hill.test", p
assert p["policy"]["policy-string"][1] == "mode: enforce", p
assert p["summary"] == {"total-successful-session-count": 12, "total-failure-session-count": 2}, p["summary"]
fd = p["failure-details"][0]
assert fd["result-type"] == "certificate-expired" and fd["failed-session-count"] == 2 and fd["receiving-ip"] == "127.0.0.2", fd
print("report", rep["report-id"], "ok")
`

// TestTLSRPTReport runs two pail servers: ash.test, which has counts for
// hill.test and finds hill.test's _smtp._tls record (rua
// mailto:postmaster@hill.test) through a DNS server, and hill.test.
// `pail tlsrpt send` on ash.test mails the report once; hill.test's pail
// stores it (pail tlsrpt show --received) and delivers it to its
// postmaster, where Python reads the gzipped JSON and checks its fields
// against RFC 8460.
func TestTLSRPTReport(t *testing.T) {
	needPeer(t, "python3")
	d := resolvetest.Start(t, []string{`_smtp._tls.hill.test. 60 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@hill.test"`})

	hill := newServer(t, serverOptions{})
	hill.pail(passwordFor("pm@hill.test")+"\n", []string{"user", "add"}, "--password-stdin", "--admin", "pm@hill.test")
	hill.start()

	ash := newServer(t, serverOptions{})
	text, err := os.ReadFile(ash.config)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(strings.Replace(string(text), `"`+testHostname+`"`, `"mx.ash.test"`, 1), `["`+testDomain+`"]`, `["ash.test"]`, 1)
	conf += fmt.Sprintf("\n[outbound]\nresolver = %q\nroutes = { \"hill.test\" = %q }\n\n[tlsrpt]\norganization = \"Ash Mail\"\n", d.Addr, hill.smtpAddr)
	if err := os.WriteFile(ash.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ash.start()

	dir := t.TempDir()
	py := func(script string, args ...string) string {
		t.Helper()
		path := filepath.Join(dir, "script.py")
		os.WriteFile(path, []byte(script), 0o600)
		ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, "python3", append([]string{path}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("python3: %v\n%s", err, out)
		}
		return string(out)
	}
	py(tlsrptSeedScript, filepath.Join(ash.dataDir, "tlsrpt", "tlsrpt.db"))
	if out := string(ash.pail("", []string{"tlsrpt", "show"}, "--date", "2026-12-05")); !strings.Contains(out, "hill.test  sts     12         certificate-expired=2") {
		t.Errorf("tlsrpt show on ash.test:\n%s", out)
	}

	out := string(ash.pail("", []string{"tlsrpt", "send"}, "--date", "2026-12-05"))
	if !strings.Contains(out, "2026-12-05: 1 reports sent") {
		t.Fatalf("tlsrpt send:\n%s", out)
	}
	// A second run, by hand or by the daily scheduler, sends nothing.
	if out := string(ash.pail("", []string{"tlsrpt", "send"}, "--date", "2026-12-05")); !strings.Contains(out, "0 reports sent") {
		t.Errorf("second tlsrpt send:\n%s", out)
	}

	deadline := time.Now().Add(deliveryTimeout)
	var shown string
	for {
		shown = string(hill.pail("", []string{"tlsrpt", "show"}, "--received"))
		if strings.Contains(shown, "Ash Mail") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{"from Ash Mail <postmaster@ash.test>", "period 2026-12-05T00:00:00Z to 2026-12-05T23:59:59Z",
		"policy hill.test sts: 12 successful, 2 failed", "2 x certificate-expired mx=mx.hill.test helo=mx.hill.test receiving-ip=127.0.0.2 sending-ip=127.0.0.1"} {
		if !strings.Contains(shown, want) {
			t.Fatalf("pail tlsrpt show --received on hill.test lacks %q:\n%s\nash.test queue:\n%s", want, shown, ash.pail("", []string{"queue", "list"}))
		}
	}
	msgs := hill.export("pm@hill.test")
	if len(msgs) != 1 {
		t.Fatalf("postmaster of hill.test has %d messages, want the report", len(msgs))
	}
	mail := filepath.Join(dir, "report.eml")
	os.WriteFile(mail, msgs[0].Raw, 0o600)
	t.Log(strings.TrimSpace(py(tlsrptCheckScript, mail)))
	if n := strings.Count(shown, "Report "); n != 1 {
		t.Errorf("%d reports shown, want 1:\n%s", n, shown)
	}
}
