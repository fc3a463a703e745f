package webmail

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"pail/internal/doctor"
	"strings"
	"testing"
	"time"

	"pail/internal/admin"
	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/queue"
	"pail/internal/store"
)

// newAdmin returns the admin operations on st for the domain hill.test,
// with DKIM keys in a temporary directory.
func newAdmin(t *testing.T, st *store.Store) *admin.Admin {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname, cfg.Domains = "mx.hill.test", []string{"hill.test"}
	keys, err := dkim.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &admin.Admin{Store: st, Config: func() *config.Config { return cfg }, DKIMKeys: keys.Ensure}
}

// newQueue opens an outgoing queue in a temporary directory, on the
// clock now, without a scheduler: what is queued stays there.
func newQueue(t *testing.T, now func() time.Time) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), queue.Config{Dir: t.TempDir(), Hostname: "mx.hill.test", Lifetime: 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// enqueue puts a message for rcpt in the queue.
func (e *env) enqueue(id, rcpt, raw string) {
	e.t.Helper()
	msg := strings.ReplaceAll(raw, "\n", "\r\n")
	if err := e.q.Enqueue(context.Background(), id, jack, []string{rcpt}, io.NewSectionReader(strings.NewReader(msg), 0, int64(len(msg))), false); err != nil {
		e.t.Fatal(err)
	}
}

// form posts to an admin form with the session's CSRF token.
func (b *browser) form(path string, fields ...string) response {
	b.e.t.Helper()
	v := url.Values{"csrf": {b.csrf()}}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Add(fields[i], fields[i+1])
	}
	return b.post(path, v)
}

// loginAs logs in with an explicit password and reports the status.
func (b *browser) loginAs(addr, pw string) int {
	b.e.t.Helper()
	return b.post("/login", url.Values{"address": {addr}, "password": {pw}}).StatusCode
}

var adminGets = []string{"/admin", "/admin/accounts", "/admin/aliases", "/admin/queue", "/admin/queue/m1", "/admin/dns", "/admin/doctor"}

// TestAdminForbiddenToNonAdmins: jack, not an admin, gets 403 on every
// admin page and every admin form, even with a valid CSRF token, and
// nothing changes; without a session the pages send to the login page
// and the forms are refused.
func TestAdminForbiddenToNonAdmins(t *testing.T) {
	e := newEnv(t, Config{})
	e.enqueue("m1", "carol@town.test", "Subject: q\n\nq\n")
	anon := e.browser()
	b := e.browser()
	b.login(jack)
	for _, p := range adminGets {
		if r := b.get(p); r.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s as a non-admin: %d", p, r.StatusCode)
		}
		if r := anon.get(p); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("GET %s without a session: %d %s", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	posts := [][]string{
		{"/admin/accounts", "op", "add", "address", "eve@hill.test", "password", "secret"},
		{"/admin/accounts", "op", "admin", "address", jack},
		{"/admin/accounts", "op", "password", "address", jill, "password", "stolen"},
		{"/admin/accounts", "op", "delete", "address", bob},
		{"/admin/aliases", "op", "add", "alias", "all@hill.test", "targets", jack},
		{"/admin/queue", "op", "delete", "id", "m1"},
		{"/admin/queue", "op", "flush"},
	}
	for _, p := range posts {
		if r := b.form(p[0], p[1:]...); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %v as a non-admin: %d", p, r.StatusCode)
		}
		if r := anon.post(p[0], url.Values{"op": {p[2]}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %v without a session: %d", p, r.StatusCode)
		}
	}
	ctx := context.Background()
	if _, err := e.st.AccountByAddress(ctx, "eve@hill.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("eve was added: %v", err)
	}
	if a, _ := e.st.AccountByAddress(ctx, jack); a.Admin {
		t.Error("jack made himself an admin")
	}
	if _, err := e.st.AccountByAddress(ctx, bob); err != nil {
		t.Errorf("bob deleted: %v", err)
	}
	if e.anotherLogin(jill, password(jill)) != http.StatusSeeOther {
		t.Error("jill's password was changed")
	}
	if al, _ := e.st.Aliases(ctx); len(al) != 0 {
		t.Errorf("alias added: %v", al)
	}
	if msgs, _ := e.q.List(ctx); len(msgs) != 1 {
		t.Errorf("queue after the refused delete: %v", msgs)
	}
	// The navigation links the admin pages for admins only, and the
	// settings for everyone.
	page := b.get("/mail").body
	if strings.Contains(page, `href="/admin"`) || !strings.Contains(page, `href="/settings"`) {
		t.Errorf("jack's navigation: admin link or no settings link")
	}
	a := e.browser()
	a.login(jill)
	if page := a.get("/mail").body; !strings.Contains(page, `href="/admin"`) || !strings.Contains(page, `href="/settings"`) {
		t.Errorf("jill's navigation lacks the admin or settings link")
	}
}

// anotherLogin logs in from a fresh browser and returns the status.
func (e *env) anotherLogin(addr, pw string) int {
	return e.browser().loginAs(addr, pw)
}

// TestAdminCSRF: an admin's form without the CSRF token, with a wrong
// one, or from another site is refused and changes nothing.
func TestAdminCSRF(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	b.login(jill) // the first account: an admin
	add := url.Values{"op": {"add"}, "address": {"eve@hill.test"}, "password": {"secret"}}
	if r := b.post("/admin/accounts", add); r.StatusCode != http.StatusForbidden {
		t.Errorf("no token: %d", r.StatusCode)
	}
	add.Set("csrf", "x"+b.csrf())
	if r := b.post("/admin/accounts", add); r.StatusCode != http.StatusForbidden {
		t.Errorf("wrong token: %d", r.StatusCode)
	}
	add.Set("csrf", b.csrf())
	req, _ := http.NewRequest("POST", e.http.URL+"/admin/accounts", strings.NewReader(add.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.do(req); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site: %d", r.StatusCode)
	}
	for _, f := range []url.Values{
		{"op": {"delete"}, "address": {bob}},
		{"op": {"flush"}},
	} {
		if r := b.post("/admin/accounts", f); r.StatusCode != http.StatusForbidden {
			t.Errorf("%v without token: %d", f, r.StatusCode)
		}
	}
	if _, err := e.st.AccountByAddress(context.Background(), "eve@hill.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("eve was added: %v", err)
	}
	// A form past the bound is refused before it is read.
	big := url.Values{"csrf": {b.csrf()}, "op": {"add"}, "address": {"eve@hill.test"}, "password": {strings.Repeat("x", maxAdminForm)}}
	if r := b.post("/admin/accounts", big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form: %d", r.StatusCode)
	}
}

// TestAdminAccounts: an admin adds an account that can then log in,
// resets its password (the old one and its sessions stop working), makes
// it an admin and back, deletes it; the last admin can neither lose the
// flag nor be deleted; bad input is refused with a reason, escaped.
func TestAdminAccounts(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	b := e.browser()
	b.login(jill)
	r := b.form("/admin/accounts", "op", "add", "address", "Eve@Hill.test", "password", "eve-secret")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Added eve@hill.test.") || !strings.Contains(r.body, `data-account="eve@hill.test"`) {
		t.Fatalf("add: %d %s", r.StatusCode, r.body)
	}
	eve, err := e.st.AccountByAddress(ctx, "eve@hill.test")
	if err != nil || eve.Admin || strings.Contains(eve.PasswordHash, "eve-secret") || !strings.HasPrefix(eve.PasswordHash, "$argon2id$") {
		t.Fatalf("eve in the store: %+v %v", eve, err)
	}
	eb := e.browser()
	if eb.loginAs("eve@hill.test", "eve-secret") != http.StatusSeeOther {
		t.Fatal("the new account cannot log in")
	}
	for _, bad := range []struct{ addr, pw, want string }{
		{"eve@hill.test", "x", "already exists"},
		{"eve@town.test", "x", "not in the configured domains"},
		{"<script>@hill.test", "x", "&lt;script&gt;"},
		{"amy@hill.test", "", "empty password"},
	} {
		r := b.form("/admin/accounts", "op", "add", "address", bad.addr, "password", bad.pw)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, bad.want) || strings.Contains(r.body, "<script>") {
			t.Errorf("add %q: %d, want %q in\n%s", bad.addr, r.StatusCode, bad.want, r.body)
		}
	}
	// Reset: the old password and eve's session end, the new one works.
	r = b.form("/admin/accounts", "op", "password", "address", "eve@hill.test", "password", "eve-new")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Changed the password of eve@hill.test") {
		t.Fatalf("reset: %d %s", r.StatusCode, r.body)
	}
	if g := eb.get("/mail"); g.StatusCode != http.StatusSeeOther {
		t.Errorf("eve's session survived the reset: %d", g.StatusCode)
	}
	if e.anotherLogin("eve@hill.test", "eve-secret") != http.StatusUnauthorized || e.anotherLogin("eve@hill.test", "eve-new") != http.StatusSeeOther {
		t.Error("after the reset the old password works or the new one does not")
	}
	if r := b.form("/admin/accounts", "op", "password", "address", "nobody@hill.test", "password", "x"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "no account nobody@hill.test") {
		t.Errorf("reset of a missing account: %d", r.StatusCode)
	}
	// The last admin stays.
	for _, op := range []string{"unadmin", "delete"} {
		r := b.form("/admin/accounts", "op", op, "address", jill)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "last admin") {
			t.Errorf("%s of the last admin: %d %s", op, r.StatusCode, r.body)
		}
	}
	if j, err := e.st.AccountByAddress(ctx, jill); err != nil || !j.Admin {
		t.Fatalf("jill after the refusals: %+v %v", j, err)
	}
	// With a second admin, jill may step down.
	if r := b.form("/admin/accounts", "op", "admin", "address", "eve@hill.test"); r.StatusCode != http.StatusOK {
		t.Fatalf("make eve admin: %d %s", r.StatusCode, r.body)
	}
	if a, _ := e.st.AccountByAddress(ctx, "eve@hill.test"); !a.Admin {
		t.Fatal("eve is not an admin")
	}
	if r := b.form("/admin/accounts", "op", "unadmin", "address", jill); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("jill steps down: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/admin/accounts"); r.StatusCode != http.StatusForbidden {
		t.Errorf("jill, no longer an admin: %d", r.StatusCode)
	}
	a := e.browser()
	a.login(jill)
	eb = e.browser()
	eb.loginAs("eve@hill.test", "eve-new")
	if r := eb.form("/admin/accounts", "op", "delete", "address", bob); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Deleted bob@hill.test") {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if _, err := e.st.AccountByAddress(ctx, bob); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob still there: %v", err)
	}
	if r := eb.form("/admin/accounts", "op", "delete", "address", bob); r.StatusCode != http.StatusBadRequest {
		t.Errorf("deleting a missing account: %d", r.StatusCode)
	}
}

// TestAdminAliases: an admin adds an alias with two targets, it is in
// the store and on the page, removes one target, then the alias.
func TestAdminAliases(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	b := e.browser()
	b.login(jill)
	r := b.form("/admin/aliases", "op", "add", "alias", "Info@hill.test", "targets", "jack@hill.test, bob@hill.test")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-alias="info@hill.test"`) {
		t.Fatalf("add: %d %s", r.StatusCode, r.body)
	}
	if got, _ := e.st.AliasTargets(ctx, "info@hill.test"); strings.Join(got, " ") != "bob@hill.test jack@hill.test" {
		t.Errorf("targets: %v", got)
	}
	for _, bad := range [][]string{
		{"alias", jack, "targets", bob},                   // an account
		{"alias", "info@town.test", "targets", bob},       // not local
		{"alias", "x@hill.test", "targets", "not an@@@ "}, // bad target
	} {
		if r := b.form("/admin/aliases", append([]string{"op", "add"}, bad...)...); r.StatusCode != http.StatusBadRequest {
			t.Errorf("add %v: %d", bad, r.StatusCode)
		}
	}
	if r := b.form("/admin/aliases", "op", "delete", "alias", "info@hill.test", "targets", bob); r.StatusCode != http.StatusOK {
		t.Fatalf("remove a target: %d %s", r.StatusCode, r.body)
	}
	if got, _ := e.st.AliasTargets(ctx, "info@hill.test"); strings.Join(got, " ") != "jack@hill.test" {
		t.Errorf("targets after removing bob: %v", got)
	}
	if r := b.form("/admin/aliases", "op", "delete", "alias", "info@hill.test"); r.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if al, _ := e.st.Aliases(ctx); len(al) != 0 {
		t.Errorf("aliases left: %v", al)
	}
	if r := b.form("/admin/aliases", "op", "delete", "alias", "info@hill.test"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "no alias info@hill.test") {
		t.Errorf("deleting a missing alias: %d", r.StatusCode)
	}
}

// TestAdminQueue: the queue page lists what a real queue holds, shows
// one message with its content escaped, flushes (pending recipients due
// now) and deletes.
func TestAdminQueue(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.enqueue("m1", "carol@town.test", "Subject: <script>alert(1)</script>\n\nfirst\n")
	e.enqueue("m2", "dave@far.test", "Subject: second\n\nsecond\n")
	b := e.browser()
	b.login(jill)
	r := b.get("/admin/queue")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-queued="m1"`) || !strings.Contains(r.body, `data-queued="m2"`) ||
		!strings.Contains(r.body, "carol@town.test") || !strings.Contains(r.body, "2 recipient(s) pending") {
		t.Fatalf("list: %d %s", r.StatusCode, r.body)
	}
	r = b.get("/admin/queue/m1")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Subject: &lt;script&gt;alert(1)&lt;/script&gt;\n\nfirst") || strings.Contains(r.body, "<script>alert") {
		t.Fatalf("show: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/admin/queue/nope"); r.StatusCode != http.StatusNotFound {
		t.Errorf("show of a missing message: %d", r.StatusCode)
	}
	// Flush makes every pending recipient due now: an hour after they
	// were queued (due then), their next attempt is the new now.
	e.advance(time.Hour)
	r = b.form("/admin/queue", "op", "flush")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "2 recipient(s) due now") {
		t.Fatalf("flush: %d %s", r.StatusCode, r.body)
	}
	after, _ := e.q.List(ctx)
	for _, m := range after {
		if d := e.clock().Sub(m.Recipients[0].NextAttempt); d < 0 || d > time.Second {
			t.Errorf("%s: next attempt %v after the flush at %v", m.ID, m.Recipients[0].NextAttempt, e.clock())
		}
	}
	r = b.form("/admin/queue", "op", "delete", "id", "m1")
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, `data-queued="m1"`) || !strings.Contains(r.body, `data-queued="m2"`) {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if msgs, _ := e.q.List(ctx); len(msgs) != 1 || msgs[0].ID != "m2" {
		t.Errorf("queue after delete: %+v", msgs)
	}
	if r := b.form("/admin/queue", "op", "delete", "id", "m1"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("deleting a missing message: %d", r.StatusCode)
	}
}

// TestAdminDNSAndDoctor: the DNS page shows what pail dns-records prints
// for each local domain; the doctor page says pail doctor has not run
// until its results file exists, then shows each result escaped.
func TestAdminDNSAndDoctor(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	b.login(jill)
	want, err := e.deps.Admin.DNSRecords("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	r := b.get("/admin/dns")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-domain="hill.test"`) || len(want.Records) < 4 {
		t.Fatalf("dns: %d %s", r.StatusCode, r.body)
	}
	text := html.UnescapeString(r.body)
	for _, rr := range want.Records {
		if !strings.Contains(text, rr.String()) {
			t.Errorf("dns page lacks %q", rr.String())
		}
	}
	if !strings.Contains(r.body, "IN\tMX\t10 mx.hill.test.") || !strings.Contains(r.body, "_domainkey.hill.test.") {
		t.Errorf("no MX or DKIM record:\n%s", r.body)
	}
	// The host name's TLSA record, or why there is none, as pail
	// dns-records says it.
	if len(want.Notes) == 0 || !strings.Contains(strings.Join(want.Notes, "\n"), "TLSA") {
		t.Errorf("no DANE note in the listing: %q", want.Notes)
	}
	for _, n := range want.Notes {
		if !strings.Contains(text, n) {
			t.Errorf("dns page lacks the note %q", n)
		}
	}

	if r := b.get("/admin/doctor"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, msgDoctorNotRun) {
		t.Errorf("doctor before a run: %d %s", r.StatusCode, r.body)
	}
	report := `{"time":"2026-12-07T05:00:00Z","results":[` +
		`{"check":"MX","status":"OK","detail":"hill.test MX mx.hill.test","fix":""},` +
		`{"check":"DKIM <sel>","status":"FAIL","detail":"published key differs","fix":"publish the record of pail dns-records"}]}`
	if err := os.WriteFile(doctor.Path(e.cfg.DoctorDir), []byte(report), 0o600); err != nil {
		t.Fatal(err)
	}
	r = b.get("/admin/doctor")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "2 check(s), 1 FAIL, 0 WARN") || !strings.Contains(r.body, "DKIM &lt;sel&gt;") ||
		!strings.Contains(r.body, "publish the record of pail dns-records") || strings.Contains(r.body, msgDoctorNotRun) {
		t.Errorf("doctor: %d %s", r.StatusCode, r.body)
	}
	os.WriteFile(doctor.Path(e.cfg.DoctorDir), []byte("{torn"), 0o600)
	if r := b.get("/admin/doctor"); !strings.Contains(r.body, msgDoctorUnreadable) {
		t.Errorf("doctor with a torn file: %s", r.body)
	}
}

// TestSettingsPassword: a user changes their own password on the
// settings page: the current one is required, the new one twice; after
// it the old password fails at login, the new one works, this browser
// stays logged in and the user's other sessions end. The page links the
// configuration profile.
func TestSettingsPassword(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.browser()
	b.login(jack)
	other := e.browser()
	other.login(jack)
	r := b.get("/settings")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `href="/settings/profile.mobileconfig"`) || !strings.Contains(r.body, `action="/settings/password"`) {
		t.Fatalf("settings: %d %s", r.StatusCode, r.body)
	}
	if r := e.browser().get("/settings"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("settings without a session: %d", r.StatusCode)
	}
	change := func(current, pw, again string) response {
		return b.form("/settings/password", "current", current, "new", pw, "again", again)
	}
	if r := b.post("/settings/password", url.Values{"current": {password(jack)}, "new": {"n"}, "again": {"n"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d", r.StatusCode)
	}
	if r := change("wrong", "jack-new", "jack-new"); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, msgPasswordWrong) {
		t.Errorf("wrong current password: %d", r.StatusCode)
	}
	if r := change(password(jack), "jack-new", "jack-typo"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, msgPasswordMismatch) {
		t.Errorf("mismatch: %d", r.StatusCode)
	}
	if r := change(password(jack), "", ""); r.StatusCode != http.StatusBadRequest {
		t.Errorf("empty password: %d", r.StatusCode)
	}
	if e.anotherLogin(jack, password(jack)) != http.StatusSeeOther {
		t.Fatal("a refused change changed the password")
	}
	r = change(password(jack), "jack-new", "jack-new")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings?done=password" {
		t.Fatalf("change: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/settings?done=password"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, msgPasswordChanged) {
		t.Errorf("this browser after the change: %d", r.StatusCode)
	}
	if r := other.get("/mail"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("another session survived the change: %d", r.StatusCode)
	}
	// The login cache (auth's verified logins) does not answer with
	// the old password.
	if e.anotherLogin(jack, password(jack)) != http.StatusUnauthorized {
		t.Error("the old password still works")
	}
	if e.anotherLogin(jack, "jack-new") != http.StatusSeeOther {
		t.Error("the new password does not work")
	}
	a, _ := e.st.AccountByAddress(context.Background(), jack)
	if !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Errorf("stored hash %q", a.PasswordHash)
	}
}
