package imapd

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"pail/internal/store"
)

// openCounter is the real store, counting the message files SEARCH opens.
type openCounter struct {
	Store
	opens atomic.Int64
}

func (o *openCounter) OpenBody(ctx context.Context, m store.Message) (store.Body, error) {
	o.opens.Add(1)
	return o.Store.OpenBody(ctx, m)
}

// TestSearchTextUsesIndex: SEARCH BODY and TEXT read only the files of
// the messages the full-text index names (issue 17: a rare word does not
// cost a read of every message), the answers stay exact (a candidate
// whose text does not hold the needle is dropped), and a needle too short
// for the index still reads every message.
func TestSearchTextUsesIndex(t *testing.T) {
	ctx := context.Background()
	counter := &openCounter{}
	e := newEnv(t, func(_ *Config, s *Server) {
		counter.Store = s.deps.Store
		s.deps.Store = counter
	})
	const n = 40
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("Ordinary news, number %d.\r\n", i)
		switch i {
		case 7:
			body = "We sail for =?x?= Zanzibar at dawn.\r\n"
		case 23:
			// Quoted-printable: the decoded text holds the word.
			body = "Zanzi=\r\nbar again.\r\n"
		}
		cte := "7bit"
		if i == 23 {
			cte = "quoted-printable"
		}
		e.deliver(t, e.acct.ID, "INBOX", fmt.Sprintf("From: a%d@town.test\r\nSubject: note %d\r\nContent-Transfer-Encoding: %s\r\n\r\n%s", i, i, cte, body))
	}
	if _, err := e.st.Reindex(ctx, e.acct.ID); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	for _, c := range []struct {
		search    string
		want      string
		maxOpens  int64
		minOpens  int64
		shortNote string
	}{
		{"UID SEARCH BODY zanzibar", "* SEARCH 7 23", 2, 2, ""},
		{"UID SEARCH TEXT ZANZIBAR", "* SEARCH 7 23", 2, 2, ""},
		{"UID SEARCH BODY \"number 17.\"", "* SEARCH 17", 1, 1, ""},
		{"UID SEARCH BODY zanzibar SUBJECT \"note 2\"", "* SEARCH 23", 2, 1, ""},
		{"UID SEARCH TEXT nowhere-at-all", "* SEARCH", 0, 0, ""},
		{"UID SEARCH BODY 17", "* SEARCH 17", n, n, "two characters: no trigram, every message read"},
	} {
		before := counter.opens.Load()
		got := r.cmd(c.search)
		opens := counter.opens.Load() - before
		if !strings.Contains(strings.Join(got, "\n"), c.want+"\r\n") && !containsLine(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.search, got, c.want)
		}
		if opens > c.maxOpens || opens < c.minOpens {
			t.Errorf("%s: %d message files read, want %d–%d %s", c.search, opens, c.minOpens, c.maxOpens, c.shortNote)
		}
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimRight(l, "\r\n") == want {
			return true
		}
	}
	return false
}
