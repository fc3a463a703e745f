package webmail

import (
	"net/http"
	"strings"
	"testing"

	"pail/internal/autoconfig"
	"pail/internal/config"
)

// TestProfile: the configuration profile is a download for the logged-in
// user alone, of their own account; without a session the browser is
// sent to the login page and gets no profile.
func TestProfile(t *testing.T) {
	e := newEnv(t, Config{})
	e.deps.Profiles = autoconfig.New("mx.hill.test", config.Listen{IMAPS: "127.0.0.1:2993", Submission: "127.0.0.1:2587"})
	e.restart()
	b := e.browser()
	r := b.get(ProfilePath)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" || strings.Contains(r.body, "plist") {
		t.Fatalf("without a session: %d %q %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	b.login(jill)
	r = b.get(ProfilePath)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/x-apple-aspen-config" ||
		r.Header.Get("Content-Disposition") != `attachment; filename="hill.test.mobileconfig"` || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("logged in: %d %v", r.StatusCode, r.Header)
	}
	for _, want := range []string{"<string>" + jill + "</string>", "<integer>2993</integer>", "<integer>2587</integer>", "com.apple.mail.managed"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("profile lacks %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, jack) || strings.Contains(r.body, password(jill)) {
		t.Errorf("profile names another account or the password:\n%s", r.body)
	}
	// After logout the profile is gone again.
	b.post("/logout", map[string][]string{"csrf": {b.csrf()}})
	if r := b.get(ProfilePath); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", r.StatusCode)
	}

	// A server without submission has no profile to give.
	e2 := newEnv(t, Config{})
	e2.deps.Profiles = autoconfig.New("mx.hill.test", config.Listen{IMAPS: "127.0.0.1:2993"})
	e2.restart()
	b2 := e2.browser()
	b2.login(jill)
	if r := b2.get(ProfilePath); r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "plist") {
		t.Errorf("no submission: %d %s", r.StatusCode, r.body)
	}
}
