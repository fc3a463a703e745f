package autoconfig

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pail/internal/config"
)

// full listens on every client service, on ports that are not the
// standard ones (a client must get the listener's port); smtp (MX) is on
// too and must never be named.
func full() config.Listen {
	return config.Listen{
		SMTP: "0.0.0.0:25", Submission: "0.0.0.0:2587", Submissions: "[::]:2465",
		POP3: "127.0.0.1:2110", POP3S: "127.0.0.1:2995", IMAP: "127.0.0.1:2143", IMAPS: "127.0.0.1:2993",
		HTTP: "127.0.0.1:8080",
	}
}

// partial has IMAP with STARTTLS and submissions only.
func partial() config.Listen {
	return config.Listen{SMTP: "0.0.0.0:25", IMAP: "0.0.0.0:143", Submissions: "0.0.0.0:465"}
}

func local(d string) bool { return d == "hill.test" || d == "dale.test" }

func TestNew(t *testing.T) {
	s := New("MX.Hill.Test.", full())
	if s.Hostname != "mx.hill.test" {
		t.Errorf("hostname %q", s.Hostname)
	}
	var got []string
	for _, svc := range s.List {
		got = append(got, fmt.Sprintf("%s %s %s %d", svc.Name, svc.Protocol, svc.Security, svc.Port))
	}
	want := []string{"imaps imap SSL 2993", "imap imap STARTTLS 2143", "pop3s pop3 SSL 2995", "pop3 pop3 STARTTLS 2110",
		"submissions smtp SSL 2465", "submission smtp STARTTLS 2587"}
	if !slices.Equal(got, want) {
		t.Errorf("services\n%q\nwant\n%q", got, want)
	}
	if n := len(New("mx.hill.test", config.Listen{SMTP: ":25", HTTP: ":80", IMAP: "host:imap"}).List); n != 0 {
		t.Errorf("%d services without a numbered client listener", n)
	}
}

func TestThunderbird(t *testing.T) {
	for _, tc := range []struct {
		listen       config.Listen
		in, out      []string // "type port socketType"
		wantNotTypes []string
	}{
		{full(), []string{"imap 2993 SSL", "imap 2143 STARTTLS", "pop3 2995 SSL", "pop3 2110 STARTTLS"}, []string{"smtp 2465 SSL", "smtp 2587 STARTTLS"}, nil},
		{partial(), []string{"imap 143 STARTTLS"}, []string{"smtp 465 SSL"}, []string{"pop3"}},
	} {
		doc, err := New("mx.hill.test", tc.listen).Thunderbird("hill.test")
		if err != nil {
			t.Fatal(err)
		}
		checkThunderbird(t, doc, "hill.test", tc.in, tc.out)
		for _, typ := range tc.wantNotTypes {
			if bytes.Contains(doc, []byte(`type="`+typ+`"`)) {
				t.Errorf("%s named though it does not listen:\n%s", typ, doc)
			}
		}
	}
}

// checkThunderbird parses a clientConfig and checks every field.
func checkThunderbird(t *testing.T, doc []byte, domain string, in, out []string) {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte(xml.Header)) {
		t.Errorf("no XML declaration:\n%s", doc)
	}
	var cc ClientConfig
	if err := xml.Unmarshal(doc, &cc); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	p := cc.Provider
	if cc.XMLName.Local != "clientConfig" || cc.Version != "1.1" || p.ID != domain || !slices.Equal(p.Domain, []string{domain}) ||
		p.DisplayShortName != domain || !strings.Contains(p.DisplayName, domain) {
		t.Errorf("clientConfig %+v", cc)
	}
	check := func(kind string, servers []Server, want []string) {
		var got []string
		for _, s := range servers {
			got = append(got, fmt.Sprintf("%s %d %s", s.Type, s.Port, s.SocketType))
			if s.Hostname != "mx.hill.test" || s.Username != "%EMAILADDRESS%" || s.Authentication != "password-cleartext" {
				t.Errorf("%s %+v", kind, s)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s servers %q, want %q", kind, got, want)
		}
	}
	check("incoming", p.Incoming, in)
	check("outgoing", p.Outgoing, out)
}

func TestAutodiscover(t *testing.T) {
	for _, tc := range []struct {
		listen config.Listen
		want   []string // "Type Port Encryption"
	}{
		{full(), []string{"IMAP 2993 SSL", "POP3 2995 SSL", "SMTP 2465 SSL"}},
		{partial(), []string{"IMAP 143 TLS", "SMTP 465 SSL"}},
		{config.Listen{POP3: ":110", Submission: ":587"}, []string{"POP3 110 TLS", "SMTP 587 TLS"}},
	} {
		doc, err := New("mx.hill.test", tc.listen).Autodiscover("Jill@hill.test")
		if err != nil {
			t.Fatal(err)
		}
		var resp AutodiscoverResponse
		if err := xml.Unmarshal(doc, &resp); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if resp.XMLName.Space != AutodiscoverNS || resp.Response.XMLName.Space != OutlookSchema || resp.Response.Error != nil {
			t.Errorf("namespaces %q %q, error %+v:\n%s", resp.XMLName.Space, resp.Response.XMLName.Space, resp.Response.Error, doc)
		}
		// The settings are in the outlook schema's namespace, by default
		// namespace inheritance (what Outlook reads).
		if !bytes.Contains(doc, []byte(`<Response xmlns="`+OutlookSchema+`">`)) || bytes.Contains(doc, []byte(`xmlns=""`)) {
			t.Errorf("Response element:\n%s", doc)
		}
		if u := resp.Response.User; u == nil || u.EMailAddress != "Jill@hill.test" {
			t.Errorf("user %+v", u)
		}
		a := resp.Response.Account
		if a == nil || a.AccountType != "email" || a.Action != "settings" {
			t.Fatalf("account %+v", a)
		}
		var got []string
		for _, p := range a.Protocol {
			got = append(got, fmt.Sprintf("%s %d %s", p.Type, p.Port, p.Encryption))
			if p.Server != "mx.hill.test" || p.LoginName != "Jill@hill.test" || p.SSL != "on" || p.SPA != "off" ||
				p.DomainRequired != "off" || p.AuthRequired != "on" || (p.Type == "SMTP") != (p.UsePOPAuth == "off") {
				t.Errorf("protocol %+v", p)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("protocols %q, want %q", got, tc.want)
		}
	}
}

func TestAutodiscoverFailure(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 6, 7, 0, time.UTC)
	doc, err := New("mx.hill.test", full()).AutodiscoverFailure(ErrorNoProvider, "Provider is not available", now)
	if err != nil {
		t.Fatal(err)
	}
	var resp AutodiscoverResponse
	if err := xml.Unmarshal(doc, &resp); err != nil {
		t.Fatal(err)
	}
	e := resp.Response.Error
	if resp.XMLName.Space != AutodiscoverNS || resp.Response.XMLName.Space != AutodiscoverNS || bytes.Contains(doc, []byte(`xmlns=""`)) || resp.Response.Account != nil || e == nil || e.ErrorCode != 601 ||
		e.Message != "Provider is not available" || e.Time != "05:06:07.0000000" || e.ID == "" {
		t.Errorf("error %+v:\n%s", e, doc)
	}
}

func TestParseAutodiscoverRequest(t *testing.T) {
	const good = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress> jill@hill.test </EMailAddress>
    <AcceptableResponseSchema>` + OutlookSchema + `</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
	addr, schema, err := ParseAutodiscoverRequest(strings.NewReader(good))
	if err != nil || addr != "jill@hill.test" || schema != OutlookSchema {
		t.Errorf("good request: %q %q %v", addr, schema, err)
	}
	for name, body := range map[string]string{
		"empty":        "",
		"not xml":      "jill@hill.test",
		"other root":   `<Other><Request><EMailAddress>jill@hill.test</EMailAddress></Request></Other>`,
		"no address":   `<Autodiscover><Request></Request></Autodiscover>`,
		"bad address":  `<Autodiscover><Request><EMailAddress>jill</EMailAddress></Request></Autodiscover>`,
		"unclosed":     `<Autodiscover><Request><EMailAddress>jill@hill.test`,
		"entity bomb":  `<!DOCTYPE x [<!ENTITY a "aaaa">]><Autodiscover><Request><EMailAddress>&a;@hill.test</EMailAddress></Request></Autodiscover>`,
		"nul in addr":  "<Autodiscover><Request><EMailAddress>a\x00@hill.test</EMailAddress></Request></Autodiscover>",
		"angle in adr": `<Autodiscover><Request><EMailAddress>&lt;jill@hill.test&gt;</EMailAddress></Request></Autodiscover>`,
	} {
		if addr, _, err := ParseAutodiscoverRequest(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted, address %q", name, addr)
		}
	}
	// A huge body is not read past the bound.
	huge := &countingReader{r: io.MultiReader(strings.NewReader("<Autodiscover><Request><EMailAddress>"), infinite('a'))}
	if _, _, err := ParseAutodiscoverRequest(huge); err != ErrRequestTooLarge {
		t.Errorf("huge body: %v", err)
	}
	if huge.n > MaxAutodiscoverRequest+8192 {
		t.Errorf("read %d bytes of a huge body", huge.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// infinite is a reader of one byte for ever.
type infinite byte

func (b infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestMobileConfig(t *testing.T) {
	for _, tc := range []struct {
		listen             config.Listen
		accountType        string
		inPort, outPort    int
		wantErrNoProfile   bool
		mustNotMentionPort string
	}{
		{listen: full(), accountType: "EmailTypeIMAP", inPort: 2993, outPort: 2465, mustNotMentionPort: "2143"},
		{listen: partial(), accountType: "EmailTypeIMAP", inPort: 143, outPort: 465},
		{listen: config.Listen{POP3S: ":995", Submission: ":587"}, accountType: "EmailTypePOP", inPort: 995, outPort: 587},
		{listen: config.Listen{IMAPS: ":993", SMTP: ":25"}, wantErrNoProfile: true},
		{listen: config.Listen{Submissions: ":465"}, wantErrNoProfile: true},
	} {
		doc, err := New("mx.hill.test", tc.listen).MobileConfig("jill@Hill.Test")
		if tc.wantErrNoProfile {
			if err != ErrNoProfile {
				t.Errorf("%+v: %v, want ErrNoProfile", tc.listen, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		top := parsePlist(t, doc)
		content, _ := top["PayloadContent"].([]any)
		if len(content) != 1 {
			t.Fatalf("PayloadContent %v", top["PayloadContent"])
		}
		mail := content[0].(map[string]any)
		id, _ := top["PayloadIdentifier"].(string)
		if top["PayloadType"] != "Configuration" || top["PayloadVersion"] != 1 || !strings.HasPrefix(id, "test.hill.mx.pail.mail.") ||
			!isUUID(top["PayloadUUID"]) || top["PayloadRemovalDisallowed"] != false || top["PayloadDisplayName"] == "" {
			t.Errorf("profile %v", top)
		}
		want := map[string]any{
			"EmailAccountType":                       tc.accountType,
			"EmailAddress":                           "jill@hill.test",
			"EmailAccountName":                       "jill@hill.test",
			"EmailAccountDescription":                "jill@hill.test",
			"IncomingMailServerAuthentication":       "EmailAuthPassword",
			"IncomingMailServerHostName":             "mx.hill.test",
			"IncomingMailServerPortNumber":           tc.inPort,
			"IncomingMailServerUseSSL":               true,
			"IncomingMailServerUsername":             "jill@hill.test",
			"OutgoingMailServerAuthentication":       "EmailAuthPassword",
			"OutgoingMailServerHostName":             "mx.hill.test",
			"OutgoingMailServerPortNumber":           tc.outPort,
			"OutgoingMailServerUseSSL":               true,
			"OutgoingMailServerUsername":             "jill@hill.test",
			"OutgoingPasswordSameAsIncomingPassword": true,
			"PayloadType":                            "com.apple.mail.managed",
			"PayloadVersion":                         1,
			"PayloadIdentifier":                      id + ".account",
		}
		for k, v := range want {
			if mail[k] != v {
				t.Errorf("%s = %#v, want %#v", k, mail[k], v)
			}
		}
		if !isUUID(mail["PayloadUUID"]) || mail["PayloadUUID"] == top["PayloadUUID"] {
			t.Errorf("payload UUIDs %v %v", mail["PayloadUUID"], top["PayloadUUID"])
		}
		for k := range mail {
			if strings.Contains(k, "Password") && k != "OutgoingPasswordSameAsIncomingPassword" {
				t.Errorf("the profile carries %s", k)
			}
		}
		if tc.mustNotMentionPort != "" && bytes.Contains(doc, []byte(tc.mustNotMentionPort)) {
			t.Errorf("port %s named", tc.mustNotMentionPort)
		}
		// The same profile again: installing it replaces the first.
		again, _ := New("mx.hill.test", tc.listen).MobileConfig("jill@hill.test")
		if !bytes.Equal(doc, again) {
			t.Error("the profile differs between downloads")
		}
	}
	// An address with XML's special characters stays text.
	doc, err := New("mx.hill.test", full()).MobileConfig(`a&b"c@hill.test`)
	if err != nil {
		t.Fatal(err)
	}
	if mail := parsePlist(t, doc)["PayloadContent"].([]any)[0].(map[string]any); mail["EmailAddress"] != `a&b"c@hill.test` {
		t.Errorf("address %q", mail["EmailAddress"])
	}
	if _, err := New("mx.hill.test", full()).MobileConfig("not an address"); err == nil {
		t.Error("profile for a non-address")
	}
}

func isUUID(v any) bool {
	s, _ := v.(string)
	return len(s) == 36 && strings.Count(s, "-") == 4 && s[14] == '8'
}

// parsePlist reads a property list with encoding/xml into maps, slices,
// strings, ints and bools, failing on anything else.
func parsePlist(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	if !bytes.Contains(doc, []byte(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"`)) {
		t.Errorf("no plist DOCTYPE:\n%s", doc)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var value func(start xml.StartElement) any
	text := func(start xml.StartElement) string {
		var s string
		if err := d.DecodeElement(&s, &start); err != nil {
			t.Fatal(err)
		}
		return s
	}
	next := func() (xml.StartElement, bool) {
		for {
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				return tok, true
			case xml.EndElement:
				return xml.StartElement{}, false
			}
		}
	}
	value = func(start xml.StartElement) any {
		switch start.Name.Local {
		case "string":
			return text(start)
		case "integer":
			n, err := strconv.Atoi(text(start))
			if err != nil {
				t.Fatal(err)
			}
			return n
		case "true", "false":
			text(start)
			return start.Name.Local == "true"
		case "array":
			var out []any
			for {
				el, ok := next()
				if !ok {
					return out
				}
				out = append(out, value(el))
			}
		case "dict":
			out := map[string]any{}
			for {
				k, ok := next()
				if !ok {
					return out
				}
				if k.Name.Local != "key" {
					t.Fatalf("dict holds <%s> where a key belongs", k.Name.Local)
				}
				key := text(k)
				v, ok := next()
				if !ok {
					t.Fatalf("key %s without a value", key)
				}
				if _, dup := out[key]; dup {
					t.Errorf("key %s twice", key)
				}
				out[key] = value(v)
			}
		}
		t.Fatalf("unexpected <%s>", start.Name.Local)
		return nil
	}
	root, ok := next()
	if !ok || root.Name.Local != "plist" {
		t.Fatalf("root %v", root.Name)
	}
	el, _ := next()
	top, ok := value(el).(map[string]any)
	if !ok {
		t.Fatal("plist does not hold a dict")
	}
	return top
}

// TestHandler drives the handler as clients do.
func TestHandler(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "next", http.StatusTeapot) })
	h := &Handler{Services: New("mx.hill.test", partial()), IsLocal: local, Next: next,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, host, path, body string) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Host = host
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	in, out := []string{"imap 143 STARTTLS"}, []string{"smtp 465 SSL"}
	for _, tc := range []struct {
		host, path, domain string
	}{
		{"autoconfig.hill.test", "/mail/config-v1.1.xml", "hill.test"},
		{"AUTOCONFIG.Dale.Test.:80", "/mail/config-v1.1.xml?emailaddress=x%40dale.test", "dale.test"},
		{"autoconfig.hill.test", "/mail/config-v1.1.xml?emailaddress=x%40dale.test", "dale.test"},
		{"hill.test", "/.well-known/autoconfig/mail/config-v1.1.xml", "hill.test"},
		{"www.example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=jill%40hill.test", "hill.test"},
		{"autoconfig.dale.test", "/.well-known/autoconfig/mail/config-v1.1.xml", "dale.test"},
	} {
		code, hd, body := do("GET", tc.host, tc.path, "")
		if code != 200 || hd.Get("Content-Type") != "application/xml; charset=utf-8" {
			t.Errorf("%s%s: %d %s %s", tc.host, tc.path, code, hd.Get("Content-Type"), body)
			continue
		}
		checkThunderbird(t, body, tc.domain, in, out)
	}
	for _, tc := range []struct {
		method, host, path string
		want               int
	}{
		{"GET", "autoconfig.other.test", "/mail/config-v1.1.xml", http.StatusTeapot}, // not ours: the next handler's
		{"GET", "mx.hill.test", "/mail/config-v1.1.xml", http.StatusTeapot},
		{"GET", "autoconfig.hill.test", "/mail/config-v1.1.xml?emailaddress=x%40other.test", 404},
		{"GET", "autoconfig.hill.test", "/mail/config-v1.1.xml?emailaddress=nobody", 400},
		{"GET", "other.test", "/.well-known/autoconfig/mail/config-v1.1.xml", 404},
		{"GET", "hill.test", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=x%40other.test", 404},
		{"POST", "hill.test", "/.well-known/autoconfig/mail/config-v1.1.xml", 405},
		{"GET", "hill.test", "/autodiscover/autodiscover.xml", 405},
		{"GET", "hill.test", "/login", http.StatusTeapot},
	} {
		if code, _, body := do(tc.method, tc.host, tc.path, ""); code != tc.want {
			t.Errorf("%s %s%s: %d, want %d: %s", tc.method, tc.host, tc.path, code, tc.want, body)
		}
	}

	request := func(addr, schema string) string {
		return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>` +
			addr + `</EMailAddress><AcceptableResponseSchema>` + schema + `</AcceptableResponseSchema></Request></Autodiscover>`
	}
	for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml", "/AutoDiscover/AutoDiscover.xml"} {
		code, hd, body := do("POST", "autodiscover.hill.test", path, request("jack@hill.test", OutlookSchema))
		var resp AutodiscoverResponse
		if err := xml.Unmarshal(body, &resp); code != 200 || err != nil || resp.Response.Account == nil || hd.Get("Content-Type") != "application/xml; charset=utf-8" {
			t.Errorf("POST %s: %d %v %s", path, code, err, body)
			continue
		}
		if p := resp.Response.Account.Protocol; len(p) != 2 || p[0].Type != "IMAP" || p[0].Port != 143 || p[0].Encryption != "TLS" ||
			p[1].Type != "SMTP" || p[1].Port != 465 || p[1].Encryption != "SSL" || p[0].LoginName != "jack@hill.test" {
			t.Errorf("POST %s: protocols %+v", path, p)
		}
	}
	failure := func(name string, code int, body []byte, wantStatus, wantCode int) {
		t.Helper()
		var resp AutodiscoverResponse
		err := xml.Unmarshal(body, &resp)
		if code != wantStatus || err != nil || resp.Response.Error == nil || resp.Response.Error.ErrorCode != wantCode || resp.Response.Account != nil {
			t.Errorf("%s: %d %v %s, want %d with error %d", name, code, err, body, wantStatus, wantCode)
		}
	}
	code, _, body := do("POST", "hill.test", "/autodiscover/autodiscover.xml", request("jack@hill.test", "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"))
	failure("mobilesync", code, body, 200, ErrorNoProvider)
	code, _, body = do("POST", "hill.test", "/autodiscover/autodiscover.xml", "<Autodiscover><Request>")
	failure("bad body", code, body, 400, ErrorInvalidRequest)
	code, _, body = do("POST", "hill.test", "/autodiscover/autodiscover.xml", request("jack", OutlookSchema))
	failure("bad address", code, body, 400, ErrorInvalidRequest)
	code, _, body = do("POST", "hill.test", "/autodiscover/autodiscover.xml", request(strings.Repeat("a", MaxAutodiscoverRequest)+"@hill.test", OutlookSchema))
	failure("huge body", code, body, 413, ErrorInvalidRequest)
	// A huge body without a length (chunked) is refused at the bound too.
	req, _ := http.NewRequest("POST", srv.URL+"/autodiscover/autodiscover.xml", io.LimitReader(io.MultiReader(strings.NewReader("<Autodiscover><Request><EMailAddress>"), infinite('a')), 8<<20))
	req.ContentLength = -1
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	failure("huge chunked body", resp.StatusCode, body, 413, ErrorInvalidRequest)
	// Another domain's address: nothing to say.
	if code, _, body := do("POST", "hill.test", "/autodiscover/autodiscover.xml", request("jack@other.test", OutlookSchema)); code != 404 {
		t.Errorf("other domain: %d %s", code, body)
	}
	// HEAD gets the headers alone.
	if code, hd, body := do("HEAD", "autoconfig.hill.test", "/mail/config-v1.1.xml", ""); code != 200 || len(body) != 0 || hd.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d %q %v", code, body, hd)
	}
}
