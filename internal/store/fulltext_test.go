package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"

	"pail/internal/message"
)

// textWords are what the generated corpus is made of: ASCII and
// non-ASCII words, some sharing substrings.
var textWords = []string{"zanzibar", "Zanzibar", "bazaar", "Über", "überall", "straße", "Straßenbahn", "café", "CAFÉ", "naïve", "résumé",
	"Ἀθῆναι", "日本語テキスト", "ΣΊΣΥΦΟΣ", "report", "quarterly", "Hello", "jill", "JACK", "meeting", "x", "ok", "łódź", "ÇA", "aardvark",
	"ﬁnancial", "ｃａｆé", "Ⅷ", "e\u0301clair", "İstanbul"}

// textCorpus generates n messages of many encodings: plain, RFC 2047
// words in Subject and From, quoted-printable and base64 bodies, a
// Latin-1 body, HTML with entities, text attachments beside binary ones,
// and broken ones.
func textCorpus(n int, r *rand.Rand) []string {
	words := func(k int) string {
		var w []string
		for range k {
			w = append(w, textWords[r.IntN(len(textWords))])
		}
		return strings.Join(w, " ")
	}
	var out []string
	for i := range n {
		subj, from, body := words(3), words(2), words(12)
		hdr := fmt.Sprintf("To: Jill %s <jill@hill.test>\r\nCc: %s <cc%d@hill.test>\r\nDate: Mon, 7 Dec 2026 12:00:00 +0100\r\nMessage-ID: <%d.%s@town.test>\r\nX-Tag: tag%05d\r\n",
			words(1), words(1), i, i, strings.ReplaceAll(words(1), " ", ""), r.IntN(100000))
		var m string
		switch i % 7 {
		case 0: // plain 7bit
			m = hdr + "From: " + from + " <jack@town.test>\r\nSubject: " + subj + "\r\n\r\n" + body + "\r\n"
		case 1: // encoded words; quoted-printable UTF-8 body
			var qp strings.Builder
			w := quotedprintable.NewWriter(&qp)
			io.WriteString(w, body)
			w.Close()
			m = hdr + "From: " + mime.BEncoding.Encode("utf-8", from) + " <jack@town.test>\r\nSubject: " + mime.QEncoding.Encode("utf-8", subj) +
				"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n"
		case 2: // Latin-1, quoted-printable
			latin := "caf\xe9 na\xefve \xdcber stra\xdfe " + strings.Map(func(r rune) rune {
				if r < 0x80 {
					return r
				}
				return -1
			}, body)
			var qp strings.Builder
			w := quotedprintable.NewWriter(&qp)
			io.WriteString(w, latin)
			w.Close()
			m = hdr + "From: jack <jack@town.test>\r\nSubject: =?iso-8859-1?q?caf=E9_" + fmt.Sprint(i) + "?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n"
		case 3: // base64 UTF-8 body
			m = hdr + "From: " + mime.QEncoding.Encode("utf-8", from) + " <jack@town.test>\r\nSubject: " + subj +
				"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(body)) + "\r\n"
		case 4: // alternative with HTML and entities
			html := "<html><body><p>" + strings.ReplaceAll(body, " ", " <b>&amp;</b> ") + " caf&eacute;</p></body></html>"
			m = hdr + "From: " + from + " <jack@town.test>\r\nSubject: " + subj + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
				words(5) + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.ReplaceAll(html, "=", "=3D") + "\r\n--alt--\r\n"
		case 5: // mixed: text, a base64 text attachment, a binary one
			m = hdr + "From: " + from + " <jack@town.test>\r\nSubject: " + subj + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\nContent-Type: text/plain\r\n\r\n" + words(4) +
				"\r\n--mix\r\nContent-Type: text/csv; charset=utf-8; name=a.csv\r\nContent-Disposition: attachment; filename=a.csv\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				base64.StdEncoding.EncodeToString([]byte(body)) + "\r\n--mix\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				base64.StdEncoding.EncodeToString([]byte("pdfsecret "+words(3))) + "\r\n--mix--\r\n"
		case 6: // broken: bogus charset, unterminated multipart
			m = hdr + "From: =?bogus-cs?q?" + strings.ReplaceAll(words(1), " ", "_") + "?= <jack@town.test>\r\nSubject: " + subj + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=brk\r\n\r\n--brk\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\n" + body + "\r\n--brk\r\nContent-Type: text/plain\r\n\r\n" + words(3)
		}
		out = append(out, m)
	}
	return out
}

// bruteMatch is the exact check, done on a message's bytes with no index:
// RFC 9051 §6.4.4, a substring by i;unicode-casemap (RFC 5255 §4:
// message.Casemap of the needle in that of the text) of the decoded header
// field (any field for TEXT, the named one for SUBJECT, FROM, ... or
// HEADER) or of the decoded text of a text/* or message/* part (BODY,
// TEXT), as imapd checks it.
func bruteMatch(raw, field, needle string) bool {
	n := message.Casemap(needle)
	e, err := gomessage.Read(strings.NewReader(raw))
	if e == nil {
		return false
	}
	_ = err
	header := func(key string) bool {
		fs := e.Header.Fields()
		if key != "" {
			fs = e.Header.FieldsByKey(key)
		}
		for fs.Next() {
			v, err := fs.Text()
			if err != nil {
				v = fs.Value()
			}
			if strings.Contains(message.Casemap(v), n) {
				return true
			}
		}
		return false
	}
	var body func(e *gomessage.Entity, depth int) bool
	body = func(e *gomessage.Entity, depth int) bool {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if p == nil || err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
					return false
				}
				if body(p, depth+1) {
					return true
				}
			}
		}
		t, _, _ := e.Header.ContentType()
		if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
			return false
		}
		b, _ := io.ReadAll(e.Body)
		return strings.Contains(message.Casemap(string(b)), n)
	}
	switch field {
	case "TEXT":
		return header("") || body(e, 0)
	case "BODY":
		return body(e, 0)
	default:
		return header(field)
	}
}

// waitText waits until the indexer has indexed every message.
func waitText(tb testing.TB, s *Store) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := s.textPending(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d messages still not indexed", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// textNeedles picks needles from the corpus: substrings of its decoded
// text (inside words, across words, in changed case) and fixed ones.
func textNeedles(corpus []string, r *rand.Rand) []string {
	needles := []string{"zanz", "ANZIB", "über", "ÜBERALL", "straße", "STRASSE", "café", "cafe", "CAF", "é n", "e\u0301 n", "ﬁ", "ｃａｆｅ", "FINANC", "viii", "eclair", "istan", "日本語", "本語テ", "σίσυφος", "θῆν", "łódź",
		"&amp;", "pdfsecret", "tag0", "town.test", "jill@hill", "=3D", "eacute", "x", "ok", "nothing-like-this"}
	for range 60 {
		st := message.ReadSearchText(strings.NewReader(corpus[r.IntN(len(corpus))]))
		src := []rune(st.Header + " " + st.Body)
		k := 3 + r.IntN(8)
		if len(src) <= k {
			continue
		}
		i := r.IntN(len(src) - k)
		n := string(src[i : i+k])
		if r.IntN(2) == 0 {
			n = strings.ToUpper(n)
		}
		needles = append(needles, n)
	}
	return needles
}

// TestSearchTextNeverMisses: on a generated corpus of every encoding, the
// candidates SearchText gives for each field and needle hold every message
// that a brute-force scan of the message bytes finds (substrings inside
// words, any case, non-ASCII, encoded words, quoted-printable, base64,
// HTML, attachments), and it narrows: the false candidates are few.
func TestSearchTextNeverMisses(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	r := rand.New(rand.NewPCG(17, 2))
	corpus := textCorpus(140, r)
	byUID := map[uint32]string{}
	var mailbox int64
	for _, m := range corpus {
		ds, err := s.DeliverBody(ctx, spool(t, s, m), []Delivery{{AccountID: a.ID}})
		if err != nil {
			t.Fatal(err)
		}
		byUID[ds[0].UID], mailbox = m, ds[0].MailboxID
	}
	waitText(t, s)
	fields := []string{"TEXT", "BODY", "SUBJECT", "FROM", "TO", "CC", "BCC", "X-Tag", "message-id"}
	var matches, extra int
	extraKind := map[string]int{}
	for _, needle := range textNeedles(corpus, r) {
		for _, field := range fields {
			cands, narrowed, err := s.SearchText(ctx, mailbox, field, needle)
			if err != nil {
				t.Fatal(err)
			}
			short := utf8.RuneCountInString(message.FoldSearch(needle)) < minNeedle
			if addressFields[field] {
				// Only runs of three letters or digits are looked up.
				short = !slices.ContainsFunc(strings.FieldsFunc(message.FoldSearch(needle), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }),
					func(w string) bool { return utf8.RuneCountInString(w) >= minNeedle })
			}
			if narrowed == short {
				t.Fatalf("%s %q: narrowed %v", field, needle, narrowed)
			}
			for uid, m := range byUID {
				want := bruteMatch(m, field, needle)
				if want {
					matches++
				}
				if !narrowed {
					continue
				}
				got := slices.Contains(cands, uid)
				if want && !got {
					t.Errorf("%s %q: UID %d matches but is no candidate:\n%s", field, needle, uid, m)
				}
				// Broken messages (every seventh) are always candidates,
				// and HEADER name narrows to any field holding the needle.
				if got && !want && (uid-1)%7 != 6 && textColumns[field] != "" {
					extra++
					extraKind[field]++
				}
			}
		}
	}
	if matches == 0 || extra > matches/4 {
		t.Errorf("%d matches, %d false candidates: the index does not narrow", matches, extra)
	}
	t.Logf("%d matches, %d false candidates %v", matches, extra, extraKind)
}

// TestSearchTextAllFolders: SearchTextAccount finds the candidates of
// every mailbox of the account, and not another account's.
func TestSearchTextAllFolders(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	b, _ := s.AddAccount(ctx, "bob@hill.test", "h", false)
	if _, err := s.CreateMailbox(ctx, a.ID, "Trips", ""); err != nil {
		t.Fatal(err)
	}
	msg := "From: jack@town.test\r\nSubject: zanzibar trip\r\n\r\nhello\r\n"
	in, err := s.DeliverBody(ctx, spool(t, s, msg), []Delivery{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Trips"}, {AccountID: b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	s.DeliverBody(ctx, spool(t, s, "Subject: other\r\n\r\nbye\r\n"), []Delivery{{AccountID: a.ID}})
	waitText(t, s)
	got, narrowed, err := s.SearchTextAccount(ctx, a.ID, "SUBJECT", "ZIBA")
	if err != nil || !narrowed || len(got) != 2 || !slices.Equal(got[in[0].MailboxID], []uint32{in[0].UID}) || !slices.Equal(got[in[1].MailboxID], []uint32{in[1].UID}) {
		t.Errorf("all folders: %v %v %v", got, narrowed, err)
	}
}

// textRows counts the rows of the full-text index.
func textRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM message_text").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSearchTextExpunge: expunging a message, deleting its mailbox or its
// account removes its index rows; a copy is indexed on its own.
func TestSearchTextExpunge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	b, _ := s.AddAccount(ctx, "bob@hill.test", "h", false)
	mb, err := s.CreateMailbox(ctx, a.ID, "Trips", "")
	if err != nil {
		t.Fatal(err)
	}
	msg := "Subject: zanzibar\r\n\r\nhello\r\n"
	ds, err := s.DeliverBody(ctx, spool(t, s, msg), []Delivery{{AccountID: a.ID}, {AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Trips"}, {AccountID: b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, s)
	if n := textRows(t, s); n != 4 {
		t.Fatalf("%d index rows, want 4", n)
	}
	inbox := ds[0].MailboxID
	if _, err := s.Copy(ctx, inbox, []uint32{ds[0].UID}, mb.ID); err != nil {
		t.Fatal(err)
	}
	waitText(t, s)
	if n := textRows(t, s); n != 5 {
		t.Fatalf("%d index rows after a copy, want 5", n)
	}
	msgs, _ := s.Messages(ctx, inbox)
	if err := s.Expunge(ctx, inbox, []int64{msgs[0].ID}); err != nil {
		t.Fatal(err)
	}
	if n := textRows(t, s); n != 4 {
		t.Errorf("%d index rows after expunge, want 4", n)
	}
	uids, _, err := s.SearchText(ctx, inbox, "SUBJECT", "zanzibar")
	if err != nil || !slices.Equal(uids, []uint32{ds[1].UID}) {
		t.Errorf("after expunge: %v %v", uids, err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Trips"); err != nil {
		t.Fatal(err)
	}
	if n := textRows(t, s); n != 2 {
		t.Errorf("%d index rows after deleting a mailbox, want 2", n)
	}
	if err := s.DeleteAccount(ctx, "bob@hill.test"); err != nil {
		t.Fatal(err)
	}
	if n := textRows(t, s); n != 1 {
		t.Errorf("%d index rows after deleting an account, want 1", n)
	}
}

// TestReindex: Reindex rebuilds an account's index (here lost) from the
// files, and leaves other accounts' alone.
func TestReindex(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	b, _ := s.AddAccount(ctx, "bob@hill.test", "h", false)
	ds, err := s.DeliverBody(ctx, spool(t, s, "Subject: zanzibar\r\n\r\nhello\r\n"), []Delivery{{AccountID: a.ID}, {AccountID: b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, s)
	if _, err := s.db.Exec("DELETE FROM message_text"); err != nil {
		t.Fatal(err)
	}
	if uids, _, _ := s.SearchText(ctx, ds[0].MailboxID, "SUBJECT", "zanz"); len(uids) != 0 {
		t.Fatalf("lost index still finds %v", uids)
	}
	n, err := s.Reindex(ctx, a.ID)
	if err != nil || n != 1 {
		t.Fatalf("reindex: %d %v", n, err)
	}
	if uids, _, _ := s.SearchText(ctx, ds[0].MailboxID, "SUBJECT", "zanz"); !slices.Equal(uids, []uint32{ds[0].UID}) {
		t.Errorf("after reindex: %v", uids)
	}
	if uids, _, _ := s.SearchText(ctx, ds[1].MailboxID, "SUBJECT", "zanz"); len(uids) != 0 {
		t.Errorf("other account reindexed: %v", uids)
	}
}

// preTextSchema takes a store's database back to before the full-text
// index (migration 9), as a data directory of an older pail has it.
func preTextSchema(t *testing.T, dir string) {
	t.Helper()
	preObjectIDSchema(t, dir)
	db, err := sql.Open("sqlite", "file:"+dir+"/pail.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Migrations 12 and 11 went first (preObjectIDSchema), then 10
	// (quotaMigration), then the index (9).
	for _, q := range []string{"DROP INDEX messages_size", "ALTER TABLE accounts DROP COLUMN quota", "DROP TRIGGER messages_text_gone", "DROP TABLE message_text", "DROP INDEX messages_untexted", "DROP INDEX messages_text_unsure",
		"ALTER TABLE messages DROP COLUMN text_state", "PRAGMA user_version = 8"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}

// TestTextMigrationFills: mail stored before the index is indexed in the
// background after the migration (resuming after a Close), and is a
// candidate for every search until then.
func TestTextMigrationFills(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	const n = 2*fillBatch + 3
	ds := deliverSummaries(t, s, a.ID, n)
	s.Close()
	preTextSchema(t, dir)

	// Stop the indexer before it starts: every message is a candidate.
	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.stopFill()
	<-s.textDone
	uids, narrowed, err := s.SearchText(ctx, ds[0].MailboxID, "BODY", "number 7")
	if err != nil || !narrowed || len(uids) < n-textRows(t, s) {
		t.Fatalf("before the fill: %d candidates (%v)", len(uids), err)
	}
	s.Close()

	s = openTest(t, dir)
	waitText(t, s)
	if plan := queryPlan(t, s.db.DB, textTodo, []any{0, 0, 0, textBatch}); !strings.Contains(plan, "messages_untexted") {
		t.Errorf("indexer query plan:\n%s", plan)
	}
	uids, _, err = s.SearchText(ctx, ds[0].MailboxID, "BODY", "number 7")
	var want []uint32
	for i, d := range ds {
		if strings.Contains(summaryMsg(i), "number 7") {
			want = append(want, d.UID)
		}
	}
	if err != nil || !slices.Equal(uids, want) {
		t.Errorf("after the fill: %v, want %v (%v)", uids, want, err)
	}
}

// TestListMessagesByUIDs: ListQuery.UIDs keeps a page to the search's
// candidates, in the list order and by keyset; an empty set lists none.
func TestListMessagesByUIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		ds := deliverSummaries(t, s, a.ID, 10)
		mb := ds[0].MailboxID
		page, err := s.ListMessages(ctx, mb, ListQuery{UIDs: []uint32{2, 5, 9}, Limit: 2})
		if err != nil || len(page) != 2 || page[0].UID != 9 || page[1].UID != 5 {
			t.Fatalf("first page: %+v %v", page, err)
		}
		page, err = s.ListMessages(ctx, mb, ListQuery{UIDs: []uint32{2, 5, 9}, Older: page[1].Key(), Limit: 2})
		if err != nil || len(page) != 1 || page[0].UID != 2 {
			t.Fatalf("older page: %+v %v", page, err)
		}
		if page, err := s.ListMessages(ctx, mb, ListQuery{UIDs: []uint32{}}); err != nil || len(page) != 0 {
			t.Fatalf("no candidates: %d %v", len(page), err)
		}
	})
}

// TestCasemapMigration: a store from before casemapMigration holds index
// text folded the old way (lower case, white space squeezed), in which
// the i;unicode-casemap fold of "cafe" is not found; once reopened the
// migration empties the index and the background indexer rebuilds every
// row, so "cafe" finds "Café" (é decomposed) in the subject and the body,
// as do the other folds, and the index again never misses.
func TestCasemapMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	msgs := []string{"Subject: Café\r\n\r\nUn café, s'il vous plaît\r\n", "Subject: other\r\n\r\nthe ﬁnancial report\r\n", "Subject: tea\r\n\r\nnothing\r\n"}
	var ds []Delivered
	for _, m := range msgs {
		d, err := s.DeliverBody(ctx, spool(t, s, m), []Delivery{{AccountID: a.ID}})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d[0])
	}
	waitText(t, s)
	s.Close()

	// Back to the previous schema version, with the text as that pail
	// folded it.
	db, err := sql.Open("sqlite", "file:"+dir+"/pail.db")
	if err != nil {
		t.Fatal(err)
	}
	old := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
	for _, q := range []string{"INSERT INTO message_text (message_text) VALUES ('delete-all')", "UPDATE messages SET text_state = 1", fmt.Sprintf("PRAGMA user_version = %d", len(migrations)-1)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	for i, m := range msgs {
		subj, body, _ := strings.Cut(strings.TrimPrefix(m, "Subject: "), "\r\n\r\n")
		if _, err := db.Exec("INSERT INTO message_text (rowid, hdr, subject, from_, to_, cc_, bcc_, body) SELECT id, ?, ?, '', '', '', '', ? FROM messages WHERE uid = ?",
			"subject: "+old(subj), old(subj), old(body), ds[i].UID); err != nil {
			t.Fatal(err)
		}
	}
	var stale int
	if err := db.QueryRow(`SELECT count(*) FROM message_text WHERE message_text MATCH ?`, `body: "`+message.FoldSearch("cafe")+`"`).Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("the old index finds the new fold: %d %v", stale, err)
	}
	db.Close()

	s = openTest(t, dir)
	waitText(t, s)
	if n := textRows(t, s); n != len(msgs) {
		t.Errorf("%d rows indexed again, want %d", n, len(msgs))
	}
	for _, c := range []struct {
		field, needle string
		want          []uint32
	}{
		{"BODY", "cafe", []uint32{ds[0].UID}},
		{"SUBJECT", "CAFE", []uint32{ds[0].UID}},
		{"TEXT", "café", []uint32{ds[0].UID}},
		{"BODY", "FINANCIAL", []uint32{ds[1].UID}},
		{"BODY", "nothing", []uint32{ds[2].UID}},
	} {
		uids, narrowed, err := s.SearchText(ctx, ds[0].MailboxID, c.field, c.needle)
		if err != nil || !narrowed || !slices.Equal(uids, c.want) {
			t.Errorf("%s %q after the migration: %v %v %v, want %v", c.field, c.needle, uids, narrowed, err, c.want)
		}
		for i, m := range msgs {
			if bruteMatch(m, c.field, c.needle) && !slices.Contains(uids, ds[i].UID) {
				t.Errorf("%s %q: UID %d matches but is no candidate", c.field, c.needle, ds[i].UID)
			}
		}
	}
}
