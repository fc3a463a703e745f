package imapd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
	"sync/atomic"
	"testing"

	"pail/internal/message"
	"pail/internal/store"
)

// indexSwitch is the real store with the full-text index switchable off
// (SearchText then narrows nothing, so SEARCH checks every message: the
// brute-force scan), counting the rows SEARCH loads for its exact check.
type indexSwitch struct {
	Store
	off    atomic.Bool
	loaded atomic.Int64
}

func (x *indexSwitch) SearchText(ctx context.Context, mailboxID int64, field, needle string) ([]uint32, bool, error) {
	if x.off.Load() {
		return nil, false, nil
	}
	return x.Store.SearchText(ctx, mailboxID, field, needle)
}

func (x *indexSwitch) SearchCandidates(ctx context.Context, mailboxID int64, uids []uint32, infos bool) ([]store.Message, map[uint32]*message.Info, error) {
	x.loaded.Add(int64(len(uids)))
	return x.Store.SearchCandidates(ctx, mailboxID, uids, infos)
}

// narrowNames are display names and addresses of every shape the address
// keys must see through: quoted, with comments, encoded words, non-ASCII
// (é, ß, CJK), groups.
var narrowNames = []string{
	`Zoë Quartz <zoe@example.org>`,
	`"Quartz, Zoë" <zoe.q@example.org>`,
	`zoe@example.org (Zoë Quartz)`,
	`"zoe q"@example.org`,
	`=?utf-8?q?Ch=C3=A9rie_Stra=C3=9Fe?= <cherie@xn--caf-dma.test>`,
	`=?utf-8?b?5pel5pys6Kqe?= <nihon@example.jp>`,
	`=?iso-8859-1?q?J=F6rg?= "Gro\"ss" <joerg@hill.test>`,
	`Team: ann@hill.test, "Bob (the) Builder" <bob@hill.test>;`,
	`=?bogus?q?Weird?= <weird@x.test>`,
	`straße@hill.test`,
}

// narrowCorpus is message i of TestSearchNarrowedEqualsScan.
func narrowCorpus(i int, r *rand.Rand) string {
	pick := func() string { return narrowNames[r.IntN(len(narrowNames))] }
	words := []string{"zanzibar", "Café", "STRASSE", "straße", "日本語テキスト", "report", "quartz", "q", "ok"}
	w := func() string { return words[r.IntN(len(words))] }
	subj := w() + " " + w()
	if i%3 == 0 {
		subj = mime.QEncoding.Encode("utf-8", subj)
	}
	body := w() + " and " + w() + "inside" + w() + "\r\n"
	if i%11 == 0 {
		// Beyond message.MaxSearchText: indexed only in part, so a
		// candidate of every search.
		body += strings.Repeat("filler text ", message.MaxSearchText/12+10) + "\r\nhidden zanzibar " + w() + "\r\n"
	}
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nCc: %s\r\nSubject: %s\r\nX-Note: %s\r\n\r\n%s", pick(), pick(), pick(), subj, w(), body)
}

// TestSearchNarrowedEqualsScan: every key the full-text index narrows
// (FROM, TO, CC, BCC, SUBJECT, HEADER, BODY, TEXT, alone, in OR, in a
// list, under NOT) gives the same answer as a scan of every message
// (the index switched off), on a corpus of quoted names, comments,
// encoded words, non-ASCII text, substrings inside words, any case,
// needles of one and two characters and rows indexed in part.
func TestSearchNarrowedEqualsScan(t *testing.T) {
	x := &indexSwitch{}
	e := newEnv(t, func(_ *Config, s *Server) {
		x.Store = s.deps.Store
		s.deps.Store = x
	})
	r := rand.New(rand.NewPCG(17, 9))
	const n = 120
	for i := range n {
		e.deliver(t, e.acct.ID, "INBOX", narrowCorpus(i, r))
	}
	if _, err := e.st.Reindex(context.Background(), e.acct.ID); err != nil {
		t.Fatal(err)
	}
	needles := []string{"zoe", "ZOË", "oë q", "quartz, zo", "zoe q@", "zoe@example", "e.q@ex", "zoë quartz <zoe@", "quartz <zoe@example.org>",
		"chérie", "CHÉRIE STRASSE", "straße", "strasse", "日本語", "本語", "jörg", "gro\"ss", "the) bu", "team", "bob (", "weird", "bogus",
		"xn--caf", "q", "oe", "é", "日", "@", "<", "zanzibar", "ZANZIB", "caféinside", "einsidest", "日本語テ", "report quartz"}
	keys := []string{"FROM", "TO", "CC", "BCC", "SUBJECT", "TEXT", "BODY", "HEADER From", "HEADER Subject", "HEADER X-Note", "HEADER Cc"}
	var searches []string
	for _, nd := range needles {
		q := `"` + strings.ReplaceAll(strings.ReplaceAll(nd, `\`, `\\`), `"`, `\"`) + `"`
		for _, k := range keys {
			searches = append(searches, "UID SEARCH CHARSET UTF-8 "+k+" "+q)
		}
		searches = append(searches,
			"UID SEARCH CHARSET UTF-8 OR FROM "+q+" SUBJECT "+q,
			"UID SEARCH CHARSET UTF-8 NOT FROM "+q,
			"UID SEARCH CHARSET UTF-8 (TO "+q+" TEXT zanzibar)",
			"UID SEARCH CHARSET UTF-8 OR NOT CC "+q+" BODY "+q)
	}
	c := dialRaw(t, e.addr)
	c.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	c.cmd("SELECT INBOX")
	answer := func(cmd string) string {
		got := c.cmd(cmd)
		if !strings.Contains(got[len(got)-1], "OK") {
			t.Fatalf("%s: %q", cmd, got)
		}
		return strings.Join(got[:len(got)-1], "")
	}
	hits := 0
	for _, s := range searches {
		x.off.Store(false)
		got := answer(s)
		x.off.Store(true)
		want := answer(s)
		if got != want {
			t.Errorf("%s:\nindexed %q\nscan    %q", s, got, want)
		}
		if strings.TrimSpace(want) != "* SEARCH" {
			hits++
		}
	}
	if hits < len(searches)/3 {
		t.Errorf("only %d of %d searches match anything: the corpus does not test much", hits, len(searches))
	}
}

// TestSearchFromUsesIndex: SEARCH FROM, TO, SUBJECT and HEADER load the
// rows and summaries of the index's candidates only (issue 17: SEARCH FROM
// on a large mailbox decoded every summary), while a needle the index
// cannot look up (two letters, or no run of three letters or digits in an
// address key) still checks every message.
func TestSearchFromUsesIndex(t *testing.T) {
	x := &indexSwitch{}
	e := newEnv(t, func(_ *Config, s *Server) {
		x.Store = s.deps.Store
		s.deps.Store = x
	})
	const n = 60
	for i := 1; i <= n; i++ {
		from := fmt.Sprintf("Ann Arbor <ann%d@town.test>", i)
		if i%20 == 0 {
			from = `"Quartz, Zoë" <zoe@town.test>`
		}
		e.deliver(t, e.acct.ID, "INBOX", fmt.Sprintf("From: %s\r\nTo: bob@hill.com\r\nSubject: note %d\r\n\r\nhello\r\n", from, i))
	}
	if _, err := e.st.Reindex(context.Background(), e.acct.ID); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, e.addr)
	c.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	c.cmd("SELECT INBOX")
	for _, tc := range []struct {
		search string
		want   string
		loaded int64
	}{
		{`UID SEARCH FROM "zoe"`, "* SEARCH 20 40 60", 3},
		{`UID SEARCH CHARSET UTF-8 FROM "Zoë <zoe@town"`, "* SEARCH 20 40 60", 3},
		{`UID SEARCH HEADER From "quartz"`, "* SEARCH 20 40 60", 3},
		{`UID SEARCH SUBJECT "note 4"`, "* SEARCH 4 40 41 42 43 44 45 46 47 48 49", 11},
		{`UID SEARCH OR FROM zoe SUBJECT "note 1"`, "* SEARCH 1 10 11 12 13 14 15 16 17 18 19 20 40 60", 14},
		{`UID SEARCH NOT FROM ann`, "* SEARCH 20 40 60", n},
		{`UID SEARCH FROM "zo"`, "* SEARCH 20 40 60", n},
		{`UID SEARCH FROM "<z"`, "* SEARCH 20 40 60", n},
	} {
		before := x.loaded.Load()
		got := c.cmd(tc.search)
		if !containsLine(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.search, got, tc.want)
		}
		if loaded := x.loaded.Load() - before; loaded != tc.loaded {
			t.Errorf("%s: %d rows loaded for the exact check, want %d", tc.search, loaded, tc.loaded)
		}
	}
}
