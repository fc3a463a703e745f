package imapd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// lit is s as a non-synchronising literal (RFC 7888 LITERAL+), for
// needles that are not ASCII.
func lit(s string) string { return fmt.Sprintf("{%d+}\r\n%s", len(s), s) }

// TestSearchI18N: the server advertises I18NLEVEL=1, and SEARCH matches
// strings by i;unicode-casemap (RFC 5255 §4, RFC 5051): "cafe" finds
// "Café" in an encoded subject, a UTF-8 body and a Latin-1 one, a
// decomposed needle finds the precomposed text, the ligature ﬁ is "FI",
// full-width letters are their ASCII forms, ß is only ß, and an accent
// inside a word is not dropped ("uber" is not in "Über"); header keys on
// the kept summary, BODY and TEXT on the files, HEADER on other fields,
// before the full-text index has the messages and after, with the same
// answers.
func TestSearchI18N(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	msgs := []string{
		"From: =?utf-8?q?Zo=C3=AB?= <zoe@town.test>\r\nSubject: =?utf-8?q?Caf=C3=A9_au_lait?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nUn café, s'il vous plaît.\r\n",
		"From: jack@town.test\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe ﬁnancial year.\r\n",
		"From: jack@town.test\r\nSubject: street\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDie Hauptstraße.\r\n",
		"From: jack@town.test\r\nSubject: =?utf-8?b?77ym77y177ys77ysIHdpZHRo?=\r\nX-Mood: =?utf-8?q?=C3=9Cber?=\r\n\r\nnothing here\r\n",
		"From: jack@town.test\r\nSubject: latin\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nUn caf=E9 cr=E8me.\r\n",
	}
	for _, m := range msgs {
		e.deliver(t, e.acct.ID, "INBOX", m)
	}
	r := dialRaw(t, e.addr)
	if caps := strings.Join(r.cmd("CAPABILITY"), "\n"); !strings.Contains(caps, " I18NLEVEL=1") {
		t.Errorf("CAPABILITY: %s", caps)
	}
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	cases := []struct {
		search string
		want   []string
	}{
		{"TEXT cafe", []string{"1", "5"}},
		{"BODY " + lit("CAFÉ"), []string{"1", "5"}},
		{"BODY " + lit("cafe\u0301"), []string{"1", "5"}}, // decomposed needle, precomposed text
		{"SUBJECT cafe", []string{"1"}},
		{"SUBJECT " + lit("CAFÉ AU"), []string{"1"}},
		{"FROM " + lit("zoë"), []string{"1"}},
		{"FROM ZOE", []string{"1"}}, // ë is E U+0308: the ASCII needle is in it
		{"BODY financial", []string{"2"}},
		{"BODY fi", []string{"2"}}, // too short for the index: every file read
		{"BODY " + lit("straße"), []string{"3"}},
		{"BODY STRASSE", nil}, // ß has no simple titlecase
		{"SUBJECT full", []string{"4"}},
		{"SUBJECT " + lit("ｆｕｌｌ WIDTH"), []string{"4"}},
		{"HEADER X-Mood " + lit("ÜBER"), []string{"4"}},
		{"HEADER X-Mood uber", nil}, // Ü is U U+0308: the mark stands between U and B
		{"TEXT " + lit("crème"), []string{"5"}},
		{"TEXT creme", nil}, // nor are accents dropped inside a word
		{"TEXT cre", []string{"5"}},
		{"NOT TEXT cafe", []string{"2", "3", "4"}},
		{"OR SUBJECT cafe BODY financial", []string{"1", "2"}},
	}
	run := func(when string) {
		for _, c := range cases {
			lines := r.cmd("UID SEARCH CHARSET UTF-8 " + c.search)
			if !strings.Contains(lines[len(lines)-1], "OK") {
				t.Errorf("%s, %q: %q", when, c.search, lines)
				continue
			}
			var got []string
			for _, l := range lines {
				if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
					got = strings.Fields(rest)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s, %q: %v, want %v", when, c.search, got, c.want)
			}
		}
	}
	run("before indexing")
	if _, err := e.st.Reindex(ctx, e.acct.ID); err != nil {
		t.Fatal(err)
	}
	run("indexed")
}
