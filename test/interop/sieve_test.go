//go:build interop

package interop

import (
	"bytes"
	"context"
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

	"pail/internal/testnet"
)

// envelopeSink is an SMTP server that keeps every message with its
// envelope, as the next hop sees them.
type envelopeSink struct{ got chan sunk }

type sunk struct {
	from string
	to   []string
	data []byte
}

type envelopeSession struct {
	b    *envelopeSink
	from string
	to   []string
}

func (b *envelopeSink) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &envelopeSession{b: b}, nil
}
func (s *envelopeSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *envelopeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *envelopeSession) Reset()        { s.from, s.to = "", nil }
func (s *envelopeSession) Logout() error { return nil }
func (s *envelopeSession) Data(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxMsgBytes))
	if err != nil {
		return err
	}
	s.b.got <- sunk{from: s.from, to: s.to, data: data}
	return nil
}

func startEnvelopeSink(t *testing.T) (string, chan sunk) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &envelopeSink{got: make(chan sunk, 16)}
	srv := smtp.NewServer(b)
	srv.Domain = "mx.far.test"
	srv.ReadTimeout, srv.WriteTimeout = peerTimeout, peerTimeout
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), b.got
}

// sieveConnect runs sieve-connect against addr as user with args, the
// password through a pipe (--passwordfd), STARTTLS (its default, with
// the certificate unchecked: pail's is self-signed here).
func sieveConnect(t *testing.T, addr, user string, args ...string) string {
	t.Helper()
	bin := needPeer(t, "sieve-connect")
	host, port, _ := net.SplitHostPort(addr)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	fmt.Fprintln(pw, passwordFor(user))
	pw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	argv := append([]string{"--server", host, "--port", port, "--user", user, "--passwordfd", "3", "--notlsverify", "--noclearchan", "--authmech", "PLAIN"}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.ExtraFiles = []*os.File{pr}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sieve-connect %s: %v\n%s", strings.Join(argv, " "), err, out.Bytes())
	}
	return out.String()
}

// sieveScript sorts jill's mail: list mail flagged into Lists (created),
// "spam-me" discarded, "refuse" rejected, "forward" redirected to
// far.test, and the rest answered by vacation once a day.
const sieveScript = `require ["fileinto", "imap4flags", "mailbox", "reject", "vacation"];
if header :contains "subject" "[list]" { fileinto :create :flags "\\Flagged" "Lists"; stop; }
if header :contains "subject" "spam-me" { discard; stop; }
if header :contains "subject" "refuse" { reject "No thanks"; stop; }
if header :contains "subject" "forward" { redirect "bob@far.test"; stop; }
vacation :days 1 :subject "Away" "I am away until Monday.";
`

const imapFlagsScript = `
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login(sys.argv[2], sys.argv[3])
typ, data = M.select(sys.argv[4], readonly=True)
assert typ == "OK", data
typ, data = M.fetch("1:*", "(FLAGS)")
for d in data:
    print(d.decode())
M.logout()
`

// TestSieveConnectAndDelivery uploads a script with sieve-connect over
// ManageSieve (STARTTLS, PLAIN), lists, activates and fetches it, then
// sends mail with swaks and checks that each lands where the script
// says: a flagged copy in Lists (read over IMAP), nothing for discarded
// mail, 550 for a rejected message to jill alone and a DSN when another
// recipient takes it, a redirected copy at far.test's sink, and one
// vacation answer per sender that never answers list or bulk mail.
func TestSieveConnectAndDelivery(t *testing.T) {
	sinkAddr, sink := startEnvelopeSink(t)
	msAddr, imapAddr := testnet.Addr(t), testnet.Addr(t)
	s := newServer(t, serverOptions{listen: []string{fmt.Sprintf("managesieve = %q\nimap = %q", msAddr, imapAddr)}})
	appendConfig(t, s, fmt.Sprintf("\n[outbound]\nroutes = { \"far.test\" = %q }\n", sinkAddr))
	jill, bob := "jill@"+testDomain, "bob@"+testDomain
	s.addUser(jill)
	s.addUser(bob)
	s.start()
	if err := waitListening(msAddr, s.proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	local := filepath.Join(dir, "sort.sieve")
	os.WriteFile(local, []byte(sieveScript), 0o600)
	sieveConnect(t, msAddr, jill, "--upload", "--localsieve", local, "--remotesieve", "sort")
	if out := sieveConnect(t, msAddr, jill, "--list"); !strings.Contains(out, "sort") || strings.Contains(strings.ToUpper(out), "ACTIVE") {
		t.Fatalf("list before activate:\n%s", out)
	}
	sieveConnect(t, msAddr, jill, "--activate", "--remotesieve", "sort")
	if out := sieveConnect(t, msAddr, jill, "--list"); !strings.Contains(out, `"sort" ACTIVE`) {
		t.Fatalf("list after activate:\n%s", out)
	}
	fetched := filepath.Join(dir, "fetched.sieve")
	sieveConnect(t, msAddr, jill, "--download", "--remotesieve", "sort", "--localsieve", fetched)
	if got, _ := os.ReadFile(fetched); string(got) != sieveScript {
		t.Fatalf("fetched script differs:\n%q", got)
	}

	send := func(from, subject string, extra string, to ...string) string {
		args := []string{"--from", from, "--header", "Subject: " + subject, "--to", strings.Join(to, ",")}
		if extra != "" {
			args = append(args, "--add-header", extra)
		}
		return runSwaks(t, s.smtpAddr, args...)
	}
	send("ann@far.test", "[list] news", "List-Id: <news.far.test>", jill)
	send("ann@far.test", "spam-me now", "List-Id: <x.far.test>", jill)
	send("ann@far.test", "please forward", "List-Id: <x.far.test>", jill)

	// Rejected with jill the only recipient: the reply is the refusal.
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	out, _ := exec.CommandContext(ctx, needPeer(t, "swaks"), "--server", s.smtpAddr, "--helo", "client.town.test",
		"--from", "ann@far.test", "--to", jill, "--header", "Subject: refuse this").CombinedOutput()
	if !strings.Contains(string(out), "550 5.7.1 No thanks") {
		t.Errorf("reject of a message to jill alone:\n%s", out)
	}
	// With bob too: accepted, and a DSN goes to the sender.
	send("ann@far.test", "refuse this too", "List-Id: <x.far.test>", jill, bob)

	got := map[string]sunk{}
	timeout := time.After(peerTimeout)
	for len(got) < 2 {
		select {
		case m := <-sink:
			switch {
			case strings.Contains(string(m.data), "X-Pail-Redirected-By: "+jill):
				got["redirect"] = m
			case m.from == "" && strings.Contains(string(m.data), "No thanks"):
				got["dsn"] = m
			default:
				t.Errorf("unexpected message at the sink from <%s> to %v:\n%s", m.from, m.to, m.data)
			}
		case <-timeout:
			t.Fatalf("sink has %d of 2 messages", len(got))
		}
	}
	if r := got["redirect"]; r.from != "ann@far.test" || r.to[0] != "bob@far.test" || !strings.Contains(string(r.data), "please forward") {
		t.Errorf("redirect: from <%s> to %v", r.from, r.to)
	}
	if d := got["dsn"]; d.to[0] != "ann@far.test" || !strings.Contains(string(d.data), "Status: 5.7.1") {
		t.Errorf("reject notice to %v:\n%s", d.to, d.data)
	}

	// Vacation: once for ann, not again within :days, never for list or
	// bulk mail.
	send("ann@far.test", "hello", "", jill)
	send("ann@far.test", "hello again", "", jill)
	send("news@far.test", "digest", "List-Id: <digest.far.test>", jill)
	send("promo@far.test", "offer", "Precedence: bulk", jill)
	select {
	case m := <-sink:
		d := string(m.data)
		if m.from != "" || m.to[0] != "ann@far.test" || !strings.Contains(d, "Subject: Away") ||
			!strings.Contains(d, "Auto-Submitted: auto-replied") || !strings.Contains(d, "From: "+jill) ||
			!strings.Contains(d, "In-Reply-To: <") || !strings.Contains(d, "I am away until Monday.") {
			t.Errorf("vacation answer from <%s> to %v:\n%s", m.from, m.to, d)
		}
	case <-time.After(peerTimeout):
		t.Fatal("no vacation answer")
	}
	select {
	case m := <-sink:
		t.Errorf("a second answer, to %v:\n%s", m.to, m.data)
	case <-time.After(5 * time.Second):
	}

	// Where the copies are: a flagged one in Lists, four in the INBOX
	// (the vacation ones), none of the discarded, rejected or
	// redirected mail; bob has the one jill refused.
	flags := runPeer(t, peerTimeout, "", "python3", "-c", imapFlagsScript, imapAddr[strings.LastIndexByte(imapAddr, ':')+1:], jill, passwordFor(jill), "Lists")
	if strings.Count(flags, "FLAGS") != 1 || !strings.Contains(flags, `\Flagged`) {
		t.Errorf("Lists over IMAP:\n%s", flags)
	}
	if n := len(s.export(jill)); n != 4 {
		t.Errorf("jill's INBOX has %d messages, want 4", n)
	}
	if n := len(s.export(bob)); n != 1 {
		t.Errorf("bob's INBOX has %d messages, want 1", n)
	}
}
