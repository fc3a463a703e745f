package message

import (
	"bytes"
	"flag"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n%s", path, got)
	}
}

func testDraft() *Draft {
	return &Draft{
		From:       mail.Address{Name: "Jöran Ässel", Address: "joran@hill.test"},
		To:         []mail.Address{{Name: "Jill", Address: "jill@hill.test"}, {Address: "jack@town.test"}},
		Cc:         []mail.Address{{Name: "Smith, John", Address: "john@town.test"}},
		Bcc:        []mail.Address{{Address: "secret@town.test"}},
		Subject:    "Grüße aus Köln — a subject long enough that its encoded words must be folded over lines",
		Text:       "Hello Jill,\n\nthe café is open. A line with trailing space \nand = signs.\n",
		InReplyTo:  "parent@town.test",
		References: []string{"root@town.test", "parent@town.test"},
		Date:       time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("", 3600)),
		MessageID:  "abc123@mx.hill.test",
		Boundary:   "BOUNDARY",
		Attachments: []Attachment{
			{Name: "notes.txt", ContentType: "text/plain", Data: []byte("plain notes\n")},
			{Name: "Übersicht 2026.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte{0, 1, 2, 250}, 40)},
		},
	}
}

func TestComposeGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Compose(&b, testDraft()); err != nil {
		t.Fatal(err)
	}
	golden(t, "compose-multipart.eml", b.Bytes())
	for i, line := range strings.Split(b.String(), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d is %d characters: %q", i+1, len(line), line)
		}
		if strings.Contains(line, "\n") {
			t.Errorf("line %d has a bare LF", i+1)
		}
		if strings.HasPrefix(line, "Bcc:") {
			t.Errorf("Bcc written without IncludeBcc")
		}
	}

	d := testDraft()
	d.Attachments = nil
	d.IncludeBcc = true
	b.Reset()
	if err := Compose(&b, d); err != nil {
		t.Fatal(err)
	}
	golden(t, "compose-text.eml", b.Bytes())
}

// TestComposeRoundTrip parses what Compose writes and gets the same
// fields, text and attachments back.
func TestComposeRoundTrip(t *testing.T) {
	d := testDraft()
	var b bytes.Buffer
	if err := Compose(&b, d); err != nil {
		t.Fatal(err)
	}
	p, err := Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != d.Subject {
		t.Errorf("subject %q, want %q", p.Subject, d.Subject)
	}
	if len(p.From) != 1 || p.From[0].Name != "Jöran Ässel" || p.From[0].Address != "joran@hill.test" {
		t.Errorf("from %+v", p.From)
	}
	if len(p.Cc) != 1 || p.Cc[0].Name != "Smith, John" {
		t.Errorf("cc %+v", p.Cc)
	}
	if p.Text != d.Text {
		t.Errorf("text %q, want %q", p.Text, d.Text)
	}
	if p.MessageID != d.MessageID || len(p.References) != 2 {
		t.Errorf("ids %q %v", p.MessageID, p.References)
	}
	if len(p.Parts) != 2 {
		t.Fatalf("parts %+v", p.Parts)
	}
	if p.Parts[1].Name != "Übersicht 2026.pdf" || p.Parts[1].ContentType != "application/pdf" || p.Parts[1].Size != 160 {
		t.Errorf("part %+v", p.Parts[1])
	}
	var out bytes.Buffer
	part, err := Extract(bytes.NewReader(b.Bytes()), p.Parts[1].Index, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), d.Attachments[1].Data) || part.Name != p.Parts[1].Name {
		t.Errorf("extracted %d bytes %+v", out.Len(), part)
	}
	if _, err := Extract(bytes.NewReader(b.Bytes()), 99, &out); err != ErrNoPart {
		t.Errorf("Extract(99) = %v, want ErrNoPart", err)
	}
	if !p.Multipart {
		t.Error("Multipart not set")
	}
}

const latin1Alternative = "From: =?ISO-8859-1?Q?Andr=E9?= <andre@town.test>\r\n" +
	"To: jill@hill.test\r\n" +
	"Subject: =?iso-8859-1?q?caf=E9?=\r\n" +
	"Date: Tue, 3 Feb 2026 10:00:00 +0000\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"caf=E9 au lait\r\n" +
	"--b1\r\n" +
	"Content-Type: multipart/related; boundary=b2\r\n" +
	"\r\n" +
	"--b2\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>caf\xc3\xa9 <img src=\"cid:logo@x\"></p>\r\n" +
	"--b2\r\n" +
	"Content-Type: image/png\r\n" +
	"Content-ID: <logo@x>\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"iVBORw0KGgo=\r\n" +
	"--b2--\r\n" +
	"--b1--\r\n"

func TestParseAlternativeCharset(t *testing.T) {
	p, err := Parse(strings.NewReader(latin1Alternative))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "café" || p.From[0].Name != "André" {
		t.Errorf("header %q %+v", p.Subject, p.From)
	}
	if strings.TrimSpace(p.Text) != "café au lait" {
		t.Errorf("text %q", p.Text)
	}
	if !strings.Contains(p.HTML, "café") {
		t.Errorf("html %q", p.HTML)
	}
	if len(p.Parts) != 1 || !p.Parts[0].Inline || p.Parts[0].ContentID != "logo@x" || string(p.Parts[0].Data) != "\x89PNG\r\n\x1a\n" {
		t.Errorf("parts %+v", p.Parts)
	}
}

func TestParseBadInput(t *testing.T) {
	for _, in := range []string{
		"",
		"no header at all",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nunterminated",
		"Content-Type: text/plain; charset=no-such-charset\r\n\r\nbody\r\n",
		"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
		"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
	} {
		p, err := Parse(strings.NewReader(in))
		if err != nil {
			continue
		}
		_ = p.PlainText()
	}
}

func TestReply(t *testing.T) {
	s := Summary{
		From:       []Address{{Name: "Jack", Address: "jack@town.test"}},
		To:         []Address{{Address: "jill@hill.test"}, {Address: "bob@town.test"}},
		Cc:         []Address{{Address: "jack@town.test"}, {Address: "carol@town.test"}},
		MessageID:  "m2@town.test",
		References: []string{"m1@town.test"},
	}
	to, cc := ReplyRecipients(s, "Jill@hill.test", false)
	if len(to) != 1 || to[0].Address != "jack@town.test" || cc != nil {
		t.Errorf("reply: %v %v", to, cc)
	}
	to, cc = ReplyRecipients(s, "jill@hill.test", true)
	if len(to) != 1 || len(cc) != 2 || cc[0].Address != "bob@town.test" || cc[1].Address != "carol@town.test" {
		t.Errorf("reply all: %v %v", to, cc)
	}
	if refs := ReplyReferences(s); strings.Join(refs, " ") != "m1@town.test m2@town.test" {
		t.Errorf("references %v", refs)
	}
	if ReplySubject("RE: x") != "RE: x" || ReplySubject("x") != "Re: x" || ForwardSubject("x") != "Fwd: x" {
		t.Error("subjects")
	}
	q := Quote("line one\r\n> older\n", s.From, time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC))
	want := "\n\nOn Fri, 2 Jan 2026 03:04 +0000, Jack <jack@town.test> wrote:\n> line one\n>> older\n"
	if q != want {
		t.Errorf("quote %q, want %q", q, want)
	}
}

func TestHTMLToText(t *testing.T) {
	got := HTMLToText("<html><head><title>t</title><style>p{}</style></head><body><p>Hello <b>you</b></p><script>evil()</script><div>two</div></body></html>")
	if got != "Hello you\n\ntwo" {
		t.Errorf("got %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(latin1Alternative))
	var b bytes.Buffer
	Compose(&b, testDraft())
	f.Add(b.Bytes())
	f.Add([]byte("Subject: x\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = p.PlainText()
		for _, part := range p.Parts {
			Extract(bytes.NewReader(data), part.Index, &bytes.Buffer{})
		}
	})
}
