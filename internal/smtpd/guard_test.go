package smtpd

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// httpPost is what curl sends for `curl --data-binary @smtp.txt URL`:
// an HTTP request whose body is an SMTP dialogue.
func httpPost(rcpt string) string {
	body := "EHLO evil.test\r\nAUTH PLAIN AGppbGxAaGlsbC50ZXN0AHMzY3JldA==\r\nMAIL FROM:<jill@hill.test>\r\nRCPT TO:<" + rcpt +
		">\r\nDATA\r\nSubject: via http\r\n\r\nx\r\n.\r\nQUIT\r\n"
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.11.1\r\nAccept: */*\r\n"+
		"Content-Length: %d\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n%s", len(body), body)
}

// TestHTTPRefusedInPlaintextAndImplicitTLS: the POST is refused at its
// first line in the plaintext of the MX and submission ports and in the
// decrypted stream of the implicit-TLS submissions port, and none of the
// mail in its body is delivered. (After STARTTLS: TestHTTPRefusedAfterSTARTTLS;
// a browser's handshake itself: TestHTTPALPNRefused.)
func TestHTTPRefusedInPlaintextAndImplicitTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    testOpts
	}{
		{"mx", testOpts{}},
		{"submission", testOpts{role: RoleSubmission}},
		{"submissions", testOpts{role: RoleSubmission, implicitTLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, tc.o)
			c := dial(t, env.addr)
			if tc.o.implicitTLS {
				tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
				c = &client{t: t, c: tc, br: bufio.NewReader(tc)}
			}
			c.send(httpPost("bob@hill.test"))
			c.expect("220 ")
			c.expect(`554 5\.7\.0 `)
			if r, err := c.reply(); err == nil {
				t.Errorf("session goes on: %q", r)
			}
			if n := len(env.inbox(t, "bob@hill.test")); n != 0 {
				t.Errorf("bob has %d messages", n)
			}
			if !strings.Contains(env.mailLog.String(), "reason=\"HTTP command\"") && !strings.Contains(env.mailLog.String(), "reason=HTTP") {
				t.Errorf("mail log: %s", env.mailLog)
			}
		})
	}
}

// TestHTTPALPNRefused: a TLS handshake that offers only HTTP protocols in
// ALPN, as a browser's does, fails with no_application_protocol, after
// STARTTLS on the MX and submission ports and on implicit TLS; one with no
// ALPN, or a non-HTTP protocol among HTTP ones, goes on as before.
func TestHTTPALPNRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    testOpts
	}{
		{"mx", testOpts{}},
		{"submission", testOpts{role: RoleSubmission}},
		{"submissions", testOpts{role: RoleSubmission, implicitTLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, tc.o)
			for _, alpn := range [][]string{{"h2", "http/1.1"}, {"http/1.1"}, {"h3"}, nil, {"h2", "smtp"}} {
				c := dial(t, env.addr)
				if !tc.o.implicitTLS {
					c.expect("220 ")
					c.cmd("EHLO town.test", "250-")
					c.cmd("STARTTLS", "220 ")
				}
				tlsc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, NextProtos: alpn})
				err := tlsc.Handshake()
				browser := len(alpn) > 0 && !slices.Contains(alpn, "smtp")
				if browser {
					if err == nil || !strings.Contains(err.Error(), "no application protocol") {
						t.Errorf("ALPN %q: handshake %v, want no_application_protocol", alpn, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("ALPN %q: %v", alpn, err)
				}
				c = &client{t: t, c: tlsc, br: bufio.NewReader(tlsc)}
				if tc.o.implicitTLS {
					c.expect("220 ")
				}
				c.cmd("EHLO town.test", "250-")
				c.cmd("QUIT", "221 ")
			}
		})
	}
}

// TestImplicitTLSSession: on the submissions port the session still knows
// it is over TLS (AUTH, trace) and offers no STARTTLS.
func TestImplicitTLSSession(t *testing.T) {
	env := newTestEnv(t, testOpts{role: RoleSubmission, implicitTLS: true})
	raw := dial(t, env.addr)
	tc := tls.Client(raw.c, &tls.Config{InsecureSkipVerify: true})
	c := &client{t: t, c: tc, br: bufio.NewReader(tc)}
	c.expect("220 ")
	if ehlo := c.cmd("EHLO town.test", "250-"); strings.Contains(ehlo, "STARTTLS") || !strings.Contains(ehlo, "AUTH PLAIN") {
		t.Errorf("EHLO over implicit TLS:\n%s", ehlo)
	}
	c.cmd("AUTH PLAIN AGppbGxAaGlsbC50ZXN0AHMzY3JldA==", "235 ")
	c.cmd("MAIL FROM:<jill@hill.test>", "250 ")
	c.cmd("RCPT TO:<bob@hill.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("From: jill@hill.test\r\nSubject: tls\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	msgs := env.inbox(t, "bob@hill.test")
	if len(msgs) != 1 || !strings.Contains(msgs[0], "with ESMTPSA (TLS") {
		t.Errorf("trace: %q", msgs)
	}
}

// TestHTTPLinesInContentPass: header lines and request lines inside DATA
// and BDAT content, pipelined with the commands around them in one write,
// are content; the next command after the content is still checked.
func TestHTTPLinesInContentPass(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	body := "User-Agent: mutt\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nPOST /x\r\n"
	c.send(fmt.Sprintf("MAIL FROM:<jack@town.test>\r\nRCPT TO:<jill@hill.test>\r\nBDAT %d\r\n%sBDAT %d LAST\r\n%sMAIL FROM:<jack@town.test>\r\n",
		len(body), body, len(body), body))
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.send("RCPT TO:<jill@hill.test>\r\nDATA\r\n")
	c.expect("250 ")
	c.expect("354 ")
	c.send(body + ".\r\n")
	c.expect("250 ")
	c.send("Host: evil\r\n")
	c.expect(`554 5\.7\.0 `)
	if n := len(env.inbox(t, "jill@hill.test")); n != 2 {
		t.Errorf("jill has %d messages, want 2", n)
	}
}

// TestBDATSizeAsGoSMTPReadsIt: a BDAT size padded with zeros and spaces
// (past the 64-byte line of the guard's first version) frames the chunk:
// header lines in the chunk are content, and the message is stored. (The
// name is from when go-smtp read the commands; the engine reads sizes as
// it did.)
func TestBDATSizeAsGoSMTPReadsIt(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	c := dial(t, env.addr)
	c.expect("220 ")
	c.cmd("EHLO town.test", "250-")
	body := "Host: x\r\nUser-Agent: y\r\n\r\nz\r\n"
	c.cmd("MAIL FROM:<jack@town.test>", "250 ")
	c.cmd("RCPT TO:<jill@hill.test>", "250 ")
	c.send(fmt.Sprintf("BDAT %s%d%s LAST\r\n%s", strings.Repeat("0", 80), len(body), strings.Repeat(" ", 80), body))
	c.expect("250 ")
	c.send("Host: evil\r\n")
	c.expect(`554 5\.7\.0 `)
	if msgs := env.inbox(t, "jill@hill.test"); len(msgs) != 1 || !strings.HasSuffix(msgs[0], body) {
		t.Errorf("jill has %q", msgs)
	}
}

// TestCommandGuard: the guard sees command lines as the protocol engine
// frames them (DATA content up to its end, BDAT chunks of their stated
// size, however the size is written), so a header line in content passes
// and one among commands ends the session. Each input follows an open
// transaction, sent whole; the engine's framing across reads is
// smtpserver's TestDotReaderSplit.
func TestCommandGuard(t *testing.T) {
	env := newTestEnv(t, testOpts{})
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"EHLO x\r\nMAIL FROM:<jack@town.test>\r\nRCPT TO:<jill@hill.test>\r\nDATA\r\nHost: x\r\n.\r\nQUIT\r\n", true},
		{"EHLO x\r\nDATA\r\n.\r\nHost: x\r\n", false},
		{"DATA\r\nx\r\n..\r\nHost: y\r\n.\r\nNOOP\r\n", true},
		{"DATA\r\nx\r\n.\r\nGET / HTTP/1.0\r\n", false},
		{"BDAT 9 LAST\r\nHost: x\r\nNOOP\r\n", true},
		{"BDAT 9\r\nHost: x\r\nBDAT 0 LAST\r\nHost: y\r\n", false},
		{"BDAT x\r\nHost: x\r\n", false},
		// Sizes as the engine reads them, however long the line.
		{"BDAT " + strings.Repeat("0", 100) + "9 LAST\r\nHost: x\r\nNOOP\r\n", true},
		{"BDAT 9" + strings.Repeat(" ", 100) + "last\r\nHost: x\r\nNOOP\r\n", true},
		{"BDAT 9\u00a0LAST\r\nHost: x\r\nNOOP\r\n", true},
		{"BDAT " + strings.Repeat("0", 100) + "9\r\nHost: x\r\nHost: y\r\n", false},
		{"BDAT 4294967295 LAST\r\n", true},
		{"BDAT 4294967296\r\nHost: x\r\n", false}, // over 32 bits: 501, no chunk
		{"BDAT +9\r\nHost: x\r\n", false},
		{"BDAT 9 LAST x\r\nHost: x\r\n", false},
		{"AUTH PLAIN\r\nAGppbGxAaGlsbC50ZXN0AHMzY3JldA==\r\nNOOP\r\n", true},
		{"get /\r\n", false},
		{"OPTIONS * HTTP/1.1\r\n", false},
		{"PRI * HTTP/2.0\r\n", false},
		{"Upgrade-Insecure-Requests: 1\r\n", false},
		{"MAIL FROM:<x@y>\r\n", true},
		{"HELO host\r\nHEAD\r\n", true},
		{":x\r\n", true},
		{"Host: x", true}, // not a whole line yet
	} {
		t.Run(fmt.Sprintf("%.40q", tc.in), func(t *testing.T) {
			t.Parallel()
			c := dial(t, env.addr)
			c.send("EHLO town.test\r\nMAIL FROM:<jack@town.test>\r\nRCPT TO:<jill@hill.test>\r\n" + tc.in)
			// Every reply until the server closes or goes quiet.
			c.c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
			var got strings.Builder
			closed := false
			for {
				r, err := c.reply()
				got.WriteString(r)
				if err != nil {
					closed = !isTimeoutErr(err)
					break
				}
			}
			refused := strings.Contains(got.String(), "554 5.7.0 ")
			if refused == tc.ok || (refused && !closed) {
				t.Errorf("ok %v, but refused %v, closed %v:\n%s", tc.ok, refused, closed, got.String())
			}
		})
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
