package webmail

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/store"
)

var nextRE = regexp.MustCompile(`<a href="([^"]*)" rel="next">`)
var prevRE = regexp.MustCompile(`<a href="([^"]*)" rel="prev">`)

func listSubjects(r response) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestListKeysetPages: the Older and Newer links carry the key of the row
// next to the page, so a page reached from them holds the same messages
// when new mail arrived meanwhile (a page number would shift them by one),
// and Newer comes back to the first page.
func TestListKeysetPages(t *testing.T) {
	e := newEnv(t, Config{PageSize: 3})
	for i := 1; i <= 7; i++ {
		e.deliver(jill, "", fmt.Sprintf(plainMsg, fmt.Sprintf("msg %d", i), fmt.Sprint(i), "text"))
	}
	b := e.browser()
	b.login(jill)
	p1 := b.get("/mail")
	if got := listSubjects(p1); !slices.Equal(got, []string{"msg 7", "msg 6", "msg 5"}) {
		t.Fatalf("page 1: %v", got)
	}
	next := nextRE.FindStringSubmatch(p1.body)
	if next == nil || !strings.Contains(next[1], "older=") {
		t.Fatalf("no keyset link to the older page:\n%s", p1.body)
	}
	e.deliver(jill, "", fmt.Sprintf(plainMsg, "msg 8", "8", "text"))
	p2 := b.get(html.UnescapeString(next[1]))
	if got := listSubjects(p2); !slices.Equal(got, []string{"msg 4", "msg 3", "msg 2"}) || !strings.Contains(p2.body, "Page 2 of 3") {
		t.Fatalf("page 2 after new mail: %v", got)
	}
	p3 := b.get(html.UnescapeString(nextRE.FindStringSubmatch(p2.body)[1]))
	if got := listSubjects(p3); !slices.Equal(got, []string{"msg 1"}) || nextRE.MatchString(p3.body) {
		t.Fatalf("page 3: %v", got)
	}
	back := b.get(html.UnescapeString(prevRE.FindStringSubmatch(p3.body)[1]))
	if got := listSubjects(back); !slices.Equal(got, []string{"msg 4", "msg 3", "msg 2"}) {
		t.Fatalf("newer from page 3: %v", got)
	}
	first := b.get(html.UnescapeString(prevRE.FindStringSubmatch(back.body)[1]))
	if got := listSubjects(first); !slices.Equal(got, []string{"msg 7", "msg 6", "msg 5"}) || !prevRE.MatchString(first.body) {
		// msg 8 arrived after page 1 was shown: there is a newer page.
		t.Fatalf("newer from page 2: %v", got)
	}
	top := b.get(html.UnescapeString(prevRE.FindStringSubmatch(first.body)[1]))
	if got := listSubjects(top); !slices.Equal(got, []string{"msg 8"}) || prevRE.MatchString(top.body) || !strings.Contains(top.body, "Page 1 of") {
		t.Fatalf("newest page: %v\n%s", got, top.body)
	}
}

// TestSearchWholeFolder: a search finds a match among the oldest of more
// than 5 000 messages (it used to read only the newest 5 000), by sender,
// subject and text, and pages on through the matches.
func TestSearchWholeFolder(t *testing.T) {
	e := newEnv(t, Config{PageSize: 2})
	ctx := context.Background()
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	deliverAt := func(raw string, at time.Time) {
		sp, err := e.st.NewBody()
		if err != nil {
			t.Fatal(err)
		}
		sp.Write([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
		if _, err := e.st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: e.ids[jill], Date: at}}); err != nil {
			t.Error(err)
		}
	}
	for i := range 3 {
		deliverAt(fmt.Sprintf("From: Zoe <zoe@far.test>\nSubject: zanzibar trip %d\n\nthe word is quokka\n", i), old.Add(time.Duration(i)*time.Minute))
	}
	const filler = 5100
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				deliverAt(fmt.Sprintf(plainMsg, fmt.Sprintf("filler %d", i), fmt.Sprint(i), "nothing here"), old.Add(time.Hour+time.Duration(i)*time.Second))
			}
		}()
	}
	for i := range filler {
		work <- i
	}
	close(work)
	wg.Wait()
	b := e.browser()
	b.login(jill)
	for _, in := range []string{"from", "subject", "all"} {
		q := map[string]string{"from": "zoe", "subject": "ZANZIBAR", "all": "zanzibar"}[in]
		r := b.get("/mail?q=" + q + "&in=" + in)
		if got := listSubjects(r); !slices.Equal(got, []string{"zanzibar trip 2", "zanzibar trip 1"}) {
			t.Fatalf("search %s in %s: %v", q, in, got)
		}
		next := nextRE.FindStringSubmatch(r.body)
		if next == nil {
			t.Fatalf("search %s: no link to further matches", in)
		}
		r = b.get(html.UnescapeString(next[1]))
		if got := listSubjects(r); !slices.Equal(got, []string{"zanzibar trip 0"}) || nextRE.MatchString(r.body) {
			t.Fatalf("search %s page 2: %v", in, got)
		}
	}
	if got := listSubjects(b.get("/mail?q=quokka&in=body")); len(got) != 2 {
		t.Errorf("text search: %v", got)
	}
}

// TestSearchCasemap: the search box matches as IMAP SEARCH does, by
// i;unicode-casemap: "cafe" finds "Café" in the subject, the sender and
// the text, "fi" finds the ligature ﬁ; "STRASSE" does not find "Straße".
func TestSearchCasemap(t *testing.T) {
	e := newEnv(t, Config{})
	utf8Msg := "From: %s <a@hill.test>\nSubject: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
	e.deliver(jill, "", fmt.Sprintf(utf8Msg, "Ann", "=?utf-8?q?Caf=C3=A9?= talk", "see you"))
	e.deliver(jill, "", fmt.Sprintf(utf8Msg, "=?utf-8?q?Caf=C3=A9?= Bar", "from the bar", "hello"))
	e.deliver(jill, "", fmt.Sprintf(utf8Msg, "Ann", "body one", "un café noir, the ﬁnal word, die Straße"))
	e.deliver(jill, "", fmt.Sprintf(utf8Msg, "Ann", "body two", "nothing"))
	b := e.browser()
	b.login(jill)
	for _, c := range []struct {
		q, in string
		want  []string
	}{
		{"cafe", "subject", []string{"Café talk"}},
		{"CAFE", "from", []string{"from the bar"}},
		{"cafe", "body", []string{"body one"}},
		{"cafe", "all", []string{"body one", "from the bar", "Café talk"}},
		{"FINAL", "body", []string{"body one"}},
		{"straße", "body", []string{"body one"}},
		{"STRASSE", "body", nil},
	} {
		r := b.get("/mail?q=" + url.QueryEscape(c.q) + "&in=" + c.in)
		if got := listSubjects(r); !slices.Equal(got, c.want) {
			t.Errorf("search %q in %s: %v, want %v", c.q, c.in, got, c.want)
		}
	}
}
