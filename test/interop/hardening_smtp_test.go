//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCurlPostToSMTP aims curl at the SMTP and submission ports with a
// POST whose body is an SMTP dialogue (the cross-protocol attack a web page
// can make a browser do). pail must answer 554 5.7.0 at the request line
// and deliver nothing from the body.
func TestCurlPostToSMTP(t *testing.T) {
	curl := needPeer(t, "curl")
	s := startServer(t, serverOptions{submission: true})
	s.addUser("jill@hill.test")
	body := filepath.Join(t.TempDir(), "smtp.txt")
	dialogue := "EHLO evil.test\r\nMAIL FROM:<evil@town.test>\r\nRCPT TO:<jill@hill.test>\r\nDATA\r\n" +
		"Subject: via http\r\n\r\nsmuggled over HTTP\r\n.\r\nQUIT\r\n"
	if err := os.WriteFile(body, []byte(dialogue), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{s.smtpAddr, s.submissionAddr} {
		out, _ := exec.Command(curl, "-sS", "--http0.9", "--max-time", "10", "--data-binary", "@"+body, "http://"+addr+"/").CombinedOutput()
		if !strings.Contains(string(out), "554 5.7.0") {
			t.Errorf("curl POST to %s: no 554 5.7.0 in the answer:\n%s", addr, out)
		}
		if strings.Contains(string(out), "250 2.0.0 OK") {
			t.Errorf("curl POST to %s: the body's message was accepted:\n%s", addr, out)
		}
	}
	if got := withSubject(s.export("jill@hill.test"), "via http"); len(got) != 0 {
		t.Errorf("mail from an HTTP body was delivered: %s", summary(got))
	}
}

// TestSmugglingRawSocket sends the SMTP smuggling end-of-data variants
// over a raw socket to a real `pail serve`, each followed by a smuggled
// second message: every one is refused with 554 5.6.0, and the smuggled
// message is never delivered.
func TestSmugglingRawSocket(t *testing.T) {
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	s.addUser("bob@hill.test")
	smuggled := "MAIL FROM:<evil@town.test>\r\nRCPT TO:<bob@hill.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"
	for _, end := range []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r.\r", "\r\n.\n", "\r\n\r.\r\n"} {
		for _, cmd := range []string{"DATA", "BDAT"} {
			c := dialSMTP(t, s.smtpAddr)
			c.cmd("EHLO town.test", "250")
			c.cmd("MAIL FROM:<jack@town.test>", "250")
			c.cmd("RCPT TO:<jill@hill.test>", "250")
			msg := "Subject: first\r\n\r\nhello" + end + smuggled
			if cmd == "DATA" {
				c.cmd("DATA", "354")
				c.send(msg + ".\r\n")
			} else {
				c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg))
			}
			if r := c.expect("554"); !r.matches("554 5.6.0") {
				t.Errorf("%s %q: %s", cmd, end, r)
			}
			c.expectClosed(5 * time.Second)
		}
	}
	if got := s.export("bob@hill.test"); len(got) != 0 {
		t.Errorf("smuggled mail was delivered: %s", summary(got))
	}
	if got := withSubject(s.export("jill@hill.test"), "first"); len(got) != 0 {
		t.Errorf("a message with a bare CR or LF was stored: %s", summary(got))
	}
}

// TestSwaksPostmasterAtHostname: swaks delivers to postmaster at the host
// name, the address every DSN asks its reader to contact (RFC 5321 §4.5.1).
func TestSwaksPostmasterAtHostname(t *testing.T) {
	s := newServer(t, serverOptions{})
	s.pail("pw\n", []string{"user", "add"}, "--password-stdin", "--admin", "admin@hill.test")
	s.start()
	out := runSwaks(t, s.smtpAddr, "--from", "jack@town.test", "--to", "postmaster@"+testHostname, "--header", "Subject: to the host postmaster")
	if !strings.Contains(out, "250 2.0.0") {
		t.Fatalf("swaks:\n%s", out)
	}
	oneWithSubject(t, s.export("admin@hill.test"), "to the host postmaster", "admin INBOX")
}

// TestOpenSSLALPNAfterSTARTTLS is the ALPACA case that the command guard
// cannot see: a TLS client after STARTTLS (openssl s_client, standing in
// for a man in the middle relaying a browser's handshake) offering only
// HTTP protocols in ALPN is refused with no_application_protocol; the
// same client offering no ALPN, as mail clients do, gets its session.
func TestOpenSSLALPNAfterSTARTTLS(t *testing.T) {
	openssl := needPeer(t, "openssl")
	s := startServer(t, serverOptions{submission: true})
	for _, addr := range []string{s.smtpAddr, s.submissionAddr} {
		for _, alpn := range []string{"h2,http/1.1", ""} {
			args := []string{"s_client", "-starttls", "smtp", "-connect", addr, "-quiet", "-verify_quiet"}
			if alpn != "" {
				args = append(args, "-alpn", alpn)
			}
			cmd := exec.Command(openssl, args...)
			cmd.Stdin = strings.NewReader("EHLO town.test\r\nQUIT\r\n")
			out, _ := cmd.CombinedOutput()
			refused := strings.Contains(string(out), "no application protocol")
			if alpn != "" && (!refused || strings.Contains(string(out), "250-")) {
				t.Errorf("%s, ALPN %s: not refused:\n%s", addr, alpn, out)
			}
			if alpn == "" && (refused || !strings.Contains(string(out), "221 ")) {
				t.Errorf("%s, no ALPN: no session:\n%s", addr, out)
			}
		}
	}
}

// TestSwaksBarePostmaster: swaks delivers to "<postmaster>" without a
// domain (RFC 5321 §4.1.1.3, §4.5.1), which go-smtp's parser refused.
func TestSwaksBarePostmaster(t *testing.T) {
	s := newServer(t, serverOptions{})
	s.pail("pw\n", []string{"user", "add"}, "--password-stdin", "--admin", "admin@hill.test")
	s.start()
	out := runSwaks(t, s.smtpAddr, "--from", "jack@town.test", "--to", "postmaster", "--header", "Subject: to the bare postmaster")
	if !strings.Contains(out, "250 2.1.5") || !strings.Contains(out, "250 2.0.0") {
		t.Fatalf("swaks:\n%s", out)
	}
	oneWithSubject(t, s.export("admin@hill.test"), "to the bare postmaster", "admin INBOX")
}

// smtplibTLSScript checks, with python3's smtplib over STARTTLS, the
// replies pail used to rewrite only in clear (HELP 214, a command out of
// sequence 503) and the HTTP command guard (554 5.7.0, then the server
// closes).
const smtplibTLSScript = `
import smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", port, local_hostname="town.test", timeout=20)
s.ehlo()
s.starttls(context=ctx)
s.ehlo()
code, msg = s.docmd("HELP")
assert code == 214 and msg.startswith(b"2.0.0 "), (code, msg)
code, msg = s.docmd("RCPT", "TO:<jill@hill.test>")
assert code == 503 and msg.startswith(b"5.5.1 "), (code, msg)
code, msg = s.docmd("POST", "/ HTTP/1.1")
assert code == 554 and msg.startswith(b"5.7.0 "), (code, msg)
try:
    code, msg = s.docmd("NOOP")
    assert False, ("session goes on", code, msg)
except smtplib.SMTPServerDisconnected:
    pass
print("ok")
`

// TestPythonSmtplibAfterSTARTTLS runs smtplibTLSScript on the MX port.
func TestPythonSmtplibAfterSTARTTLS(t *testing.T) {
	python := needPeer(t, "python3")
	s := startServer(t, serverOptions{})
	s.addUser("jill@hill.test")
	script := filepath.Join(t.TempDir(), "smtplib_tls.py")
	if err := os.WriteFile(script, []byte(smtplibTLSScript), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.smtpAddr)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, script, port).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("python3 smtplib over STARTTLS: %v\n%s", err, out)
	}
}
