package server

import (
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pail/internal/autoconfig"
	"pail/internal/testnet"
)

// TestServeAutoconfig: a running pail serves Thunderbird's autoconfig
// and Outlook's autodiscover on both http and https, naming exactly the
// client services that listen, each on its listener's real port (imaps
// on port 0 gets the one the kernel chose), and the web pages still
// answer behind them, the profile download among them.
func TestServeAutoconfig(t *testing.T) {
	dir := t.TempDir()
	httpAddr, httpsAddr, submission := testnet.Addr(t), testnet.Addr(t), testnet.Addr(t)
	conf := fmt.Sprintf(`hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = %q
[listen]
smtp = %q
submission = %q
imaps = "127.0.0.1:0"
http = %q
https = %q
`, filepath.Join(dir, "data"), testnet.Addr(t), submission, httpAddr, httpsAddr)
	srv := startQuiet(t, loadConf(t, dir, conf))
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	imapsPort := port(srv.Addrs()["imaps"])
	if imapsPort == 0 {
		t.Fatalf("imaps not listening: %v", srv.Addrs())
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, url, host, body string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	for _, base := range []string{"http://" + httpAddr, "https://" + httpsAddr} {
		code, _, body := do("GET", base+"/mail/config-v1.1.xml?emailaddress=jill%40hill.test", "autoconfig.hill.test", "")
		var cc autoconfig.ClientConfig
		if err := xml.Unmarshal(body, &cc); code != 200 || err != nil {
			t.Fatalf("%s autoconfig: %d %v %s", base, code, err, body)
		}
		in, out := cc.Provider.Incoming, cc.Provider.Outgoing
		if len(in) != 1 || in[0].Type != "imap" || in[0].Port != imapsPort || in[0].SocketType != "SSL" || in[0].Hostname != "mx.hill.test" ||
			len(out) != 1 || out[0].Port != port(submission) || out[0].SocketType != "STARTTLS" {
			t.Errorf("%s: servers %+v %+v, want imaps on %d and submission on %d", base, in, out, imapsPort, port(submission))
		}
		req := `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>jill@hill.test</EMailAddress><AcceptableResponseSchema>` +
			autoconfig.OutlookSchema + `</AcceptableResponseSchema></Request></Autodiscover>`
		code, _, body = do("POST", base+"/Autodiscover/Autodiscover.xml", "autodiscover.hill.test", req)
		var ad autoconfig.AutodiscoverResponse
		if err := xml.Unmarshal(body, &ad); code != 200 || err != nil || ad.Response.Account == nil || len(ad.Response.Account.Protocol) != 2 ||
			ad.Response.Account.Protocol[0].Port != imapsPort {
			t.Errorf("%s autodiscover: %d %v %s", base, code, err, body)
		}
		if code, _, _ := do("GET", base+"/.well-known/autoconfig/mail/config-v1.1.xml", "other.test", ""); code != 404 {
			t.Errorf("%s: autoconfig for another domain: %d", base, code)
		}
		if code, hd, _ := do("GET", base+"/settings/profile.mobileconfig", "mx.hill.test", ""); code != http.StatusSeeOther || hd.Get("Location") != "/login" {
			t.Errorf("%s: profile without login: %d %v", base, code, hd)
		}
		if code, _, body := do("GET", base+"/login", "mx.hill.test", ""); code != 200 || !strings.Contains(string(body), "<form") {
			t.Errorf("%s: login page: %d", base, code)
		}
	}
}
