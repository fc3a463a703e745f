//go:build interop

package interop

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pail/internal/autoconfig"
	"pail/internal/testnet"
)

// autoconfigClientScript is run as `python3 script.py CAFILE HOSTNAME
// PASSWORD` with a JSON list of the servers an autoconfig document names
// on stdin. For each it connects as the named socketType says (TLS from
// the first byte, or the protocol's STARTTLS/STLS), reads the greeting,
// checks that the certificate is pail's and names HOSTNAME, and logs in
// with the named user name. It prints "ok: ..." per check and exits
// non-zero with "FAIL: ..." on the first failure.
const autoconfigClientScript = `
import imaplib
import json
import poplib
import smtplib
import ssl
import sys

cafile, hostname, password = sys.argv[1], sys.argv[2], sys.argv[3]
servers = json.load(sys.stdin)


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


# The host name does not resolve here: connect to 127.0.0.1 and check the
# name in the certificate by hand, the chain against pail's certificate.
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_REQUIRED


def names(sock):
    return [v for k, v in sock.getpeercert().get("subjectAltName", ()) if k == "DNS"]


for s in servers:
    what = "%s on %d (%s)" % (s["type"], s["port"], s["socketType"])
    user, implicit = s["username"], s["socketType"] == "SSL"
    if s["type"] == "imap":
        if implicit:
            c = imaplib.IMAP4_SSL("127.0.0.1", s["port"], ssl_context=ctx, timeout=20)
        else:
            c = imaplib.IMAP4("127.0.0.1", s["port"], timeout=20)
            check(c.welcome.startswith(b"* OK"), what + ": plain greeting %r" % c.welcome)
            typ, _ = c.starttls(ssl_context=ctx)
            check(typ == "OK", what + ": STARTTLS")
        check(c.welcome.startswith(b"* OK"), what + ": greeting %r" % c.welcome)
        check(hostname in names(c.sock), what + ": certificate names " + hostname)
        typ, _ = c.login(user, password)
        check(typ == "OK", what + ": LOGIN as " + user)
        c.logout()
    elif s["type"] == "pop3":
        if implicit:
            c = poplib.POP3_SSL("127.0.0.1", s["port"], context=ctx, timeout=20)
        else:
            c = poplib.POP3("127.0.0.1", s["port"], timeout=20)
            check(c.stls(context=ctx).startswith(b"+OK"), what + ": STLS")
        check(c.getwelcome().startswith(b"+OK"), what + ": greeting %r" % c.getwelcome())
        check(hostname in names(c.sock), what + ": certificate names " + hostname)
        c.user(user)
        check(c.pass_(password).startswith(b"+OK"), what + ": USER/PASS as " + user)
        c.quit()
    elif s["type"] == "smtp":
        if implicit:
            c = smtplib.SMTP_SSL(context=ctx, timeout=20, local_hostname="client.town.test")
        else:
            c = smtplib.SMTP(timeout=20, local_hostname="client.town.test")
        # Connecting outside the constructor shows the greeting; TLS then
        # needs the host the constructor would have kept.
        c._host = "127.0.0.1"
        code, banner = c.connect("127.0.0.1", s["port"])
        check(code == 220 and banner.split()[0] == hostname.encode(), what + ": greeting %r %r" % (code, banner))
        c.ehlo()
        if not implicit:
            code, _ = c.starttls(context=ctx)
            check(code == 220, what + ": STARTTLS")
            c.ehlo()
        check(hostname in names(c.sock), what + ": certificate names " + hostname)
        code, _ = c.login(user, password)
        check(code == 235, what + ": AUTH as " + user)
        c.quit()
    else:
        check(False, "unknown server type " + s["type"])
`

// TestAutoconfigClients: curl fetches the Thunderbird autoconfig XML
// from a running pail as Thunderbird does (http://autoconfig.DOMAIN/ and
// https://DOMAIN/.well-known/...), and it names exactly the client
// services of [listen], on the host name and their ports, with the TLS
// mode each has; python3's imaplib, poplib and smtplib then connect to
// every server it names, in its TLS mode, and log in with the user name
// it gives. Outlook's autodiscover, POSTed with curl, names the same
// listeners.
func TestAutoconfigClients(t *testing.T) {
	curl := needPeer(t, "curl")
	python := needPeer(t, "python3")
	addrs := map[string]string{}
	var listen []string
	for _, name := range []string{"submissions", "imap", "imaps", "pop3", "pop3s", "http", "https"} {
		addrs[name] = testnet.Addr(t)
		listen = append(listen, fmt.Sprintf("%s = %q", name, addrs[name]))
	}
	s := newServer(t, serverOptions{submission: true, listen: listen})
	addrs["submission"] = s.submissionAddr
	s.start()
	deadline := time.Now().Add(startTimeout)
	for name, addr := range addrs {
		if err := waitListening(addr, s.proc, deadline); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	const user = "jill@" + testDomain
	s.addUser(user)
	port := func(name string) int {
		_, p, _ := net.SplitHostPort(addrs[name])
		n, _ := strconv.Atoi(p)
		return n
	}

	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	fetch := func(args ...string) []byte {
		t.Helper()
		out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "--fail", "--max-time", "20"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	host := "autoconfig." + testDomain
	httpURL := fmt.Sprintf("http://%s:%d/mail/config-v1.1.xml?emailaddress=%s", host, port("http"), strings.ReplaceAll(user, "@", "%40"))
	doc := fetch("--resolve", fmt.Sprintf("%s:%d:127.0.0.1", host, port("http")), httpURL)
	wellKnown := fetch("-k", "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", testDomain, port("https")),
		fmt.Sprintf("https://%s:%d/.well-known/autoconfig/mail/config-v1.1.xml", testDomain, port("https")))
	if string(doc) != string(wellKnown) {
		t.Errorf("the two autoconfig URLs differ:\n%s\n---\n%s", doc, wellKnown)
	}
	var cc autoconfig.ClientConfig
	if err := xml.Unmarshal(doc, &cc); err != nil {
		t.Fatalf("autoconfig XML: %v\n%s", err, doc)
	}
	type server struct {
		Type       string `json:"type"`
		Port       int    `json:"port"`
		SocketType string `json:"socketType"`
		Username   string `json:"username"`
	}
	var servers []server
	var got []string
	for _, srv := range slices.Concat(cc.Provider.Incoming, cc.Provider.Outgoing) {
		got = append(got, fmt.Sprintf("%s %d %s", srv.Type, srv.Port, srv.SocketType))
		if srv.Hostname != testHostname || srv.Authentication != "password-cleartext" || srv.Username != "%EMAILADDRESS%" {
			t.Errorf("server %+v", srv)
		}
		// As Thunderbird does: the placeholder becomes the address typed.
		servers = append(servers, server{srv.Type, srv.Port, srv.SocketType, strings.ReplaceAll(srv.Username, "%EMAILADDRESS%", user)})
	}
	want := []string{
		fmt.Sprintf("imap %d SSL", port("imaps")), fmt.Sprintf("imap %d STARTTLS", port("imap")),
		fmt.Sprintf("pop3 %d SSL", port("pop3s")), fmt.Sprintf("pop3 %d STARTTLS", port("pop3")),
		fmt.Sprintf("smtp %d SSL", port("submissions")), fmt.Sprintf("smtp %d STARTTLS", port("submission")),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("autoconfig names\n%q\nwant\n%q\n%s", got, want, doc)
	}

	// Every server named answers, in the TLS mode named, and takes the
	// login it names.
	dir := t.TempDir()
	script := filepath.Join(dir, "clients.py")
	if err := os.WriteFile(script, []byte(autoconfigClientScript), 0o600); err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal(servers)
	cmd := exec.CommandContext(ctx, python, script, filepath.Join(s.dataDir, "tls", "cert.pem"), testHostname, passwordFor(user))
	cmd.Stdin = strings.NewReader(string(list))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 clients: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "ok:"); n < 3*len(servers) { // greeting, certificate, login
		t.Errorf("%d checks passed for %d servers:\n%s", n, len(servers), out)
	}
	t.Logf("python3 clients:\n%s", out)

	// Outlook's autodiscover names the preferred listener of each protocol.
	req := `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
<Request><EMailAddress>` + user + `</EMailAddress><AcceptableResponseSchema>` + autoconfig.OutlookSchema + `</AcceptableResponseSchema></Request>
</Autodiscover>`
	adHost := "autodiscover." + testDomain
	ad := fetch("-k", "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", adHost, port("https")), "-H", "Content-Type: text/xml", "--data-binary", req,
		fmt.Sprintf("https://%s:%d/Autodiscover/Autodiscover.xml", adHost, port("https")))
	var resp autoconfig.AutodiscoverResponse
	if err := xml.Unmarshal(ad, &resp); err != nil || resp.Response.Account == nil {
		t.Fatalf("autodiscover: %v\n%s", err, ad)
	}
	got = nil
	for _, p := range resp.Response.Account.Protocol {
		got = append(got, fmt.Sprintf("%s %s %d %s %s", p.Type, p.Server, p.Port, p.Encryption, p.LoginName))
	}
	want = []string{
		fmt.Sprintf("IMAP %s %d SSL %s", testHostname, port("imaps"), user),
		fmt.Sprintf("POP3 %s %d SSL %s", testHostname, port("pop3s"), user),
		fmt.Sprintf("SMTP %s %d SSL %s", testHostname, port("submissions"), user),
	}
	if !slices.Equal(got, want) {
		t.Errorf("autodiscover names\n%q\nwant\n%q\n%s", got, want, ad)
	}
}
