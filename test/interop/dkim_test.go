//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

// debianPython is Debian's interpreter, which has python3-dkim and
// python3-nacl (the python3 on PATH may be another one without them).
const debianPython = "/usr/bin/python3"

// dkimVerifyScript is run as `python3 script.py MESSAGE KEYS.json`: it
// verifies every DKIM-Signature of MESSAGE with python3-dkim (dkimpy),
// answering its DNS queries from KEYS.json (record name -> TXT value),
// prints "d= s= a=: pass|FAIL" per signature and exits 0 only when there
// is at least one signature and all pass.
const dkimVerifyScript = `
import json, re, sys
import dkim
from dkim.util import parse_tag_value

msg = open(sys.argv[1], 'rb').read()
recs = {k.lower().rstrip('.') + '.': v for k, v in json.load(open(sys.argv[2])).items()}

def dnsfunc(name, timeout=5):
    n = (name.decode() if isinstance(name, bytes) else name).lower().rstrip('.') + '.'
    v = recs.get(n)
    return v.encode() if v else None

d = dkim.DKIM(msg)
sigs = [v for (k, v) in d.headers if k.lower() == b'dkim-signature']
if not sigs:
    print("no DKIM-Signature header")
    sys.exit(1)
ok_all = True
for idx, v in enumerate(sigs):
    tags = parse_tag_value(re.sub(rb'\s+', b'', v))
    try:
        ok = d.verify(idx=idx, dnsfunc=dnsfunc)
    except Exception as e:
        print("error:", repr(e))
        ok = False
    ok_all &= bool(ok)
    t = lambda k: tags.get(k, b'?').decode()
    print(f"d={t(b'd')} s={t(b's')} a={t(b'a')} h={t(b'h')}: {'pass' if ok else 'FAIL'}")
sys.exit(0 if ok_all else 1)
`

// sinkBackend is an SMTP server that keeps the raw bytes of every
// message it is sent, as the next hop sees them.
type sinkBackend struct{ got chan []byte }

func (b *sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{b}, nil }

type sinkSession struct{ b *sinkBackend }

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "reject@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxMsgBytes))
	if err != nil {
		return err
	}
	s.b.got <- data
	return nil
}

// startSink runs a capturing SMTP server on loopback.
func startSink(t *testing.T) (string, chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &sinkBackend{got: make(chan []byte, 4)}
	srv := smtp.NewServer(b)
	srv.Domain = "mx.far.test"
	srv.ReadTimeout = peerTimeout
	srv.WriteTimeout = peerTimeout
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), b.got
}

// dkimSubmitScript is run as `python3 script.py PORT USER PASSWORD`: it
// submits one message to far.test over STARTTLS with AUTH.
const dkimSubmitScript = `
import smtplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.hill.test", timeout=20)
s.ehlo()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.ehlo()
s.login(user, password)
msg = (b"From: Ann <" + user.encode() + b">\r\n"
       b"To: Far <someone@far.test>\r\n"
       b"Subject: signed for far\r\n"
       b"\r\n"
       b"This message crosses to far.test with two DKIM signatures.\r\n")
assert s.sendmail(user, ["someone@far.test"], msg) == {}
s.quit()
`

// TestDKIMSignedOutbound submits a message to pail over submission, lets
// the queue deliver it to a capturing SMTP server, and verifies both of
// its DKIM signatures (rsa-sha256 and ed25519-sha256) with python3-dkim
// against the TXT records `pail dns-records` prints; the same message with
// one body byte changed fails both.
func TestDKIMSignedOutbound(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("interop peer %s is missing (%v); run scripts/install-deps.sh", debianPython, err)
	}
	if out, err := exec.Command(debianPython, "-c", "import dkim, nacl").CombinedOutput(); err != nil {
		t.Fatalf("python3-dkim or python3-nacl is missing (%v: %s); run scripts/install-deps.sh", err, out)
	}
	sinkAddr, got := startSink(t)
	s := newServer(t, serverOptions{submission: true})
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[outbound]\nroutes = { \"far.test\" = %q }\n", sinkAddr)
	f.Close()
	user := "ann@" + testDomain
	s.addUser(user)
	s.start()

	dir := t.TempDir()
	submit := filepath.Join(dir, "submit.py")
	verify := filepath.Join(dir, "verify.py")
	os.WriteFile(submit, []byte(dkimSubmitScript), 0o600)
	os.WriteFile(verify, []byte(dkimVerifyScript), 0o600)
	_, subPort, _ := net.SplitHostPort(s.submissionAddr)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, debianPython, submit, subPort, user, passwordFor(user)).CombinedOutput(); err != nil {
		t.Fatalf("smtplib submission: %v\n%s", err, out)
	}
	var msg []byte
	select {
	case msg = <-got:
	case <-time.After(deliveryTimeout):
		t.Fatalf("nothing reached the sink; queue:\n%s", s.pail("", []string{"queue", "list"}))
	}

	// The records to publish, as pail dns-records prints them: each line
	// parsed as a zone file line, the DKIM TXT strings joined as a
	// resolver hands them to a verifier (RFC 6376 §3.6.2.2).
	zone := string(s.pail("", []string{"dns-records", testDomain}))
	recs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(zone), "\n") {
		if strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			t.Fatalf("pail dns-records line %q: %v", line, err)
		}
		if txt, ok := rr.(*dns.TXT); ok && strings.HasSuffix(txt.Hdr.Name, "._domainkey."+testDomain+".") {
			recs[txt.Hdr.Name] = strings.Join(txt.Txt, "")
		}
	}
	if len(recs) != 2 || !strings.Contains(zone, "k=rsa;") || !strings.Contains(zone, "k=ed25519;") {
		t.Fatalf("pail dns-records:\n%s", zone)
	}
	keys, _ := json.Marshal(recs)
	keysFile := filepath.Join(dir, "keys.json")
	os.WriteFile(keysFile, keys, 0o600)

	check := func(name string, m []byte) (string, error) {
		path := filepath.Join(dir, name)
		os.WriteFile(path, m, 0o600)
		out, err := exec.CommandContext(ctx, debianPython, verify, path, keysFile).CombinedOutput()
		return string(out), err
	}
	out, err := check("sent.eml", msg)
	if err != nil {
		t.Fatalf("python3-dkim rejects pail's signatures: %v\n%s\nmessage:\n%s", err, out, msg)
	}
	t.Logf("python3-dkim on the message as received:\n%s", out)
	if strings.Count(out, ": pass") != 2 || !strings.Contains(out, "a=rsa-sha256") || !strings.Contains(out, "a=ed25519-sha256") {
		t.Errorf("want an rsa-sha256 and an ed25519-sha256 signature passing:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, "d="+testDomain+" ") || !strings.Contains(strings.ToLower(l), "h=from:from:") {
			t.Errorf("signature not by %s with From oversigned: %s", testDomain, l)
		}
	}

	// pail sendmail queues signed mail too; a From outside the local
	// domains is not signed.
	s.pail("From: ann@"+testDomain+"\nTo: someone@far.test\nSubject: from cron\n\nbackup done\n", []string{"sendmail"}, "someone@far.test")
	s.pail("From: someone@far.test\nTo: someone@far.test\nSubject: forged\n\nnot ours\n", []string{"sendmail"}, "someone@far.test")
	// Mail from the MX port, forwarded by an alias, is not signed even
	// with a From in our domain: pail signs only what it authenticated.
	s.addAlias("fwd@"+testDomain, "someone@far.test")
	runSwaks(t, s.smtpAddr, "--from", "x@far.test", "--to", "fwd@"+testDomain,
		"--header", "From: ann@"+testDomain, "--header", "Subject: forged via MX", "--body", "spoofed")
	for _, name := range []string{"sendmail.eml", "foreign.eml", "mx.eml"} {
		var m []byte
		select {
		case m = <-got:
		case <-time.After(deliveryTimeout):
			t.Fatalf("pail sendmail's message did not reach the sink; queue:\n%s", s.pail("", []string{"queue", "list"}))
		}
		out, err := check(name, m)
		foreign := bytes.Contains(m, []byte("Subject: forged")) // both forged ones
		switch {
		case foreign && (err == nil || !strings.Contains(out, "no DKIM-Signature")):
			t.Errorf("a message pail must not sign (a From outside the local domains, or not authenticated) was signed:\n%s\n%s", out, m)
		case !foreign && (err != nil || strings.Count(out, ": pass") != 2):
			t.Errorf("pail sendmail's message does not verify: %v\n%s\n%s", err, out, m)
		}
	}

	// A DSN (From MAILER-DAEMON@ the host name, under the local domain)
	// is signed by the local domain: mail the sink refuses bounces to
	// its sender at far.test.
	s.pail("From: ann@"+testDomain+"\nTo: reject@far.test\nSubject: refused\n\nhello\n", []string{"sendmail"}, "-f", "someone@far.test", "reject@far.test")
	select {
	case m := <-got:
		out, err := check("dsn.eml", m)
		if !bytes.Contains(m, []byte("MAILER-DAEMON@"+testHostname)) || err != nil || strings.Count(out, ": pass") != 2 || !strings.Contains(out, "d="+testDomain+" ") {
			t.Errorf("the DSN is not signed by %s: %v\n%s\n%s", testDomain, err, out, m)
		}
	case <-time.After(deliveryTimeout):
		t.Fatalf("no DSN reached the sink; queue:\n%s", s.pail("", []string{"queue", "list"}))
	}

	// One body byte changed in transit: both fail.
	i := bytes.Index(msg, []byte("crosses"))
	if i < 0 {
		t.Fatalf("body not in the message:\n%s", msg)
	}
	bad := bytes.Clone(msg)
	bad[i] = 'C'
	out, err = check("altered.eml", bad)
	if err == nil || strings.Contains(out, ": pass") {
		t.Errorf("an altered message verified:\n%s", out)
	}
}
