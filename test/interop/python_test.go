//go:build interop

package interop

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// smtplibScript is run as `python3 script.py PORT`. It prints "ok: ..." per
// check and exits non-zero with "FAIL: ..." on the first failure.
const smtplibScript = `
import email.policy
import smtplib
import ssl
import sys
from email.message import EmailMessage

port = int(sys.argv[1])


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


# The constructor hides the greeting, and STARTTLS needs the host it was
# given; so look at the greeting on a connection of its own.
g = smtplib.SMTP(local_hostname="client.town.test", timeout=20)
code, banner = g.connect("127.0.0.1", port)
check(code == 220, "greeting is 220 (got %r)" % code)
check(banner.split()[0] == b"mx.hill.test", "greeting names mx.hill.test: %r" % banner)
g.quit()

s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.town.test", timeout=20)
code, _ = s.ehlo()
check(code == 250, "EHLO answers 250 (got %r)" % code)
for ext in ["pipelining", "8bitmime", "smtputf8", "size",
            "enhancedstatuscodes", "starttls", "chunking"]:
    check(s.has_extn(ext), "EHLO advertises %s" % ext.upper())
check(s.esmtp_features.get("size") == "1048576",
      "SIZE is 1048576 (got %r)" % s.esmtp_features.get("size"))

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
code, _ = s.starttls(context=ctx)
check(code == 220, "STARTTLS answers 220 (got %r)" % code)
code, _ = s.ehlo()
check(code == 250, "EHLO after STARTTLS answers 250")
check(not s.has_extn("starttls"), "STARTTLS not offered again once in TLS (RFC 3207)")
check(s.has_extn("smtputf8"), "SMTPUTF8 still advertised under TLS")

two = (b"From: Jack <jack@town.test>\r\n"
       b"To: jill@hill.test, bob@hill.test\r\n"
       b"Subject: python two recipients\r\n"
       b"Message-ID: <py-1@town.test>\r\n"
       b"\r\n"
       b"Up the hill went Jack and Jill.\r\n")
refused = s.sendmail("jack@town.test", ["jill@hill.test", "bob@hill.test"], two)
check(refused == {}, "sendmail to two recipients accepted (refused: %r)" % refused)

eight = ("From: jack@town.test\r\n"
         "To: jill@hill.test\r\n"
         "Subject: python 8bit\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n"
         "\r\n"
         "Grüße vom Brunnen – ½ Eimer Wasser.\r\n").encode("utf-8")
refused = s.sendmail("jack@town.test", ["jill@hill.test"], eight,
                     mail_options=["BODY=8BITMIME"])
check(refused == {}, "sendmail with BODY=8BITMIME accepted")

m = EmailMessage(policy=email.policy.SMTPUTF8)
m["From"] = "jack@town.test"
m["To"] = "jill@hill.test"
m["Subject"] = "Grüße vom Hügel ⛰"
m["Message-ID"] = "<py-3@town.test>"
m.set_content("Jack fell down and broke his crown.\n")
refused = s.send_message(m, mail_options=["SMTPUTF8"])
check(refused == {}, "send_message with SMTPUTF8 accepted")

try:
    s.sendmail("jack@town.test", ["nobody@hill.test"], two)
    check(False, "mail to nobody@hill.test refused")
except smtplib.SMTPRecipientsRefused as e:
    code, text = e.recipients["nobody@hill.test"]
    check(code == 550 and text.startswith(b"5.1.1"),
          "nobody@hill.test refused with 550 5.1.1 (got %r %r)" % (code, text))

code, _ = s.noop()
check(code == 250, "NOOP after a refusal answers 250")
code, _ = s.quit()
check(code == 221, "QUIT answers 221 (got %r)" % code)
`

// TestPythonSmtplib drives the server with python3's smtplib: EHLO,
// STARTTLS with an unverified context, two recipients, 8BITMIME, SMTPUTF8
// and a refused recipient.
func TestPythonSmtplib(t *testing.T) {
	python := needPeer(t, "python3")
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	s.addUser("bob@hill.test")

	script := filepath.Join(t.TempDir(), "smtplib_check.py")
	if err := os.WriteFile(script, []byte(smtplibScript), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.smtpAddr)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, script, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 smtplib: %v\n%s", err, out)
	}
	t.Logf("python3 smtplib:\n%s", out)

	jill := s.export("jill@hill.test")
	bob := s.export("bob@hill.test")
	checkTrace(t, oneWithSubject(t, jill, "python two recipients", "jill INBOX"), "jack@town.test")
	checkTrace(t, oneWithSubject(t, bob, "python two recipients", "bob INBOX"), "jack@town.test")

	m := oneWithSubject(t, jill, "python 8bit", "jill INBOX")
	if want := "Grüße vom Brunnen – ½ Eimer Wasser.\n"; !bytes.Equal(m.body(), []byte(want)) {
		t.Errorf("8BITMIME body %q, want %q", m.body(), want)
	}

	// With SMTPUTF8 the subject travels as raw UTF-8, not RFC 2047 words.
	m = oneWithSubject(t, jill, "Grüße vom Hügel ⛰", "jill INBOX")
	checkTrace(t, m, "jack@town.test")
	if !bytes.Contains(m.Raw, []byte("\nSubject: Grüße vom Hügel ⛰\n")) {
		t.Errorf("raw UTF-8 Subject line not kept byte for byte:\n%s", headerBlock(m))
	}

	if len(jill) != 3 || len(bob) != 1 {
		t.Errorf("jill has %d messages (want 3), bob %d (want 1):\njill:\n%sbob:\n%s",
			len(jill), len(bob), summary(jill), summary(bob))
	}
}
