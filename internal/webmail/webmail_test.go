package webmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/auth"
	"pail/internal/delivery"
	"pail/internal/message"
	"pail/internal/queue"
	"pail/internal/store"
)

// env is a webmail server on a real store with two accounts.
type env struct {
	t    *testing.T
	st   *store.Store
	srv  *Server
	cfg  Config
	deps Deps
	http *httptest.Server
	ids  map[string]int64 // account ids by address
	q    *queue.Queue     // the outgoing queue of the admin pages
	mu   sync.Mutex
	now  time.Time
}

const (
	jill = "jill@hill.test"
	jack = "jack@hill.test"
	bob  = "bob@hill.test"
)

func password(addr string) string { return "pw-" + addr }

type submitter struct {
	r *delivery.Router
	d *delivery.Deliverer
}

func (s submitter) Submit(ctx context.Context, acct store.Account, from string, rcpts []string, content io.Reader, tr delivery.Trace) (string, error) {
	return s.d.Submit(ctx, s.r, acct, from, rcpts, content, tr)
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, ids: map[string]int64{}, now: time.Now()}
	for _, a := range []string{jill, jack, bob} {
		h, err := auth.HashPassword(password(a))
		if err != nil {
			t.Fatal(err)
		}
		acct, err := st.AddAccount(ctx, a, h, false)
		if err != nil {
			t.Fatal(err)
		}
		e.ids[a] = acct.ID
	}
	authn := auth.New(st)
	authn.Sleep = func(context.Context, time.Duration) {}
	router := delivery.NewRouter(st, func(d string) bool { return d == "hill.test" }, "")
	deliverer := delivery.NewDeliverer(st, nil, nil, "mx.hill.test")
	cfg.Hostname = "mx.hill.test"
	if cfg.DoctorDir == "" {
		cfg.DoctorDir = t.TempDir()
	}
	e.q = newQueue(t, e.clock)
	e.cfg, e.deps = cfg, Deps{Store: st, Auth: authn, Submit: submitter{router, deliverer}, Now: e.clock,
		Admin: newAdmin(t, st), Queue: e.q}
	e.srv, err = New(context.Background(), e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

// restart replaces the web server with a new one on the same store, as a
// restart of pail does.
func (e *env) restart() {
	e.t.Helper()
	srv, err := New(context.Background(), e.cfg, e.deps)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.http.Config.Handler = srv.Handler()
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// deliver stores a raw message in a folder of addr and returns its id.
func (e *env) deliver(addr, folder, raw string, flags ...string) int64 {
	e.t.Helper()
	ctx := context.Background()
	sp, err := e.st.NewBody()
	if err != nil {
		e.t.Fatal(err)
	}
	sp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")))
	res, err := e.st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: e.ids[addr], Mailbox: folder, Flags: flags}})
	if err != nil {
		e.t.Fatal(err, res)
	}
	msgs, err := e.st.MessagesByUID(ctx, res[0].MailboxID, []uint32{res[0].UID})
	if err != nil || len(msgs) != 1 {
		e.t.Fatal(err, msgs)
	}
	return msgs[0].ID
}

// folder returns the messages in one of addr's folders.
func (e *env) folder(addr, name string) []store.Message {
	e.t.Helper()
	ctx := context.Background()
	mb, err := e.st.MailboxByName(ctx, e.ids[addr], name)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

// mailboxID is the id of one of addr's folders, 0 when there is none.
func (e *env) mailboxID(addr, name string) int64 {
	mb, err := e.st.MailboxByName(context.Background(), e.ids[addr], name)
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return mb.ID
}

func (e *env) raw(m store.Message) string {
	f, err := e.st.OpenBody(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	return string(b)
}

// browser is a client with its own cookies that does not follow
// redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) response {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp, string(body)}
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.http.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.http.URL)
	return b.do(req)
}

func (b *browser) login(addr string) {
	b.e.t.Helper()
	r := b.post("/login", url.Values{"address": {addr}, "password": {password(addr)}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/mail" {
		b.e.t.Fatalf("login %s: %d %s", addr, r.StatusCode, r.body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func (b *browser) csrf() string {
	b.e.t.Helper()
	r := b.get("/mail")
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.e.t.Fatalf("no csrf token in /mail: %d %s", r.StatusCode, r.body)
	}
	return m[1]
}

// action posts to /action with the session's CSRF token.
func (b *browser) action(op string, ids ...int64) response {
	b.e.t.Helper()
	form := url.Values{"csrf": {b.csrf()}, "op": {op}, "back": {"/mail"}}
	for _, id := range ids {
		form.Add("ids", fmt.Sprint(id))
	}
	return b.post("/action", form)
}

const plainMsg = "From: Jack <jack@hill.test>\nTo: jill@hill.test\nSubject: %s\nDate: Mon, 5 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@hill.test>\n\n%s\n"

func TestLoginAndSession(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	if r := b.get("/mail"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("/mail without session: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// A wrong password and an unknown account get the same answer.
	wrong := b.post("/login", url.Values{"address": {jill}, "password": {"nope"}})
	unknown := b.post("/login", url.Values{"address": {"nobody@hill.test"}, "password": {"nope"}})
	if wrong.StatusCode != http.StatusUnauthorized || unknown.StatusCode != http.StatusUnauthorized {
		t.Errorf("failed logins: %d %d", wrong.StatusCode, unknown.StatusCode)
	}
	if !strings.Contains(wrong.body, msgLoginFailed) || strings.ReplaceAll(wrong.body, jill, "X") != strings.ReplaceAll(unknown.body, "nobody@hill.test", "X") {
		t.Errorf("failed logins differ:\n%s\n---\n%s", wrong.body, unknown.body)
	}
	r := b.post("/login", url.Values{"address": {jill}, "password": {password(jill)}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	c := r.Cookies()
	if len(c) != 1 || c[0].Name != sessionCookie || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode || len(c[0].Value) != 43 {
		t.Errorf("cookie %+v", c)
	}
	page := b.get("/mail")
	if page.StatusCode != 200 || !strings.Contains(page.body, "INBOX") || !strings.Contains(page.body, "Trash") || !strings.Contains(page.body, jill) {
		t.Errorf("/mail: %d %s", page.StatusCode, page.body)
	}
	// Idle sessions end.
	e.advance(3 * time.Hour)
	if r := b.get("/mail"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("expired session still works: %d", r.StatusCode)
	}
	// Logging out ends the session on the server.
	b.login(jill)
	tok := b.csrf()
	old := b.c.Jar.Cookies(mustURL(e.http.URL))
	b.post("/logout", url.Values{"csrf": {tok}})
	b2 := e.browser()
	b2.c.Jar.SetCookies(mustURL(e.http.URL), old)
	if r := b2.get("/mail"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("session works after logout: %d", r.StatusCode)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestLoginLimited(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	// One past auth.DefaultFailuresPerAddress: refused whatever the
	// account's state.
	var last response
	for range auth.DefaultFailuresPerAddress + 1 {
		last = b.post("/login", url.Values{"address": {jill}, "password": {"wrong"}})
	}
	if last.StatusCode != http.StatusTooManyRequests || !strings.Contains(last.body, msgLoginLimited) {
		t.Errorf("after %d attempts: %d", auth.DefaultFailuresPerAddress+1, last.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	check := func(r response, what string) {
		t.Helper()
		h := r.Header
		if h.Get("Content-Security-Policy") == "" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", what, h)
		}
	}
	r := b.get("/login")
	check(r, "login")
	if r.Header.Get("Content-Security-Policy") != appCSP || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("login CSP %q", r.Header.Get("Content-Security-Policy"))
	}
	if !strings.Contains(appCSP, "script-src 'self'") || !strings.Contains(appCSP, "frame-ancestors 'none'") {
		t.Error("app CSP lacks script-src or frame-ancestors")
	}
	b.login(jill)
	check(b.get("/mail"), "mail")
	check(b.get("/static/app.css"), "static")
	check(b.get("/no/such/page"), "404")
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.deliver(jill, "", fmt.Sprintf(plainMsg, "hello", "m1", "body"))
	b := e.browser()
	b.login(jill)
	base := url.Values{"op": {"flag"}, "ids": {fmt.Sprint(id)}}
	if r := b.post("/action", base); r.StatusCode != http.StatusForbidden {
		t.Errorf("no token: %d", r.StatusCode)
	}
	bad := url.Values{"op": {"flag"}, "ids": {fmt.Sprint(id)}, "csrf": {"x" + b.csrf()}}
	if r := b.post("/action", bad); r.StatusCode != http.StatusForbidden {
		t.Errorf("wrong token: %d", r.StatusCode)
	}
	// The right token from another site's page is refused too.
	good := url.Values{"op": {"flag"}, "ids": {fmt.Sprint(id)}, "csrf": {b.csrf()}}
	req, _ := http.NewRequest("POST", e.http.URL+"/action", strings.NewReader(good.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.test")
	if r := b.do(req); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin: %d", r.StatusCode)
	}
	req, _ = http.NewRequest("POST", e.http.URL+"/action", strings.NewReader(good.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.do(req); r.StatusCode != http.StatusForbidden {
		t.Errorf("Sec-Fetch-Site cross-site: %d", r.StatusCode)
	}
	if m := e.folder(jill, "INBOX"); slices.Contains(m[0].Flags, `\Flagged`) {
		t.Fatal("flag changed by a refused request")
	}
	if r := b.post("/action", good); r.StatusCode != http.StatusSeeOther {
		t.Errorf("good token: %d %s", r.StatusCode, r.body)
	}
	if m := e.folder(jill, "INBOX"); !slices.Contains(m[0].Flags, `\Flagged`) {
		t.Error("flag not set")
	}
	// GET never changes anything.
	if r := b.get("/action?op=delete&ids=" + fmt.Sprint(id)); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /action: %d", r.StatusCode)
	}
}

// TestOtherUsersMessage: jill can reach none of jack's messages by id,
// by any URL, and the answer is the same as for an id that does not exist.
func TestOtherUsersMessage(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.deliver(jack, "", "From: x@town.test\nSubject: secret\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsecret text\n--b\nContent-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment; filename=a.pdf\n\n%PDF\n--b--\n")
	b := e.browser()
	b.login(jill)
	for _, path := range []string{"/msg/%d", "/msg/%d/body", "/msg/%d/part/1", "/compose?reply=%d", "/compose?forward=%d", "/compose?draft=%d"} {
		for _, n := range []int64{id, id + 1000} {
			r := b.get(fmt.Sprintf(path, n))
			if r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "secret") {
				t.Errorf("%s as jill: %d", fmt.Sprintf(path, n), r.StatusCode)
			}
		}
	}
	if r := b.get(fmt.Sprintf("/mail?box=%d", e.mailboxID(jack, "INBOX"))); r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "secret") {
		t.Errorf("jack's INBOX as jill: %d", r.StatusCode)
	}
	for _, op := range []string{"delete", "flag", "read"} {
		if r := b.action(op, id); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s jack's message: %d", op, r.StatusCode)
		}
	}
	// Moving her own message into jack's folder fails too.
	own := e.deliver(jill, "", fmt.Sprintf(plainMsg, "mine", "m9", "x"))
	form := url.Values{"csrf": {b.csrf()}, "op": {"move"}, "ids": {fmt.Sprint(own)}, "dest": {fmt.Sprint(e.mailboxID(jack, "INBOX"))}}
	if r := b.post("/action", form); r.StatusCode != http.StatusNotFound {
		t.Errorf("move into jack's folder: %d", r.StatusCode)
	}
	if len(e.folder(jack, "INBOX")) != 1 || len(e.folder(jack, "Trash")) != 0 || len(e.folder(jill, "INBOX")) != 1 {
		t.Error("a refused request changed a mailbox")
	}
}

const hostileHTML = `From: Mallory <mallory@evil.test>
To: jill@hill.test
Subject: hostile
Content-Type: text/html; charset=utf-8

<html><head><script>document.title="pwned"</script><style>body{background:url(http://evil.test/css.png)}</style></head>
<body onload="alert(1)">
<p>Hello<img src="http://evil.test/track.png" onerror="document.title='pwned'"></p>
<a href="javascript:alert(1)">click</a> <a href="https://good.test/page">link</a>
<form action="http://evil.test/steal" method="post"><input name="password"><button>Go</button></form>
<iframe src="http://evil.test/frame"></iframe>
<div style="background-image:url('http://evil.test/bg.png'); color: red">styled</div>
<svg><script>alert(1)</script></svg><object data="http://evil.test/x.swf"></object>
</body></html>
`

func TestSanitizedBody(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.deliver(jill, "", hostileHTML)
	b := e.browser()
	b.login(jill)
	page := b.get(fmt.Sprintf("/msg/%d", id))
	if !strings.Contains(page.body, `sandbox="allow-popups allow-popups-to-escape-sandbox"`) || !strings.Contains(page.body, "show-remote") {
		t.Errorf("read page lacks the sandboxed frame or the remote button:\n%s", page.body)
	}
	if strings.Contains(page.body, "track.png") || strings.Contains(page.body, "alert(") {
		t.Error("the read page itself carries the hostile HTML")
	}
	r := b.get(fmt.Sprintf("/msg/%d/body", id))
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "img-src data:;", "form-action 'none'", "sandbox"} {
		if !strings.Contains(csp, want) {
			t.Errorf("body CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "allow-scripts") || strings.Contains(csp, "allow-same-origin") {
		t.Errorf("body CSP allows scripts: %q", csp)
	}
	low := strings.ToLower(r.body)
	for _, bad := range []string{"<script", "onerror", "onload", "javascript:", "<form", "<iframe", "<object", "evil.test", "<style>body{back"} {
		if strings.Contains(low, bad) {
			t.Errorf("sanitized body contains %q:\n%s", bad, r.body)
		}
	}
	if !strings.Contains(r.body, "https://good.test/page") || !strings.Contains(r.body, "styled") || !strings.Contains(r.body, `rel="noreferrer`) && !strings.Contains(r.body, "noreferrer") {
		t.Errorf("sanitizing removed good content:\n%s", r.body)
	}
	// After "show remote images", remote images load, scripts still don't.
	r = b.get(fmt.Sprintf("/msg/%d/body?remote=1", id))
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data: https: http:") || strings.Contains(csp, "script") {
		t.Errorf("remote CSP %q", csp)
	}
	if !strings.Contains(r.body, "http://evil.test/track.png") || strings.Contains(strings.ToLower(r.body), "<script") || strings.Contains(r.body, "onerror") {
		t.Errorf("remote body:\n%s", r.body)
	}
}

func TestInlineImage(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.deliver(jill, "", "Subject: pic\nContent-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/html\n\n<p><img src=\"cid:logo@x\"></p>\n--b\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n")
	b := e.browser()
	b.login(jill)
	r := b.get(fmt.Sprintf("/msg/%d/body", id))
	if !strings.Contains(r.body, `src="data:image/png;base64,iVBORw0KGgo="`) {
		t.Errorf("cid not inlined:\n%s", r.body)
	}
}

func TestAttachmentDownload(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.deliver(jill, "", "Subject: files\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: text/html; name=\"evil.html\"\nContent-Disposition: attachment; filename=\"evil.html\"\n\n<script>alert(1)</script>\n--b\nContent-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n")
	b := e.browser()
	b.login(jill)
	page := b.get(fmt.Sprintf("/msg/%d", id))
	if !strings.Contains(page.body, "evil.html") || !strings.Contains(page.body, "résumé.pdf") || !strings.Contains(page.body, "application/pdf") {
		t.Errorf("attachments not listed:\n%s", page.body)
	}
	r := b.get(fmt.Sprintf("/msg/%d/part/1", id))
	if r.StatusCode != 200 || r.body != "<script>alert(1)</script>" {
		t.Errorf("part 1: %d %q", r.StatusCode, r.body)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "evil.html") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	r = b.get(fmt.Sprintf("/msg/%d/part/2", id))
	if r.body != "%PDF-" || !strings.Contains(r.Header.Get("Content-Disposition"), "filename*=utf-8''r%C3%A9sum%C3%A9.pdf") {
		t.Errorf("part 2: %q %q", r.body, r.Header.Get("Content-Disposition"))
	}
	if r := b.get(fmt.Sprintf("/msg/%d/part/9", id)); r.StatusCode != 404 {
		t.Errorf("missing part: %d", r.StatusCode)
	}
}

// composeForm posts the compose form as a browser does, with files.
func (b *browser) compose(fields map[string]string, files map[string]string) response {
	b.e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", b.csrf())
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for name, content := range files {
		fw, _ := w.CreateFormFile("attach", name)
		fw.Write([]byte(content))
	}
	w.Close()
	req, _ := http.NewRequest("POST", b.e.http.URL+"/compose", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", b.e.http.URL)
	return b.do(req)
}

func TestComposeSend(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	b.login(jill)
	r := b.compose(map[string]string{
		"to": "Jack <jack@hill.test>", "bcc": bob, "subject": "Grüße", "body": "Hello Jack,\nsee the file.\n", "action": "send",
	}, map[string]string{"notes.txt": "the notes\n"})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	got := e.folder(jack, "INBOX")
	if len(got) != 1 {
		t.Fatalf("jack has %d messages", len(got))
	}
	raw := e.raw(got[0])
	p, err := message.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "Grüße" || p.Text != "Hello Jack,\nsee the file.\n" || len(p.Parts) != 1 || p.Parts[0].Name != "notes.txt" {
		t.Errorf("received %+v", p)
	}
	for _, want := range []string{"Received: from webmail", "with HTTP", "Message-ID: <", "Date: ", "Subject: =?utf-8?q?", "MIME-Version: 1.0", "multipart/mixed"} {
		if !strings.Contains(raw, want) {
			t.Errorf("received message lacks %q:\n%s", want, raw)
		}
	}
	if strings.Contains(raw, "Bcc") || strings.Contains(raw, bob) {
		t.Errorf("Bcc leaked to To recipient:\n%s", raw)
	}
	if len(e.folder(bob, "INBOX")) != 1 {
		t.Error("Bcc recipient got nothing")
	}
	sent := e.folder(jill, "Sent")
	if len(sent) != 1 || !slices.Contains(sent[0].Flags, `\Seen`) {
		t.Fatalf("Sent: %+v", sent)
	}
	if s := e.raw(sent[0]); !strings.Contains(s, "Bcc: <bob@hill.test>") {
		t.Errorf("Sent copy lacks Bcc:\n%s", s)
	}

	// A bad address and an unknown local recipient are shown on the form.
	r = b.compose(map[string]string{"to": "not an address", "subject": "x", "body": "y", "action": "send"}, nil)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "not a list of mail addresses") || !strings.Contains(r.body, ">y</textarea>") {
		t.Errorf("bad address: %d %s", r.StatusCode, r.body)
	}
	r = b.compose(map[string]string{"to": "nobody@hill.test", "subject": "x", "body": "y", "action": "send"}, nil)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "Cannot send to nobody@hill.test") {
		t.Errorf("unknown recipient: %d %s", r.StatusCode, r.body)
	}
}

func TestComposeTooLarge(t *testing.T) {
	e := newEnv(t, Config{MaxMessageBytes: 4000})
	b := e.browser()
	b.login(jill)
	r := b.compose(map[string]string{"to": jack, "subject": "big", "body": "x", "action": "send"}, map[string]string{"big.bin": strings.Repeat("x", 3500)})
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %d %s", r.StatusCode, r.body)
	}
	r = b.compose(map[string]string{"to": jack, "subject": "big", "body": "x", "action": "send"}, map[string]string{"big.bin": strings.Repeat("x", 1<<20+5000)})
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("upload over the body bound: %d", r.StatusCode)
	}
	if len(e.folder(jack, "INBOX")) != 0 {
		t.Error("too large message was sent")
	}
}

func TestReplyAndForward(t *testing.T) {
	e := newEnv(t, Config{})
	orig := e.deliver(jill, "", "From: Jack <jack@hill.test>\nTo: jill@hill.test, bob@hill.test\nSubject: plans\nDate: Mon, 5 Jan 2026 10:00:00 +0000\nMessage-ID: <p1@hill.test>\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nline one\nline two\n--b\nContent-Type: text/plain; name=map.txt\nContent-Disposition: attachment; filename=map.txt\n\nthe map\n--b--\n")
	b := e.browser()
	b.login(jill)
	r := b.get(fmt.Sprintf("/compose?reply=%d&all=1", orig))
	for _, want := range []string{`value="Re: plans"`, "&gt; line one\n&gt; line two", `name="inreplyto" value="p1@hill.test"`, `name="to" value="&#34;Jack&#34; &lt;jack@hill.test&gt;"`, `name="cc" value="&lt;bob@hill.test&gt;"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("reply form lacks %q:\n%s", want, r.body)
		}
	}
	r = b.compose(map[string]string{"to": jack, "subject": "Re: plans", "body": "ok\n\n> line one\n", "inreplyto": "p1@hill.test", "references": "p1@hill.test", "reply": fmt.Sprint(orig), "action": "send"}, map[string]string{"reply.txt": "attached reply"})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %d %s", r.StatusCode, r.body)
	}
	raw := e.raw(e.folder(jack, "INBOX")[0])
	if !strings.Contains(raw, "In-Reply-To: <p1@hill.test>") || !strings.Contains(raw, "References: <p1@hill.test>") {
		t.Errorf("reply lacks threading fields:\n%s", raw)
	}
	if m := e.folder(jill, "INBOX"); !slices.Contains(m[0].Flags, `\Answered`) {
		t.Errorf("original not marked answered: %v", m[0].Flags)
	}

	r = b.get(fmt.Sprintf("/compose?forward=%d", orig))
	if !strings.Contains(r.body, `value="Fwd: plans"`) || !strings.Contains(r.body, `name="keep" value="1"`) || !strings.Contains(r.body, "Forwarded message") {
		t.Errorf("forward form:\n%s", r.body)
	}
	r = b.compose(map[string]string{"to": bob, "subject": "Fwd: plans", "body": "fyi", "src": fmt.Sprint(orig), "keep": "1", "action": "send"}, nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("forward: %d %s", r.StatusCode, r.body)
	}
	p, _ := message.Parse(strings.NewReader(e.raw(e.folder(bob, "INBOX")[0])))
	if len(p.Parts) != 1 || p.Parts[0].Name != "map.txt" {
		t.Errorf("forwarded attachments %+v", p.Parts)
	}
}

func TestDrafts(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	b.login(jill)
	r := b.compose(map[string]string{"to": jack, "subject": "later", "body": "draft text", "action": "save"}, map[string]string{"a.txt": "A"})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.StatusCode, r.body)
	}
	drafts := e.folder(jill, "Drafts")
	if len(drafts) != 1 || !slices.Contains(drafts[0].Flags, `\Draft`) {
		t.Fatalf("Drafts: %+v", drafts)
	}
	r = b.get(fmt.Sprintf("/compose?draft=%d", drafts[0].ID))
	if !strings.Contains(r.body, `value="later"`) || !strings.Contains(r.body, "draft text") || !strings.Contains(r.body, "a.txt") {
		t.Errorf("draft form:\n%s", r.body)
	}
	// Sending the draft removes it from Drafts.
	r = b.compose(map[string]string{"to": jack, "subject": "later", "body": "final", "draft": fmt.Sprint(drafts[0].ID), "src": fmt.Sprint(drafts[0].ID), "keep": "1", "action": "send"}, nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send draft: %d %s", r.StatusCode, r.body)
	}
	if n := len(e.folder(jill, "Drafts")); n != 0 {
		t.Errorf("%d drafts left", n)
	}
	p, _ := message.Parse(strings.NewReader(e.raw(e.folder(jack, "INBOX")[0])))
	if len(p.Parts) != 1 || p.Parts[0].Name != "a.txt" {
		t.Errorf("draft attachment not sent: %+v", p.Parts)
	}
}

func TestDeleteMoveFlags(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.deliver(jill, "", fmt.Sprintf(plainMsg, "one", "a", "x"))
	c := e.deliver(jill, "", fmt.Sprintf(plainMsg, "two", "c", "x"))
	b := e.browser()
	b.login(jill)
	if r := b.action("read", a, c); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("read: %d", r.StatusCode)
	}
	for _, m := range e.folder(jill, "INBOX") {
		if !slices.Contains(m.Flags, `\Seen`) {
			t.Errorf("not read: %v", m.Flags)
		}
	}
	b.action("unread", a)
	if m := e.folder(jill, "INBOX"); slices.Contains(m[0].Flags, `\Seen`) {
		t.Error("still read")
	}
	// Delete goes to Trash, then for good.
	b.action("delete", a)
	if len(e.folder(jill, "INBOX")) != 1 || len(e.folder(jill, "Trash")) != 1 {
		t.Fatal("delete did not move to Trash")
	}
	b.action("delete", e.folder(jill, "Trash")[0].ID)
	if len(e.folder(jill, "Trash")) != 0 {
		t.Error("delete from Trash kept the message")
	}
	form := url.Values{"csrf": {b.csrf()}, "op": {"move"}, "ids": {fmt.Sprint(c)}, "dest": {fmt.Sprint(e.mailboxID(jill, "Archive"))}}
	if r := b.post("/action", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("move: %d", r.StatusCode)
	}
	if len(e.folder(jill, "INBOX")) != 0 || len(e.folder(jill, "Archive")) != 1 {
		t.Error("move failed")
	}
}

var rowRE = regexp.MustCompile(`<td class="subject"><a href="/msg/\d+">([^<]*)</a>`)

func TestListPagesAndSearch(t *testing.T) {
	e := newEnv(t, Config{PageSize: 3})
	for i := 1; i <= 7; i++ {
		e.deliver(jill, "", fmt.Sprintf(plainMsg, fmt.Sprintf("msg %d", i), fmt.Sprint(i), fmt.Sprintf("body number %d", i)))
	}
	e.deliver(jill, "", "From: Carol <carol@town.test>\nSubject: lunch\n\nmeet at noon\n", `\Seen`, `\Flagged`)
	b := e.browser()
	b.login(jill)
	subjects := func(r response) []string {
		var out []string
		for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	p1 := b.get("/mail")
	if got := subjects(p1); !slices.Equal(got, []string{"lunch", "msg 7", "msg 6"}) {
		t.Errorf("page 1: %v", got)
	}
	if !strings.Contains(p1.body, "Page 1 of 3") || !strings.Contains(p1.body, `rel="next"`) || strings.Contains(p1.body, `rel="prev"`) {
		t.Errorf("pager on page 1")
	}
	if !strings.Contains(p1.body, `<tr class=" flagged"`) || strings.Count(p1.body, `<tr class="unread"`) != 2 {
		t.Errorf("unread/flagged marks:\n%s", p1.body)
	}
	if got := subjects(b.get("/mail?page=3")); !slices.Equal(got, []string{"msg 2", "msg 1"}) {
		t.Errorf("page 3: %v", got)
	}
	if got := subjects(b.get("/mail?page=99")); !slices.Equal(got, []string{"msg 2", "msg 1"}) {
		t.Errorf("page 99: %v", got)
	}
	for _, tc := range []struct {
		q, in string
		want  []string
	}{
		{"carol", "from", []string{"lunch"}},
		{"LUNCH", "subject", []string{"lunch"}},
		{"noon", "body", []string{"lunch"}},
		{"number 4", "all", []string{"msg 4"}},
		{"jack", "subject", nil},
	} {
		r := b.get("/mail?" + url.Values{"q": {tc.q}, "in": {tc.in}}.Encode())
		if got := subjects(r); !slices.Equal(got, tc.want) {
			t.Errorf("search %q in %s: %v, want %v", tc.q, tc.in, got, tc.want)
		}
	}
}

func TestReadMarksSeenAndShowsText(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.deliver(jill, "", fmt.Sprintf(plainMsg, "hi <b>there</b>", "r1", "<script>alert(1)</script> plain"))
	b := e.browser()
	b.login(jill)
	r := b.get(fmt.Sprintf("/msg/%d", id))
	if r.StatusCode != 200 || !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt; plain") || !strings.Contains(r.body, "hi &lt;b&gt;there&lt;/b&gt;") {
		t.Errorf("read page:\n%s", r.body)
	}
	if m := e.folder(jill, "INBOX"); !slices.Contains(m[0].Flags, `\Seen`) {
		t.Error("not marked seen")
	}
	if !strings.Contains(r.body, `data-key="r"`) {
		t.Error("no reply shortcut")
	}
}

func TestFolders(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	b.login(jill)
	folders := func(f url.Values) response {
		f.Set("csrf", b.csrf())
		return b.post("/folders", f)
	}

	// Create, with parents; the folder's page offers rename and delete.
	r := folders(url.Values{"op": {"create"}, "name": {"Lists/go"}})
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "note=created") {
		t.Fatalf("create: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	goID := e.mailboxID(jill, "Lists/go")
	if goID == 0 || e.mailboxID(jill, "Lists") == 0 {
		t.Fatal("folder or its parent not created")
	}
	page := b.get(r.Header.Get("Location"))
	if !strings.Contains(page.body, "Folder created.") || !strings.Contains(page.body, `value="rename"`) {
		t.Errorf("folder page: %s", page.body)
	}
	if inbox := b.get(fmt.Sprintf("/mail?box=%d", e.mailboxID(jill, "INBOX"))); strings.Contains(inbox.body, `value="rename"`) {
		t.Error("INBOX offers rename")
	}
	for _, bad := range []string{"", "/x", "a//b", "a*", "a%b", "a\x01b", "inbox", strings.Repeat("x", 513)} {
		if r := folders(url.Values{"op": {"create"}, "name": {bad}}); r.StatusCode != http.StatusBadRequest {
			t.Errorf("create %q: %d", bad, r.StatusCode)
		}
	}
	if r := folders(url.Values{"op": {"create"}, "name": {"Lists/go"}}); r.StatusCode != http.StatusConflict {
		t.Errorf("create twice: %d", r.StatusCode)
	}

	// Rename keeps the folder (and its mail); special folders stay.
	e.deliver(jill, "Lists/go", fmt.Sprintf(plainMsg, "gophers", "g", "x"))
	r = folders(url.Values{"op": {"rename"}, "box": {fmt.Sprint(goID)}, "name": {"Lists/golang"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename: %d %s", r.StatusCode, r.body)
	}
	if e.mailboxID(jill, "Lists/golang") != goID || len(e.folder(jill, "Lists/golang")) != 1 {
		t.Fatal("rename lost the folder or its mail")
	}
	for _, name := range []string{"INBOX", "Sent", "Trash"} {
		f := url.Values{"op": {"rename"}, "box": {fmt.Sprint(e.mailboxID(jill, name))}, "name": {"x"}}
		if r := folders(f); r.StatusCode != http.StatusBadRequest {
			t.Errorf("rename %s: %d", name, r.StatusCode)
		}
		f.Set("op", "delete")
		if r := folders(f); r.StatusCode != http.StatusBadRequest {
			t.Errorf("delete %s: %d", name, r.StatusCode)
		}
	}

	// Another user's folder is not there, whatever the operation.
	bobs := e.mailboxID(bob, "Archive")
	for _, op := range []string{"rename", "delete"} {
		if r := folders(url.Values{"op": {op}, "box": {fmt.Sprint(bobs)}, "name": {"mine"}}); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s bob's folder: %d", op, r.StatusCode)
		}
	}
	if e.mailboxID(bob, "Archive") != bobs {
		t.Fatal("bob's folder changed")
	}

	// Delete moves the folder's mail to Trash first.
	r = folders(url.Values{"op": {"delete"}, "box": {fmt.Sprint(goID)}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if e.mailboxID(jill, "Lists/golang") != 0 {
		t.Error("folder still there")
	}
	if trash := e.folder(jill, "Trash"); len(trash) != 1 {
		t.Errorf("Trash holds %d messages, want the deleted folder's one", len(trash))
	}

	// Without the CSRF token nothing happens.
	if r := b.post("/folders", url.Values{"op": {"create"}, "name": {"Sneaky"}}); r.StatusCode != http.StatusForbidden || e.mailboxID(jill, "Sneaky") != 0 {
		t.Errorf("no csrf: %d", r.StatusCode)
	}
}

func TestSessionsOutliveRestartButNotPasswordChange(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	b := e.browser()
	b.login(jill)
	token := b.c.Jar.Cookies(mustURL(e.http.URL))[0].Value

	// The store keeps a hash of the token, never the token.
	stored, err := e.st.WebSessions(ctx)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored sessions %v, %v", stored, err)
	}
	if stored[0].TokenHash == token || stored[0].TokenHash != keyOf(token) || stored[0].AccountID != e.ids[jill] {
		t.Errorf("stored session %+v", stored[0])
	}

	e.restart()
	if r := b.get("/mail"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, jill) {
		t.Fatalf("session lost in the restart: %d", r.StatusCode)
	}
	// Forms go on working: the CSRF token came back with the session.
	if r := b.action("read", e.deliver(jill, "", fmt.Sprintf(plainMsg, "one", "a", "x"))); r.StatusCode != http.StatusSeeOther {
		t.Errorf("action after restart: %d %s", r.StatusCode, r.body)
	}

	// Logging out removes it from the store.
	b.post("/logout", url.Values{"csrf": {b.csrf()}})
	if stored, _ := e.st.WebSessions(ctx); len(stored) != 0 {
		t.Errorf("session still stored after logout: %+v", stored)
	}

	// A password change ends every session of the account.
	b.login(jill)
	other := e.browser()
	other.login(jill)
	h, _ := auth.HashPassword("new password")
	if err := e.st.SetPassword(ctx, jill, h); err != nil {
		t.Fatal(err)
	}
	for _, br := range []*browser{b, other} {
		if r := br.get("/mail"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("session survived a password change: %d", r.StatusCode)
		}
	}
	if stored, _ := e.st.WebSessions(ctx); len(stored) != 0 {
		t.Errorf("ended sessions still stored: %+v", stored)
	}

	// Sessions that ended while the server was down are dropped at start.
	bb := e.browser()
	bb.login(bob)
	e.advance(3 * time.Hour)
	e.restart()
	if stored, _ := e.st.WebSessions(ctx); len(stored) != 0 {
		t.Errorf("expired session kept at start: %+v", stored)
	}
	if r := bb.get("/mail"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("expired session works: %d", r.StatusCode)
	}
}
