//go:build interop

package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The sender domains of the DMARC report test, served by pail's own name
// server: town.example allows only 127.0.0.1 and asks for aggregate
// reports at agg@reports.example (another organisation), which agrees to
// take them (RFC 7489 §7.1); other.example asks for reports at the same
// address, which does not agree, so pail must send it none.
const (
	dmarcZoneTown = `$ORIGIN town.example.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 300
        IN NS  ns1
        IN TXT "v=spf1 ip4:127.0.0.1 -all"
ns1     IN A   127.0.0.1
_dmarc  IN TXT "v=DMARC1; p=quarantine; rua=mailto:agg@reports.example!1m"
`
	dmarcZoneOther = `$ORIGIN other.example.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 300
        IN NS  ns1
        IN TXT "v=spf1 ip4:127.0.0.1 -all"
ns1     IN A   127.0.0.1
_dmarc  IN TXT "v=DMARC1; p=none; rua=mailto:agg@reports.example"
`
	dmarcZoneReports = `$ORIGIN reports.example.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 300
        IN NS  ns1
ns1     IN A   127.0.0.1
town.example._report._dmarc IN TXT "v=DMARC1"
`
)

// dmarcCheckScript reads a report mail as a report processor would, with
// Python's email, gzip and xml.etree modules, and checks it against RFC
// 7489 §7.2.1.1 and Appendix C: `python3 script.py MAIL DAY-BEGIN
// DAY-END`. Any difference fails an assert.
const dmarcCheckScript = `
import email, email.policy, gzip, re, sys
import xml.etree.ElementTree as ET
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
begin, end = sys.argv[2], sys.argv[3]
assert msg["To"] == "agg@reports.example", msg["To"]
assert msg["From"] == "reports@hill.test", msg["From"]
assert re.match(r"^Report Domain: town\.example Submitter: mx\.hill\.test Report-ID: <.+>$", msg["Subject"]), msg["Subject"]
assert msg["DKIM-Signature"] is not None, "not DKIM-signed"
parts = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
name = parts[0].get_filename()
assert name == "mx.hill.test!town.example!%s!%s.xml.gz" % (begin, end), name
root = ET.fromstring(gzip.decompress(parts[0].get_payload(decode=True)))
assert root.tag == "feedback", root.tag
md = root.find("report_metadata")
assert md.findtext("org_name") == "Hill Mail", md.findtext("org_name")
assert md.findtext("email") == "dmarc-admin@hill.test", md.findtext("email")
assert md.findtext("report_id"), "no report_id"
assert md.findtext("date_range/begin") == begin and md.findtext("date_range/end") == end, ET.tostring(md)
pp = root.find("policy_published")
got = {k: pp.findtext(k) for k in ("domain", "p", "pct", "adkim", "aspf")}
assert got == {"domain": "town.example", "p": "quarantine", "pct": "100", "adkim": "r", "aspf": "r"}, got
rows = {}
for rec in root.findall("record"):
    row = rec.find("row")
    ip = row.findtext("source_ip")
    assert ip not in rows, "two records for " + ip
    spf = [(s.findtext("domain"), s.findtext("result")) for s in rec.findall("auth_results/spf")]
    rows[ip] = (int(row.findtext("count")), row.findtext("policy_evaluated/disposition"),
                row.findtext("policy_evaluated/dkim"), row.findtext("policy_evaluated/spf"),
                rec.findtext("identifiers/header_from"), rec.findtext("identifiers/envelope_from"), spf,
                len(rec.findall("auth_results/dkim")))
want = {
    "127.0.0.1": (2, "none", "fail", "pass", "town.example", "town.example", [("town.example", "pass")], 0),
    "127.0.0.2": (1, "quarantine", "fail", "fail", "town.example", "town.example", [("town.example", "fail")], 0),
}
assert rows == want, rows
print("report", md.findtext("report_id"), "ok:", len(rows), "records")
`

// googleReportScript mails the aggregate report in the file argv[2] to
// postmaster@hill.test as Google does: a one-part message, the XML
// gzipped as an application/gzip attachment named
// org!domain!begin!end.xml.gz, base64. `python3 script.py PORT XMLFILE`.
const googleReportScript = `
import email.message, gzip, smtplib, sys
port, xml = int(sys.argv[1]), open(sys.argv[2], "rb").read()
m = email.message.EmailMessage()
m["From"] = "noreply-dmarc-support@google.com"
m["To"] = "postmaster@hill.test"
m["Subject"] = "Report domain: hill.test Submitter: google.com Report-ID: 4823175309856127734"
m["Message-ID"] = "<4823175309856127734@google.com>"
m.add_attachment(gzip.compress(xml), maintype="application", subtype="gzip",
                 filename="google.com!hill.test!1796515200!1796601599.xml.gz")
s = smtplib.SMTP("127.0.0.1", port, local_hostname="mail-sor-f41.google.com", timeout=20)
assert s.send_message(m, "noreply-dmarc-support@google.com", ["postmaster@hill.test"]) == {}
s.quit()
`

// TestDMARCReports runs pail as the MX of hill.test with the inbound
// checks on and [dmarc] reports set, its resolver a `pail dns` serving
// the sender domains above. Swaks sends mail from town.example from an
// address its SPF allows (DMARC pass, delivered) and from one it does not
// (DMARC fail, quarantined); `pail dmarc show` counts them, `pail dmarc
// send-reports` mails the day's aggregate report to the rua, which the
// queue delivers to a capturing SMTP server on loopback, and Python reads
// the gzipped XML with xml.etree and checks every record against what
// was sent. other.example's rua did not agree to take reports (§7.1):
// nothing is sent there. A report in Google's format mailed to
// postmaster@hill.test shows up in `pail dmarc show --received` and is
// delivered as well.
func TestDMARCReports(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("interop peer %s is missing (%v); run scripts/install-deps.sh", debianPython, err)
	}
	dir := t.TempDir()
	var zoneArgs []string
	for name, text := range map[string]string{"town.example": dmarcZoneTown, "other.example": dmarcZoneOther, "reports.example": dmarcZoneReports} {
		path := filepath.Join(dir, name+".zone")
		writeHarnessFile(t, path, []byte(text), 0o600)
		zoneArgs = append(zoneArgs, "--zone", path)
	}
	d := startPailDNS(t, zoneArgs...)
	sinkAddr, got := startSink(t)

	s := newServer(t, serverOptions{inbound: []string{"checks = true"}})
	appendConfig(t, s, fmt.Sprintf("\n[outbound]\nresolver = %q\nroutes = { \"reports.example\" = %q }\n"+
		"\n[dmarc]\nreports = true\norganization = \"Hill Mail\"\ncontact = \"dmarc-admin@hill.test\"\nfrom = \"reports@hill.test\"\n",
		d.addr, sinkAddr))
	s.addUser("jill@hill.test")
	s.addUser("reports@hill.test")
	s.start()

	mx := func(ip, from, subject string) {
		t.Helper()
		runSwaks(t, s.smtpAddr, "--local-interface", ip, "--from", from, "--to", "jill@hill.test",
			"--header", "From: <"+from+">", "--header", "Subject: "+subject)
	}
	mx("127.0.0.1", "ann@town.example", "town pass 1")
	mx("127.0.0.1", "ann@town.example", "town pass 2")
	mx("127.0.0.2", "ann@town.example", "town fail")
	mx("127.0.0.1", "bob@other.example", "other pass")
	if n := len(withSubject(s.exportFolder("jill@hill.test", "Junk"), "town fail")); n != 1 {
		t.Fatalf("the DMARC failure is %d times in Junk, want 1 (p=quarantine)", n)
	}

	// The server writes its counts every few seconds; `dmarc show` reads
	// them from the database.
	day := time.Now().UTC().Format(time.DateOnly)
	wantRows := []string{`(?m)^town\.example +127\.0\.0\.1 +town\.example +2 +none +fail +pass$`,
		`(?m)^town\.example +127\.0\.0\.2 +town\.example +1 +quarantine +fail +fail$`,
		`(?m)^other\.example +127\.0\.0\.1 +other\.example +1 +none +fail +pass$`}
	var shown string
	for deadline := time.Now().Add(deliveryTimeout); ; time.Sleep(250 * time.Millisecond) {
		shown = string(s.pail("", []string{"dmarc", "show"}, "--day", day))
		if matchAll(shown, wantRows) || time.Now().After(deadline) {
			break
		}
	}
	if !matchAll(shown, wantRows) {
		t.Fatalf("pail dmarc show --day %s, want rows %q:\n%s", day, wantRows, shown)
	}

	// One report sent (town.example), one given up (other.example: §7.1),
	// which makes the command fail.
	out, err := pailMayFail(s, []string{"dmarc", "send-reports"}, "--day", day)
	if err == nil || !strings.Contains(out, day+": 1 reports sent, 0 failed (to be retried), 1 given up") {
		t.Fatalf("dmarc send-reports (err %v):\n%s", err, out)
	}
	if !strings.Contains(out, "reports.example takes no reports for other.example") {
		t.Errorf("dmarc send-reports does not say why other.example's report was not sent:\n%s", out)
	}
	var report []byte
	select {
	case report = <-got:
	case <-time.After(deliveryTimeout):
		t.Fatalf("no report reached the sink; queue:\n%s", s.pail("", []string{"queue", "list"}))
	}
	start, _ := time.Parse(time.DateOnly, day)
	mail := filepath.Join(dir, "report.eml")
	writeHarnessFile(t, mail, report, 0o600)
	t.Log(strings.TrimSpace(runPython(t, dmarcCheckScript, mail, fmt.Sprint(start.Unix()), fmt.Sprint(start.Unix()+86399))))

	// A second run, by hand or by the daily scheduler, sends nothing.
	if out, _ := pailMayFail(s, []string{"dmarc", "send-reports"}, "--day", day); !strings.Contains(out, "0 reports sent") {
		t.Errorf("second dmarc send-reports:\n%s", out)
	}
	select {
	case m := <-got:
		t.Errorf("a second report reached the sink:\n%s", clip(m, 2000))
	case <-time.After(2 * time.Second):
	}

	// A report in Google's format, received.
	_, port, _ := net.SplitHostPort(s.smtpAddr)
	runPython(t, googleReportScript, port, filepath.Join("..", "..", "internal", "dmarcrpt", "testdata", "google.xml"))
	wantReceived := []string{`Report 4823175309856127734 from google.com <noreply-dmarc-support@google.com>`,
		`period 2026-12-06T00:00:00Z to 2026-12-06T23:59:59Z`,
		`policy hill.test: p=reject sp=reject pct=100 adkim=r aspf=r`,
		`15 messages in 2 records`}
	for deadline := time.Now().Add(deliveryTimeout); ; time.Sleep(250 * time.Millisecond) {
		shown = string(s.pail("", []string{"dmarc", "show"}, "--received"))
		if strings.Contains(shown, "google.com") || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range wantReceived {
		if !strings.Contains(shown, w) {
			t.Errorf("pail dmarc show --received lacks %q:\n%s", w, shown)
		}
	}
	for _, re := range []string{`(?m)^ +203\.0\.113\.25 +12 +none +pass +pass +hill\.test +dkim=pass \(hill\.test s=pail1\) spf=pass \(hill\.test\)`,
		`(?m)^ +198\.51\.100\.66 +3 +reject +fail +fail +hill\.test +spf=softfail \(bulk\.example\)`} {
		if !regexp.MustCompile(re).MatchString(shown) {
			t.Errorf("pail dmarc show --received lacks a row matching %s:\n%s", re, shown)
		}
	}
	// The report is stored and delivered all the same, to the account
	// postmaster@ reaches (the first one).
	if n := len(withSubject(s.export("jill@hill.test"), "Report domain: hill.test Submitter: google.com Report-ID: 4823175309856127734")); n != 1 {
		t.Errorf("Google's report is %d times in the postmaster's INBOX, want 1", n)
	}
}

// matchAll reports whether s matches every regular expression.
func matchAll(s string, res []string) bool {
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(s) {
			return false
		}
	}
	return true
}

// pailMayFail runs an admin command that may exit non-zero and returns
// its standard output and error together.
func pailMayFail(s *server, words []string, args ...string) (string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pailBin, append(append(append([]string{}, words...), "-c", s.config), args...)...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// runPython runs a Python script with Debian's python3 and returns its
// output; a non-zero exit fails the test.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.py")
	writeHarnessFile(t, path, []byte(script), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, debianPython, append([]string{path}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return string(out)
}
