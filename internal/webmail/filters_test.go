package webmail

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"pail/internal/delivery"
	"pail/internal/sieve"
	"pail/internal/store"
)

// newFilterEnv is newEnv with the Filters and Vacation pages served.
func newFilterEnv(t *testing.T) *env {
	e := newEnv(t, Config{})
	e.deps.Sieve = e.st
	e.restart()
	return e
}

// script returns an account's stored script and whether it is active.
func (e *env) script(addr, name string) store.SieveScript {
	e.t.Helper()
	sc, err := e.st.SieveScript(context.Background(), e.ids[addr], name)
	if err != nil {
		e.t.Fatalf("script %s of %s: %v", name, addr, err)
	}
	list, err := e.st.SieveScripts(context.Background(), e.ids[addr])
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range list {
		if l.Name == name {
			sc.Active = l.Active
		}
	}
	return sc
}

// filterPost posts a form of the Filters or Vacation pages with the
// session's CSRF token.
func (b *browser) filterPost(path string, form url.Values) response {
	b.e.t.Helper()
	form.Set("csrf", b.csrf())
	return b.post(path, form)
}

// TestFiltersRules: rules built on the form become the active script
// pail-webmail, which compiles and, delivered through the real
// deliverer with Sieve on, moves, flags and discards as the rules say;
// a deleted rule is gone from the script.
func TestFiltersRules(t *testing.T) {
	e := newFilterEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateMailboxPath(ctx, e.ids[jill], `Work "x" \ y`, ""); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login(jill)
	if r := b.get("/filters"); r.StatusCode != 200 || !strings.Contains(r.body, `id="addrule"`) {
		t.Fatalf("/filters: %d %s", r.StatusCode, r.body)
	}
	for _, rule := range []url.Values{
		{"field": {"from"}, "contains": {"jack@"}, "action": {"move"}, "folder": {`Work "x" \ y`}},
		{"field": {"subject"}, "contains": {"URGENT"}, "action": {"flag"}},
		{"field": {"to"}, "contains": {"list@hill.test"}, "action": {"discard"}},
		{"field": {"subject"}, "contains": {"junk"}, "action": {"discard"}},
	} {
		rule.Set("op", "add")
		if r := b.filterPost("/filters/rules", rule); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("add %v: %d %s", rule, r.StatusCode, r.body)
		}
	}
	// A folder the user does not have is refused.
	r := b.filterPost("/filters/rules", url.Values{"op": {"add"}, "field": {"from"}, "contains": {"x"}, "action": {"move"}, "folder": {"Nope"}})
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "no such folder") {
		t.Errorf("unknown folder: %d", r.StatusCode)
	}
	if r := b.filterPost("/filters/rules", url.Values{"op": {"delete"}, "index": {"3"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	sc := e.script(jill, FilterScript)
	if !sc.Active {
		t.Fatal("pail-webmail is not active")
	}
	if _, err := sieve.Compile(sc.Text, sieve.Options{}); err != nil {
		t.Fatalf("generated script does not compile: %v\n%s", err, sc.Text)
	}
	if strings.Contains(string(sc.Text), "junk") {
		t.Errorf("deleted rule still in the script:\n%s", sc.Text)
	}
	page := b.get("/filters")
	for _, want := range []string{"If from contains “jack@”: move to Work &#34;x&#34; \\ y", "If subject contains “URGENT”: flag", "If to contains “list@hill.test”: discard"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// Turned off with a Sieve client, the pages still edit their own
	// script, and saving turns it on again with the rules kept.
	if err := e.st.SetActiveSieveScript(ctx, e.ids[jill], ""); err != nil {
		t.Fatal(err)
	}
	if r := b.filterPost("/filters/rules", url.Values{"op": {"add"}, "field": {"subject"}, "contains": {"junk"}, "action": {"discard"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add after deactivation: %d", r.StatusCode)
	}
	if sc := e.script(jill, FilterScript); !sc.Active || !strings.Contains(string(sc.Text), "URGENT") || !strings.Contains(string(sc.Text), "junk") {
		t.Errorf("after deactivation: active %v\n%s", sc.Active, sc.Text)
	}

	// Delivery with Sieve on follows the rules.
	router := delivery.NewRouter(e.st, func(d string) bool { return d == "hill.test" }, "")
	d := delivery.NewDeliverer(e.st, nil, nil, "mx.hill.test")
	d.SetSieve(&delivery.Sieve{Store: e.st, Log: slog.New(slog.DiscardHandler)})
	send := func(from, to, subject string) {
		t.Helper()
		msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 5 Jan 2026 10:00:00 +0000\r\nMessage-ID: <%s@hill.test>\r\n\r\nhi\r\n", from, to, subject, strings.ReplaceAll(subject, " ", "."))
		if err := d.Inject(ctx, router, from, []string{jill}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send(jack, jill, "moved")
	send(bob, jill, "this is urgent")
	send(bob, "list@hill.test", "discarded")
	send(bob, jill, "plain")
	subjects := func(folder string) (out []string) {
		for _, m := range e.folder(jill, folder) {
			raw := e.raw(m)
			_, rest, _ := strings.Cut(raw, "Subject: ")
			subj, _, _ := strings.Cut(rest, "\r\n")
			if slices.Contains(m.Flags, `\Flagged`) {
				subj += " [flagged]"
			}
			out = append(out, subj)
		}
		return out
	}
	if got := subjects(`Work "x" \ y`); !slices.Equal(got, []string{"moved"}) {
		t.Errorf("Work: %q", got)
	}
	if got := subjects("INBOX"); !slices.Equal(got, []string{"this is urgent [flagged]", "plain"}) {
		t.Errorf("INBOX: %q", got)
	}
}

// TestFiltersScriptErrors: a script that does not compile is shown back
// as typed with the error's line and column and the line marked, and
// nothing is stored; a hand-written script is stored as written, the
// forms are then off (the rule form is refused and the script left
// alone) until "start over".
func TestFiltersScriptErrors(t *testing.T) {
	e := newFilterEnv(t)
	b := e.browser()
	b.login(jill)
	bad := "require \"fileinto\";\nif true {\n  fileinto \"A\" <b>;\n}\n"
	r := b.filterPost("/filters/script", url.Values{"script": {bad}})
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad script: %d %s", r.StatusCode, r.body)
	}
	for _, want := range []string{"line 3, column 16: ", "  fileinto &#34;A&#34; &lt;b&gt;;\n               ^</pre>", "&lt;b&gt;;\n}\n</textarea>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("error page lacks %q:\n%s", want, r.body)
		}
	}
	if list, _ := e.st.SieveScripts(context.Background(), e.ids[jill]); len(list) != 0 {
		t.Errorf("a script that does not compile was stored: %v", list)
	}

	hand := "# mine\r\nrequire \"fileinto\";\r\nif header :is \"x-a\" \"1\" { fileinto \"Trash\"; }\r\n"
	if r := b.filterPost("/filters/script", url.Values{"script": {hand}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("hand script: %d %s", r.StatusCode, r.body)
	}
	want := strings.ReplaceAll(hand, "\r\n", "\n")
	if sc := e.script(jill, FilterScript); string(sc.Text) != want || !sc.Active {
		t.Fatalf("stored %q active %v", sc.Text, sc.Active)
	}
	page := b.get("/filters")
	if strings.Contains(page.body, `id="addrule"`) || !strings.Contains(page.body, "written by hand") {
		t.Errorf("hand-written script still offers the rule form:\n%s", page.body)
	}
	r = b.filterPost("/filters/rules", url.Values{"op": {"add"}, "field": {"from"}, "contains": {"x"}, "action": {"discard"}})
	if r.StatusCode != http.StatusConflict {
		t.Errorf("rule on a hand-written script: %d", r.StatusCode)
	}
	r = b.filterPost("/vacation", url.Values{"on": {"1"}, "days": {"7"}, "text": {"away"}})
	if r.StatusCode != http.StatusConflict {
		t.Errorf("vacation on a hand-written script: %d", r.StatusCode)
	}
	if sc := e.script(jill, FilterScript); string(sc.Text) != want {
		t.Errorf("hand-written script changed: %q", sc.Text)
	}
	if r := b.filterPost("/filters/rules", url.Values{"op": {"reset"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", r.StatusCode)
	}
	if page := b.get("/filters"); !strings.Contains(page.body, `id="addrule"`) {
		t.Errorf("after start over, no rule form")
	}
}

// TestFiltersVacation: the vacation form makes a vacation action with
// :days, :subject and :from the user, answered only between the dates
// (currentdate); quotes and backslashes in the text survive; the rules
// stay.
func TestFiltersVacation(t *testing.T) {
	e := newFilterEnv(t)
	b := e.browser()
	b.login(jill)
	b.filterPost("/filters/rules", url.Values{"op": {"add"}, "field": {"subject"}, "contains": {"x"}, "action": {"flag"}})
	text := "Away until \"Monday\" \\o/\n<back soon>"
	r := b.filterPost("/vacation", url.Values{"on": {"1"}, "start": {"2026-12-20"}, "end": {"2026-12-31"}, "days": {"3"}, "subject": {"Out of office"}, "text": {text}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("vacation: %d %s", r.StatusCode, r.body)
	}
	if r := b.filterPost("/vacation", url.Values{"on": {"1"}, "start": {"2026-12-31"}, "end": {"2026-12-20"}, "days": {"3"}, "text": {"x"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("end before start: %d", r.StatusCode)
	}
	page := b.get("/vacation")
	if !strings.Contains(page.body, `value="2026-12-20"`) || !strings.Contains(page.body, "&lt;back soon&gt;</textarea>") || !strings.Contains(page.body, " checked") {
		t.Errorf("vacation page does not show the settings:\n%s", page.body)
	}
	sc, err := sieve.Compile(e.script(jill, FilterScript).Text, sieve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run := func(now time.Time) *sieve.Result {
		t.Helper()
		msg := "From: bob@hill.test\r\nTo: jill@hill.test\r\nSubject: x\r\nMessage-ID: <a@hill.test>\r\n\r\nhi\r\n"
		res, err := sc.Run(context.Background(), sieve.Input{Message: sieve.NewMessage([]byte(msg)), Now: now,
			Envelope: sieve.Envelope{From: bob, To: jill}, UserAddresses: []string{jill}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	vacation := func(res *sieve.Result) *sieve.Vacation {
		for _, a := range res.Actions {
			if v, ok := a.(sieve.Vacation); ok {
				return &v
			}
		}
		return nil
	}
	res := run(time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC))
	v := vacation(res)
	if v == nil || v.Reason != text || v.Subject != "Out of office" || v.From != jill || v.Period != 3*24*time.Hour {
		t.Errorf("within the dates: %+v", res.Actions)
	}
	if !slices.Contains(res.Flags, `\Flagged`) {
		t.Errorf("rule lost with the vacation: flags %v", res.Flags)
	}
	for _, day := range []time.Time{time.Date(2026, 12, 19, 23, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if v := vacation(run(day)); v != nil {
			t.Errorf("answered on %v", day)
		}
	}
	// Turned off, there is no vacation action at all.
	b.filterPost("/vacation", url.Values{"days": {"3"}, "text": {text}})
	if strings.Contains(string(e.script(jill, FilterScript).Text), "vacation :days") {
		t.Errorf("vacation off still in the script")
	}
}

// TestFiltersCSRFAndAccounts: a post without the session's CSRF token
// stores nothing; one user never sees or changes another's scripts.
func TestFiltersCSRFAndAccounts(t *testing.T) {
	e := newFilterEnv(t)
	jb := e.browser()
	jb.login(jill)
	secret := "# jill-secret-rule\nkeep;\n"
	for _, path := range []string{"/filters/script", "/filters/rules", "/vacation"} {
		form := url.Values{"script": {secret}, "op": {"add"}, "field": {"from"}, "contains": {"x"}, "action": {"discard"}, "on": {"1"}, "days": {"7"}, "text": {"x"}}
		if r := jb.post(path, form); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s without csrf: %d", path, r.StatusCode)
		}
		form.Set("csrf", "wrong")
		if r := jb.post(path, form); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s with a wrong csrf: %d", path, r.StatusCode)
		}
	}
	if list, _ := e.st.SieveScripts(context.Background(), e.ids[jill]); len(list) != 0 {
		t.Fatalf("stored without csrf: %v", list)
	}
	if r := jb.filterPost("/filters/script", url.Values{"script": {secret}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", r.StatusCode)
	}
	kb := e.browser()
	kb.login(jack)
	for _, path := range []string{"/filters", "/vacation"} {
		if r := kb.get(path); r.StatusCode != 200 || strings.Contains(r.body, "jill-secret") || strings.Contains(r.body, "written by hand") {
			t.Errorf("jack's %s shows jill's script: %d %s", path, r.StatusCode, r.body)
		}
	}
	kb.filterPost("/filters/rules", url.Values{"op": {"reset"}})
	if sc := e.script(jill, FilterScript); string(sc.Text) != secret || !sc.Active {
		t.Errorf("jack's start over changed jill's script: %q", sc.Text)
	}
	if list, _ := e.st.SieveScripts(context.Background(), e.ids[jack]); len(list) != 1 {
		t.Errorf("jack's scripts: %v", list)
	}
	// Without the session the pages are not served.
	if r := e.browser().get("/filters"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("/filters without a session: %d", r.StatusCode)
	}
}
