//go:build interop

package interop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
)

// The sender domains of the inbound checks test, served by pail's own
// name server: example.com allows only 127.0.0.1 (-all) and publishes
// p=reject; example.net allows 127.0.0.1 (~all), publishes p=quarantine
// and a DKIM key; news.example publishes neither SPF nor DMARC;
// mail.example.com, example.com's server, may send as itself (its HELO
// identity); example.org is not served at all, so the name server REFUSES every
// question about it, which pail's resolver reports as a temporary failure.
// 127.0.0.1 and 127.0.0.2 have forward-confirmed reverse names.
const (
	inboundSelector = "sel2026"
	inboundZoneCom  = `$ORIGIN example.com.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 300
        IN NS  ns1
        IN MX  10 mail
        IN TXT "v=spf1 ip4:127.0.0.1 -all"
ns1     IN A   127.0.0.1
mail    IN A   127.0.0.1
mail    IN TXT "v=spf1 a -all"
_dmarc  IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"
`
	inboundZoneNet = `$ORIGIN example.net.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 300
        IN NS  ns1
        IN MX  10 relay
        IN TXT "v=spf1 ip4:127.0.0.1 ~all"
ns1     IN A   127.0.0.1
relay   IN A   127.0.0.2
_dmarc  IN TXT "v=DMARC1; p=quarantine; adkim=r; aspf=r"
` + inboundSelector + `._domainkey IN TXT %s
`
	inboundZoneNews = `$ORIGIN news.example.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 900 604800 300
        IN NS  ns1
        IN A   127.0.0.1
ns1     IN A   127.0.0.1
`
	inboundZoneRev = `$ORIGIN 127.in-addr.arpa.
$TTL 300
@       IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300
        IN NS  ns1.example.com.
1.0.0   IN PTR mail.example.com.
2.0.0   IN PTR relay.example.net.
`
)

// dkimSignSendScript is run as `python3 script.py PORT KEY SUBJECT ALTER`:
// it signs a message from ann@example.net with python3-dkim (d=example.net,
// the selector below, rsa-sha256, relaxed/simple) and sends it over
// smtplib from 127.0.0.2 to jill@hill.test; with ALTER = 1 one byte of the
// body is changed after signing, as a careless relay might.
const dkimSignSendScript = `
import smtplib, sys
import dkim
port, keyfile, subject, alter = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
key = open(keyfile, 'rb').read()
msg = (b"From: Ann <ann@example.net>\r\n"
       b"To: Jill <jill@hill.test>\r\n"
       b"Subject: " + subject.encode() + b"\r\n"
       b"Date: Tue, 08 Dec 2026 09:00:00 +0000\r\n"
       b"Message-ID: <" + subject.replace(" ", "-").encode() + b"@example.net>\r\n"
       b"\r\n"
       b"The minutes of Tuesday's meeting are attached.\r\n")
sig = dkim.sign(msg, b"` + inboundSelector + `", b"example.net", key,
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
signed = sig + msg
if alter:
    signed = signed.replace(b"Tuesday's", b"Tuesdax's", 1)
s = smtplib.SMTP("127.0.0.1", port, local_hostname="relay.example.net",
                 source_address=("127.0.0.2", 0), timeout=20)
refused = s.sendmail("ann@example.net", ["jill@hill.test"], signed)
assert refused == {}, refused
s.quit()
print("sent", len(signed), "bytes")
`

// inboundChecks is a pail MX with the inbound checks on, whose resolver is
// a `pail dns` serving the sender domains above.
type inboundChecks struct {
	s   *server
	dns *pailDNS
	key string // the PEM file of example.net's DKIM key
}

// startInboundChecks writes the zones (with a fresh DKIM key for
// example.net) and starts the name server and pail.
func startInboundChecks(t *testing.T) *inboundChecks {
	t.Helper()
	dir := t.TempDir()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "example.net.key")
	writeHarnessFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}), 0o600)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 6376 §3.6.2.2: the record is the concatenation of its strings,
	// each at most 255 bytes (RFC 1035 §3.3.14).
	rec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	var txt []string
	for len(rec) > 0 {
		n := min(len(rec), 200)
		txt = append(txt, `"`+rec[:n]+`"`)
		rec = rec[n:]
	}
	zones := map[string]string{
		"example.com":      inboundZoneCom,
		"example.net":      fmt.Sprintf(inboundZoneNet, "( "+strings.Join(txt, "\n\t")+" )"),
		"news.example":     inboundZoneNews,
		"127.in-addr.arpa": inboundZoneRev,
	}
	var args []string
	for name, text := range zones {
		path := filepath.Join(dir, name+".zone")
		writeHarnessFile(t, path, []byte(text), 0o600)
		args = append(args, "--zone", path)
	}
	d := startPailDNS(t, args...)

	s := newServer(t, serverOptions{submission: true, inbound: []string{"checks = true"}})
	appendConfig(t, s, fmt.Sprintf("\n[outbound]\nresolver = %q\n", d.addr))
	s.addUser("jill@hill.test")
	s.addUser("ann@hill.test")
	s.start()
	return &inboundChecks{s: s, dns: d, key: keyFile}
}

// arResults are the results of pail's Authentication-Results field as
// go-msgauth's parser reads them.
type arResults struct {
	raw   string
	spf   *authres.SPFResult
	dkim  []*authres.DKIMResult
	dmarc *authres.DMARCResult
	iprev *authres.IPRevResult
	auth  *authres.AuthResult
	// dkimParams are the properties of each dkim result, header.s
	// among them, which authres.DKIMResult does not keep.
	dkimParams []map[string]string
}

// pailResults finds the one Authentication-Results field of m with pail's
// authserv-id and parses it with go-msgauth's authres, failing the test
// when there is not exactly one or it does not parse.
func pailResults(t *testing.T, m mboxMessage) arResults {
	t.Helper()
	var out arResults
	n := 0
	for _, v := range m.headers("Authentication-Results") {
		id, results, err := authres.Parse(v)
		if err != nil {
			t.Fatalf("authres.Parse(%q): %v", v, err)
		}
		if !strings.EqualFold(id, testHostname) {
			continue
		}
		n++
		out.raw = v
		for _, r := range results {
			switch r := r.(type) {
			case *authres.SPFResult:
				out.spf = r
			case *authres.DKIMResult:
				out.dkim = append(out.dkim, r)
			case *authres.DMARCResult:
				out.dmarc = r
			case *authres.IPRevResult:
				out.iprev = r
			case *authres.AuthResult:
				out.auth = r
			}
		}
		for clause := range strings.SplitSeq(v, ";") {
			f := strings.Fields(clause)
			if len(f) == 0 || !strings.HasPrefix(strings.ToLower(f[0]), "dkim=") {
				continue
			}
			p := map[string]string{}
			for _, kv := range f[1:] {
				if k, val, ok := strings.Cut(kv, "="); ok {
					p[strings.ToLower(k)] = val
				}
			}
			out.dkimParams = append(out.dkimParams, p)
		}
	}
	if n != 1 {
		t.Fatalf("%d Authentication-Results fields of %s, want 1; headers:\n%s", n, testHostname, headerBlock(m))
	}
	return out
}

// want checks the method results of pail's field; an empty want skips a
// method.
func (r arResults) want(t *testing.T, what, spf, dkim, dmarc, iprev string) {
	t.Helper()
	check := func(method, got, want string) {
		t.Helper()
		if want != "" && got != want {
			t.Errorf("%s: %s=%s, want %s; field: %s", what, method, got, want, r.raw)
		}
	}
	spfV, dkimV, dmarcV, iprevV := "(missing)", "(missing)", "(missing)", "(missing)"
	if r.spf != nil {
		spfV = string(r.spf.Value)
	}
	if len(r.dkim) > 0 {
		dkimV = string(r.dkim[0].Value)
	}
	if r.dmarc != nil {
		dmarcV = string(r.dmarc.Value)
	}
	if r.iprev != nil {
		iprevV = string(r.iprev.Value)
	}
	check("spf", spfV, spf)
	check("dkim", dkimV, dkim)
	check("dmarc", dmarcV, dmarc)
	check("iprev", iprevV, iprev)
}

// TestInboundChecks sends pail, as the MX of hill.test with the inbound
// checks on and its resolver a `pail dns` serving the senders' domains,
// mail from swaks and from python3's smtplib signed by python3-dkim, and
// reads each stored message's Authentication-Results field back with
// go-msgauth's parser: SPF pass, fail, softfail, none and temperror; DKIM
// pass with header.d and header.s, and fail after one changed body byte;
// DMARC p=reject refused with 550 5.7.1 and nothing stored, p=quarantine
// filed in Junk, pass in the INBOX; a forged field claiming pail's
// authserv-id removed, another server's kept; auth=pass for submission;
// and with the name server frozen, a message delivered within the lookup
// budget, every check a temperror.
func TestInboundChecks(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("interop peer %s is missing (%v); run scripts/install-deps.sh", debianPython, err)
	}
	if out, err := exec.Command(debianPython, "-c", "import dkim").CombinedOutput(); err != nil {
		t.Fatalf("python3-dkim is missing (%v: %s); run scripts/install-deps.sh", err, out)
	}
	ic := startInboundChecks(t)
	s := ic.s
	const rcpt = "jill@hill.test"
	// mx sends one message with swaks from client address ip and returns
	// how long the transaction took.
	mx := func(ip, mailFrom, from, subject string, extra ...string) time.Duration {
		t.Helper()
		start := time.Now()
		runSwaks(t, s.smtpAddr, append([]string{"--local-interface", ip, "--from", mailFrom, "--to", rcpt,
			"--header", "From: " + from, "--header", "Subject: " + subject}, extra...)...)
		return time.Since(start)
	}
	inbox := func(subject string) arResults {
		t.Helper()
		m := oneWithSubject(t, s.export(rcpt), subject, "jill INBOX")
		return pailResults(t, m)
	}

	t.Run("spf", func(t *testing.T) {
		// RFC 7208 §2.6: pass, fail, softfail, none; temperror (§2.6.6)
		// when the TXT lookup fails (REFUSED here), and the message is
		// delivered all the same, at once.
		mx("127.0.0.1", "ann@example.com", "Ann <ann@example.com>", "spf pass")
		mx("127.0.0.2", "ann@example.com", "News <editor@news.example>", "spf fail")
		mx("127.0.0.2", "info@example.net", "News <editor@news.example>", "spf softfail")
		mx("127.0.0.1", "editor@news.example", "News <editor@news.example>", "spf none")
		took := mx("127.0.0.1", "sales@example.org", "Sales <sales@example.org>", "spf temperror")
		if took > 5*time.Second {
			t.Errorf("a message whose sender's lookups failed took %v", took)
		}

		r := inbox("spf pass")
		r.want(t, "spf pass", "pass", "none", "pass", "pass")
		if r.spf.From != "ann@example.com" || r.spf.Helo != "client.town.test" {
			t.Errorf("spf pass: smtp.mailfrom=%q smtp.helo=%q; field: %s", r.spf.From, r.spf.Helo, r.raw)
		}
		if r.dmarc.From != "example.com" || r.iprev.IP != "127.0.0.1" {
			t.Errorf("spf pass: header.from=%q policy.iprev=%q; field: %s", r.dmarc.From, r.iprev.IP, r.raw)
		}
		inbox("spf fail").want(t, "spf fail", "fail", "none", "none", "pass")
		inbox("spf softfail").want(t, "spf softfail", "softfail", "none", "none", "pass")
		inbox("spf none").want(t, "spf none", "none", "none", "none", "pass")
		r = inbox("spf temperror")
		r.want(t, "spf temperror", "temperror", "none", "temperror", "pass")
		if r.spf.From != "sales@example.org" {
			t.Errorf("spf temperror: smtp.mailfrom=%q; field: %s", r.spf.From, r.raw)
		}
	})

	t.Run("dkim", func(t *testing.T) {
		// Signed by python3-dkim, sent from 127.0.0.2 where example.net's
		// SPF says softfail: DMARC passes on the aligned signature alone.
		dir := t.TempDir()
		script := filepath.Join(dir, "signsend.py")
		writeHarnessFile(t, script, []byte(dkimSignSendScript), 0o600)
		_, port, _ := net.SplitHostPort(s.smtpAddr)
		send := func(subject, alter string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
			defer cancel()
			if out, err := exec.CommandContext(ctx, debianPython, script, port, ic.key, subject, alter).CombinedOutput(); err != nil {
				t.Fatalf("python3-dkim sign and smtplib send: %v\n%s", err, out)
			}
		}
		send("minutes signed", "0")
		send("minutes altered", "1")

		r := inbox("minutes signed")
		t.Logf("python3-dkim's message: Authentication-Results: %s", r.raw)
		r.want(t, "signed", "softfail", "pass", "pass", "pass")
		if len(r.dkim) != 1 || r.dkim[0].Domain != "example.net" || r.dkimParams[0]["header.s"] != inboundSelector {
			t.Errorf("signed: want one dkim=pass header.d=example.net header.s=%s; field: %s", inboundSelector, r.raw)
		}
		if r.dkimParams[0]["header.a"] != "rsa-sha256" {
			t.Errorf("signed: header.a=%q, want rsa-sha256; field: %s", r.dkimParams[0]["header.a"], r.raw)
		}
		if r.dmarc.From != "example.net" {
			t.Errorf("signed: header.from=%q; field: %s", r.dmarc.From, r.raw)
		}

		// One changed byte: the signature fails, and with it DMARC, under
		// example.net's p=quarantine: the message goes to Junk.
		junk := s.exportFolder(rcpt, "Junk")
		r = pailResults(t, oneWithSubject(t, junk, "minutes altered", "jill Junk"))
		t.Logf("altered: Authentication-Results: %s", r.raw)
		r.want(t, "altered", "softfail", "fail", "fail", "pass")
		if len(r.dkim) != 1 || r.dkim[0].Domain != "example.net" || r.dkimParams[0]["header.s"] != inboundSelector {
			t.Errorf("altered: want one dkim=fail header.d=example.net header.s=%s; field: %s", inboundSelector, r.raw)
		}
		if n := len(withSubject(s.export(rcpt), "minutes altered")); n != 0 {
			t.Errorf("the altered message is in the INBOX too (%d)", n)
		}
	})

	t.Run("dmarc", func(t *testing.T) {
		// RFC 7489 §6.6.4, §6.7: example.com's p=reject refuses at the end
		// of DATA; nothing is stored.
		out := swaksRefused(t, s.smtpAddr, "--local-interface", "127.0.0.2", "--from", "ann@example.com", "--to", rcpt,
			"--header", "From: Ann <ann@example.com>", "--header", "Subject: dmarc reject")
		if !strings.Contains(out, "<** 550 5.7.1 ") || !strings.Contains(out, "p=reject") {
			t.Errorf("a message failing p=reject was not refused with 550 5.7.1 at the end of DATA:\n%s", out)
		}
		if i, j := strings.Index(out, " -> .\n"), strings.Index(out, "<** 550"); i < 0 || j < i {
			t.Errorf("the 550 did not come after DATA:\n%s", out)
		}
		// p=quarantine: Junk.
		mx("127.0.0.2", "info@example.net", "Info <info@example.net>", "dmarc quarantine")
		// Aligned SPF pass under p=reject: the INBOX.
		mx("127.0.0.1", "billing@example.com", "Billing <billing@example.com>", "dmarc pass")

		// A bounce from example.com's server: MAIL FROM:<>, so SPF checks
		// its HELO name (RFC 7208 §2.4), which DMARC aligns with the From
		// (RFC 7489 §4.1); unsigned, it passes on that alone.
		runSwaks(t, s.smtpAddr, "--helo", "mail.example.com", "--from", "<>", "--to", rcpt,
			"--header", "From: Mail Delivery System <MAILER-DAEMON@mail.example.com>", "--header", "Subject: dmarc bounce")

		inbox := s.export(rcpt)
		junk := s.exportFolder(rcpt, "Junk")
		for _, folder := range [][]mboxMessage{inbox, junk} {
			if n := len(withSubject(folder, "dmarc reject")); n != 0 {
				t.Errorf("the refused message was stored (%d)", n)
			}
		}
		r := pailResults(t, oneWithSubject(t, junk, "dmarc quarantine", "jill Junk"))
		r.want(t, "quarantine", "softfail", "none", "fail", "pass")
		if r.dmarc.From != "example.net" {
			t.Errorf("quarantine: header.from=%q; field: %s", r.dmarc.From, r.raw)
		}
		if n := len(withSubject(inbox, "dmarc quarantine")); n != 0 {
			t.Errorf("the quarantined message is in the INBOX too")
		}
		r = pailResults(t, oneWithSubject(t, inbox, "dmarc pass", "jill INBOX"))
		r.want(t, "dmarc pass", "pass", "none", "pass", "pass")
		if len(withSubject(junk, "dmarc pass")) != 0 {
			t.Errorf("the passing message is in Junk")
		}
		r = pailResults(t, oneWithSubject(t, inbox, "dmarc bounce", "jill INBOX"))
		r.want(t, "bounce", "pass", "none", "pass", "pass")
		if r.spf.From != "" || r.spf.Helo != "mail.example.com" || r.dmarc.From != "mail.example.com" {
			t.Errorf("bounce: smtp.mailfrom=%q smtp.helo=%q header.from=%q; field: %s", r.spf.From, r.spf.Helo, r.dmarc.From, r.raw)
		}

		// The mail log tells the verdicts.
		log := s.log.String()
		for _, want := range []string{"verdict=junk spf=softfail dmarc=fail iprev=pass", "verdict=deliver spf=pass dmarc=pass iprev=pass",
			` rejected client=127.0.0.2 helo=client.town.test from=<ann@example.com> to=<jill@hill.test> reason="550 5.7.1 DMARC policy of example.com (p=reject) failed" verdict=reject spf=fail dmarc=fail iprev=pass`} {
			if !strings.Contains(log, want) {
				t.Errorf("mail log has no %q:\n%s", want, s.log.tail(8000))
			}
		}
	})

	t.Run("forged", func(t *testing.T) {
		// RFC 8601 §5: fields claiming pail's authserv-id (in any case)
		// are removed; another server's stays.
		mx("127.0.0.1", "ann@example.com", "Ann <ann@example.com>", "forged results",
			"--add-header", "Authentication-Results: "+testHostname+"; dkim=pass header.d=bank.example",
			"--add-header", "Authentication-Results: MX.Hill.Test;\r\n\tdmarc=pass header.from=bank.example",
			"--add-header", "Authentication-Results: mx.relay.example.net; spf=pass smtp.mailfrom=ann@example.com")
		m := oneWithSubject(t, s.export(rcpt), "forged results", "jill INBOX")
		r := pailResults(t, m) // exactly one of pail's
		r.want(t, "forged", "pass", "none", "pass", "pass")
		if len(r.dkim) != 1 || r.dkim[0].Domain != "" {
			t.Errorf("pail's field is not its own: %s", r.raw)
		}
		kept := 0
		for _, v := range m.headers("Authentication-Results") {
			id, res, err := authres.Parse(v)
			if err == nil && id == "mx.relay.example.net" && len(res) == 1 {
				kept++
			}
			if strings.Contains(v, "bank.example") {
				t.Errorf("a forged field of pail's authserv-id was kept: %s", v)
			}
		}
		if kept != 1 {
			t.Errorf("the other server's Authentication-Results was not kept; headers:\n%s", headerBlock(m))
		}
	})

	t.Run("submission", func(t *testing.T) {
		// RFC 8601 §2.7.4: mail from an authenticated user gets auth=pass
		// with smtp.auth, and none of the sender checks.
		runSwaks(t, s.submissionAddr, "--tls", "--auth", "PLAIN", "--auth-user", "ann@hill.test",
			"--auth-password", passwordFor("ann@hill.test"), "--from", "ann@hill.test", "--to", rcpt,
			"--header", "From: Ann <ann@hill.test>", "--header", "Subject: submitted")
		r := inbox("submitted")
		if r.auth == nil || r.auth.Value != authres.ResultPass || r.auth.Auth != "ann@hill.test" {
			t.Errorf("submission: want auth=pass smtp.auth=ann@hill.test; field: %s", r.raw)
		}
		if r.spf != nil || r.dmarc != nil || len(r.dkim) != 0 || r.iprev != nil {
			t.Errorf("submission: sender checks in the field: %s", r.raw)
		}
	})

	t.Run("dead resolver", func(t *testing.T) {
		// The name server stops answering (frozen: queries time out rather
		// than being refused). Every check is a temperror, and the
		// message is delivered within the lookup budget (5 s) and a
		// little.
		if err := ic.dns.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer ic.dns.proc.cmd.Process.Signal(syscall.SIGCONT)
		took := mx("127.0.0.1", "ann@example.com", "Ann <ann@example.com>", "resolver down")
		if took > 8*time.Second {
			t.Errorf("with the resolver down, the message took %v", took)
		}
		ic.dns.proc.cmd.Process.Signal(syscall.SIGCONT)
		inbox("resolver down").want(t, "resolver down", "temperror", "none", "temperror", "temperror")
	})
}
