//go:build interop

package interop

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pail/internal/testnet"
)

// imapLoginScript logs in over IMAP with python3's imaplib (argv: host
// port user password), selects INBOX and prints "LOGIN OK".
const imapLoginScript = `
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
typ, data = M.login(sys.argv[3], sys.argv[4])
if typ != 'OK':
    sys.exit('LOGIN: %s %r' % (typ, data))
typ, data = M.select('INBOX')
if typ != 'OK':
    sys.exit('SELECT: %s %r' % (typ, data))
M.logout()
print('LOGIN OK')
`

// TestWebmailAdminAddsAccount drives headless Chromium against a real
// pail serve: the admin (the first account) follows the navigation's
// Admin link, adds an account on the accounts page, and that account
// then logs in over IMAP with python3's imaplib. A non-admin gets 403 on
// the admin page.
func TestWebmailAdminAddsAccount(t *testing.T) {
	httpAddr, imapAddr := testnet.Addr(t), testnet.Addr(t)
	s := newServer(t, serverOptions{listen: []string{fmt.Sprintf("http = %q", httpAddr), fmt.Sprintf("imap = %q", imapAddr)}})
	s.addUser(webJill) // the first account: an admin
	s.addUser(webJack)
	s.start()
	deadline := time.Now().Add(startTimeout)
	for _, a := range []string{httpAddr, imapAddr} {
		if err := waitListening(a, s.proc, deadline); err != nil {
			t.Fatalf("pail serve not listening on %s: %v", a, err)
		}
	}
	ws := &webServer{server: s, httpAddr: httpAddr}
	url := ws.url
	const newUser, newPassword = "amy@hill.test", "amy's new password 7k2"
	host, port, _ := strings.Cut(imapAddr, ":")

	// Before: amy cannot log in over IMAP, so the login below proves
	// what the page did.
	py := needPeer(t, "python3")
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	out, err := exec.CommandContext(pctx, py, "-c", imapLoginScript, host, port, newUser, newPassword).CombinedOutput()
	pcancel()
	if err == nil || !strings.Contains(string(out), "AUTHENTICATIONFAILED") {
		t.Fatalf("imaplib as %s before the account was added: %v\n%s", newUser, err, out)
	}

	ctx, cancel := newBrowser(t)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	do("log in",
		chromedp.Navigate(url("/")),
		chromedp.WaitVisible(chromedp.CSS(`input[name=address]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=address]`), webJill),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), passwordFor(webJill)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.messages, p.empty`)),
	)
	do("open the admin page",
		chromedp.Click(chromedp.CSS(`header.top a[href="/admin"]`)),
		chromedp.WaitVisible(chromedp.ID("addaccount")),
	)
	if got := text("table.admin"); !strings.Contains(got, webJill) || !strings.Contains(got, webJack) {
		t.Fatalf("accounts page does not list the accounts:\n%s", got)
	}
	do("add an account",
		chromedp.SendKeys(chromedp.CSS(`#addaccount input[name=address]`), newUser),
		chromedp.SendKeys(chromedp.CSS(`#addaccount input[name=password]`), newPassword),
		chromedp.Click(chromedp.CSS(`#addaccount button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
	)
	if got := text("p.notice"); got != "Added "+newUser+"." {
		t.Errorf("after adding: %q", got)
	}
	screenshot(t, ctx, "webmail-admin-accounts.png")

	// The new account logs in over IMAP.
	if out := runPeer(t, 20*time.Second, "", "python3", "-c", imapLoginScript, host, port, newUser, newPassword); !strings.Contains(out, "LOGIN OK") {
		t.Errorf("imaplib as %s:\n%s", newUser, out)
	}
	// And pail user list, the CLI, sees it.
	if out := string(s.pail("", []string{"user", "list"})); !strings.Contains(out, newUser+"\n") {
		t.Errorf("pail user list lacks %s:\n%s", newUser, out)
	}

	// jack, not an admin, is refused the admin pages.
	jack := newWebClient(t, ws, webJack)
	if code, _ := jack.get("/admin/accounts"); code != 403 {
		t.Errorf("jack on /admin/accounts: %d", code)
	}
}
