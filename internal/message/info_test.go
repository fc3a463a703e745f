package message

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
)

func readInfoFile(t *testing.T, name string) *Info {
	t.Helper()
	b, err := os.ReadFile("testdata/info/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return ReadInfo(bytes.NewReader(b))
}

// TestInfoEnvelopeGroups: RFC 5322 groups become RFC 9051 §7.5.2 group
// markers around their members, with the group's name decoded; plain
// addresses beside a group stay in place.
func TestInfoEnvelopeGroups(t *testing.T) {
	e := readInfoFile(t, "groups.eml").Envelope
	want := map[string][]EnvelopeAddress{
		"To":   {{Mailbox: "undisclosed-recipients"}, {}},
		"Cc":   {{Mailbox: "Friends"}, {Mailbox: "jack", Host: "town.test"}, {Name: "Bob B.", Mailbox: "bob", Host: "town.test"}, {}, {Mailbox: "carol", Host: "town.test"}},
		"Bcc":  {{Mailbox: "Café crew"}, {Mailbox: "dan", Host: "town.test"}, {}},
		"From": {{Name: "Jill Hill", Mailbox: "jill", Host: "hill.test"}},
	}
	got := map[string][]EnvelopeAddress{"To": e.To, "Cc": e.Cc, "Bcc": e.Bcc, "From": e.From}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
	if !e.To[0].IsGroupStart() || !e.To[1].IsGroupEnd() || e.From[0].IsGroupStart() || e.From[0].IsGroupEnd() {
		t.Error("group marker predicates")
	}
}

// TestInfoDecodesHeaderFields: encoded words in any charset go-message
// knows are decoded in the summary and the envelope alike.
func TestInfoDecodesHeaderFields(t *testing.T) {
	info := readInfoFile(t, "encoded.eml")
	if info.Subject != "If you can read this you understand the example." || info.Envelope.Subject != info.Subject {
		t.Errorf("subject %q / %q", info.Subject, info.Envelope.Subject)
	}
	if info.From[0].Name != "André Pirard" || info.Envelope.From[0].Name != "André Pirard" {
		t.Errorf("from %+v", info.From)
	}
	if info.Envelope.Sender[0].Name != "Sam –" || info.ReplyTo[0].Name != "Über" {
		t.Errorf("sender %+v reply-to %+v", info.Envelope.Sender, info.ReplyTo)
	}
	if !slices.Equal(info.References, []string{"a@b.test", "c@d.test"}) || !slices.Equal(info.Envelope.InReplyTo, []string{"a@b.test", "c@d.test"}) || info.MessageID != "e1@hill.test" {
		t.Errorf("ids %v %v %q", info.References, info.Envelope.InReplyTo, info.MessageID)
	}
	if _, off := info.Envelope.Date.Zone(); off != 9*3600 || info.Envelope.Date.Day() != 1 {
		t.Errorf("date %v", info.Envelope.Date)
	}
}

// TestInfoPreview: RFC 8970 §3.1 previews: decoded text without quoted
// lines or signature, white space squeezed; an HTML body as text; the
// plain alternative before the HTML one; at most previewChars characters.
func TestInfoPreview(t *testing.T) {
	for name, want := range map[string]string{
		"encoded.eml":     "Café crème, déjà vu. Second line.",
		"alternative.eml": "Hello Jill, the plain body.",
		"htmlonly.eml":    "News of the day second",
		"forwarded.eml":   "see below",
		"bare.eml":        "",
	} {
		if got := readInfoFile(t, name).Preview; got != want {
			t.Errorf("%s: preview %q, want %q", name, got, want)
		}
	}
	long := "Subject: x\r\n\r\n" + strings.Repeat("é word ", 200)
	p := ReadInfo(strings.NewReader(long)).Preview
	if n := len([]rune(p)); n != previewChars || !strings.HasPrefix(p, "é word é") {
		t.Errorf("long preview: %d characters: %q", n, p)
	}
}

// TestInfoAttachmentsAndSizes: an attachment is seen through nested
// multiparts, a forwarded message is one; a text-only message has none.
// Sizes are the stored octets.
func TestInfoAttachmentsAndSizes(t *testing.T) {
	for name, want := range map[string]bool{"alternative.eml": true, "forwarded.eml": true, "encoded.eml": false, "htmlonly.eml": false, "broken.eml": false} {
		info := readInfoFile(t, name)
		if info.HasAttachment != want {
			t.Errorf("%s: HasAttachment %v", name, info.HasAttachment)
		}
		b, _ := os.ReadFile("testdata/info/" + name)
		if info.Size != int64(len(b)) || info.HeaderSize <= 0 || info.HeaderSize > info.Size || string(b[info.HeaderSize-1]) != "\n" {
			t.Errorf("%s: size %d header %d, file %d", name, info.Size, info.HeaderSize, len(b))
		}
	}
	s := readInfoFile(t, "alternative.eml").Structure
	if !s.IsMultipart() || len(s.Children) != 2 || s.Children[0].Subtype != "alternative" || s.Children[1].DispositionParams["filename"] != "résumé.pdf" {
		t.Errorf("structure %+v", s)
	}
	f := readInfoFile(t, "forwarded.eml").Structure.Children[1]
	if f.Envelope == nil || f.Envelope.MessageID != "inner@town.test" || f.Child == nil || len(f.Child.Children) != 2 || f.Lines == 0 {
		t.Errorf("forwarded part %+v", f)
	}
	if d := readInfoFile(t, "encoded.eml").Date; !d.Equal(time.Date(2026, 12, 1, 14, 59, 59, 0, time.UTC)) {
		t.Errorf("date %v", d)
	}
}

// TestInfoBounded: a message nested far past maxStructureDepth, or with
// far more than maxStructureParts parts, is described in bounded work
// and says so; its size is still every octet.
func TestInfoBounded(t *testing.T) {
	var deep strings.Builder
	deep.WriteString("Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	const levels = 5000
	for i := 1; i <= levels; i++ {
		deep.WriteString("--b" + itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n")
	}
	deep.WriteString("--b" + itoa(levels) + "\r\n\r\ntext\r\n")
	info := ReadInfo(strings.NewReader(deep.String()))
	depth := 0
	for p := info.Structure; p != nil && len(p.Children) > 0; p = p.Children[0] {
		depth++
	}
	if !info.Bounded || depth > maxStructureDepth || info.Size != int64(deep.Len()) {
		t.Errorf("deep: bounded %v, depth %d, size %d of %d", info.Bounded, depth, info.Size, deep.Len())
	}
	var wide strings.Builder
	wide.WriteString("Subject: wide\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n")
	for range 3 * maxStructureParts {
		wide.WriteString("--w\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	wide.WriteString("--w--\r\n")
	info = ReadInfo(strings.NewReader(wide.String()))
	if !info.Bounded || len(info.Structure.Children) >= maxStructureParts || info.Size != int64(wide.Len()) {
		t.Errorf("wide: bounded %v, %d parts", info.Bounded, len(info.Structure.Children))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// FuzzReadInfo: any input is described without panic, within the bounds,
// with every octet counted and a preview of valid UTF-8 no longer than RFC
// 8970 allows.
func FuzzReadInfo(f *testing.F) {
	paths, _ := filepath.Glob("testdata/info/*.eml")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("To: a:b@c;d:;, (x:y) <e@f>, \"g:h\" <i@j>\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info := ReadInfo(bytes.NewReader(data))
		if info.Size != int64(len(data)) {
			t.Fatalf("size %d of %d", info.Size, len(data))
		}
		if !utf8.ValidString(info.Preview) || utf8.RuneCountInString(info.Preview) > 256 {
			t.Fatalf("preview %q", info.Preview)
		}
	})
}

// TestInfoSummaryIsReadSummary: the Summary ReadInfo keeps is the one
// ReadSummary reads, and its envelope the one envelope reads, for every
// message of the corpus.
func TestInfoSummaryIsReadSummary(t *testing.T) {
	paths, _ := filepath.Glob("testdata/info/*.eml")
	more, _ := filepath.Glob("testdata/*.eml")
	for _, p := range append(paths, more...) {
		b, _ := os.ReadFile(p)
		info := ReadInfo(bytes.NewReader(b))
		sum, _ := ReadSummary(bytes.NewReader(b))
		if !reflect.DeepEqual(info.Summary, sum) {
			t.Errorf("%s: summary\n got %+v\nwant %+v", p, info.Summary, sum)
		}
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
		if env := envelope(h); !reflect.DeepEqual(info.Envelope, env) {
			t.Errorf("%s: envelope\n got %+v\nwant %+v", p, info.Envelope, env)
		}
	}
}
