package store_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"pail/internal/mbox"
	"pail/internal/message"
	"pail/internal/store"
)

// corpus gathers the messages of the project's test corpora: the message
// testdata (and its summary corpus), the fuzz seeds of every parser that
// reads mail, the messages in mbox seeds, the DSN golden file and the
// message literals of imapd's tests. Each is also taken with CRLF line
// endings, as SMTP and IMAP store them.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	root := filepath.Join("..", "..")
	out := map[string][]byte{}
	add := func(name string, b []byte) {
		out[name] = b
		crlf := bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
		out[name+"#crlf"] = crlf
	}
	files := func(pattern string) []string {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, p := range append(files("internal/message/testdata/*.eml"), append(files("internal/message/testdata/info/*.eml"), files("internal/dsn/testdata/*.golden")...)...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		add(p, b)
	}
	for _, dir := range []string{"internal/message/testdata/fuzz/*", "internal/mbox/testdata/fuzz/*", "internal/delivery/testdata/fuzz/*", "internal/smtpd/testdata/fuzz/FuzzCopyContent", "internal/mailheader/testdata/fuzz/*"} {
		for _, d := range files(dir) {
			seeds, _ := filepath.Glob(filepath.Join(d, "*"))
			for _, p := range seeds {
				for i, b := range fuzzSeed(t, p) {
					name := p + "#" + strconv.Itoa(i)
					add(name, b)
					if strings.Contains(p, "/mbox/") {
						r := mbox.NewReader(bytes.NewReader(b))
						for j := 0; ; j++ {
							m, err := r.Next()
							if err != nil || m == nil {
								break
							}
							add(name+"#mbox"+strconv.Itoa(j), m.Body)
						}
					}
				}
			}
		}
	}
	for i, b := range imapdLiterals(t, filepath.Join(root, "internal", "imapd")) {
		add("imapd-test-literal#"+strconv.Itoa(i), b)
	}
	if len(out) < 100 {
		t.Fatalf("corpus has only %d messages", len(out))
	}
	return out
}

// fuzzSeed reads the []byte and string values of a "go test fuzz v1" file.
func fuzzSeed(t *testing.T, path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		lit := ""
		switch {
		case strings.HasPrefix(line, "[]byte(") && strings.HasSuffix(line, ")"):
			lit = line[len("[]byte(") : len(line)-1]
		case strings.HasPrefix(line, "string(") && strings.HasSuffix(line, ")"):
			lit = line[len("string(") : len(line)-1]
		default:
			continue
		}
		s, err := strconv.Unquote(lit)
		if err != nil {
			continue
		}
		out = append(out, []byte(s))
	}
	return out
}

// imapdLiterals returns the string constants in imapd's tests that hold a
// message: a header field line and a blank line after the header.
func imapdLiterals(t *testing.T, dir string) [][]byte {
	paths, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	var out [][]byte
	fset := token.NewFileSet()
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			n2 := strings.ReplaceAll(s, "\r\n", "\n")
			if i := strings.Index(n2, "\n\n"); i > 0 && strings.Contains(n2[:i], ": ") && !strings.ContainsAny(n2[:1], " \t") {
				out = append(out, []byte(s))
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("no message literals in imapd's tests")
	}
	return out
}

// TestKeptEnvelopeAndStructureEqualIMAP stores every corpus message and
// checks that the ENVELOPE and BODYSTRUCTURE kept at delivery equal those
// imapd computes from the file today (fetch.go: imapserver.ExtractEnvelope
// of the header, imapserver.ExtractBodyStructure of the bytes). The one
// intended difference is group syntax: the kept envelope has RFC 9051
// §7.5.2 group markers, which go-imap leaves out; they are removed before
// comparing, and TestKeptEnvelopeGroups checks them.
func TestKeptEnvelopeAndStructureEqualIMAP(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, err := st.AddAccount(ctx, "jill@hill.test", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	msgs := corpus(t)
	for name, raw := range msgs {
		sp, err := st.NewSpool()
		if err != nil {
			t.Fatal(err)
		}
		sp.Write(raw)
		ds, err := st.Deliver(ctx, sp, []store.Delivery{{AccountID: acct.ID}})
		if err != nil {
			t.Fatal(name, err)
		}
		infos, err := st.MessageInfos(ctx, ds[0].MailboxID, []uint32{ds[0].UID}, true)
		if err != nil {
			t.Fatal(name, err)
		}
		info := infos[ds[0].UID]
		if info == nil {
			t.Fatalf("%s: no kept summary", name)
		}
		m, err := st.MessagesByUID(ctx, ds[0].MailboxID, []uint32{ds[0].UID})
		if err != nil || len(m) != 1 {
			t.Fatal(name, err)
		}
		f, err := st.OpenMessage(m[0])
		if err != nil {
			t.Fatal(err)
		}
		buf, _ := io.ReadAll(f)
		f.Close()
		// What imapd's fetchOne computes.
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(buf)))
		wantEnv := imapserver.ExtractEnvelope(h)
		wantBS := imapserver.ExtractBodyStructure(bytes.NewReader(buf))

		gotEnv := imapEnvelope(&info.Envelope, true)
		if d := diff(wantEnv, gotEnv); d != "" {
			t.Errorf("%s: envelope differs: %s", name, d)
		}
		gotBS := imapStructure(info.Structure)
		if d := diff(wantBS, gotBS); d != "" {
			t.Errorf("%s: body structure differs: %s", name, d)
		}
		if info.Size != int64(len(buf)) {
			t.Errorf("%s: size %d, file %d", name, info.Size, len(buf))
		}
	}
	t.Logf("%d corpus messages compared", len(msgs))
}

// diff compares two go-imap values after normalising what has no wire
// form (empty against nil maps and slices, a time's location beside its
// offset), and says where they differ.
func diff(want, got any) string {
	w, g := normalize(reflect.ValueOf(want)), normalize(reflect.ValueOf(got))
	if reflect.DeepEqual(w, g) {
		return ""
	}
	return fmt.Sprintf("\nwant %v\n got %v", w, g)
}

// normalize turns a go-imap value into plain maps and slices for
// comparison: empty collections become nil, times their wire string.
func normalize(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if t, ok := v.Interface().(interface{ Format(string) string }); ok && v.Type().String() == "time.Time" {
		return t.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return normalize(v.Elem())
	case reflect.Struct:
		m := map[string]any{"_type": v.Type().String()}
		for i := 0; i < v.NumField(); i++ {
			if n := normalize(v.Field(i)); n != nil {
				m[v.Type().Field(i).Name] = n
			}
		}
		return m
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		var out []any
		for i := 0; i < v.Len(); i++ {
			out = append(out, normalize(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[k.String()] = normalize(v.MapIndex(k))
		}
		return m
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		return v.String()
	default:
		if v.IsZero() {
			return nil
		}
		return v.Interface()
	}
}

// imapEnvelope is the go-imap form of a kept envelope; with dropGroups
// the group markers are left out, as go-imap's own extraction does.
func imapEnvelope(e *message.Envelope, dropGroups bool) *imap.Envelope {
	if e == nil {
		return nil
	}
	addrs := func(l []message.EnvelopeAddress) []imap.Address {
		var out []imap.Address
		for _, a := range l {
			if dropGroups && a.Host == "" {
				continue
			}
			out = append(out, imap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host})
		}
		return out
	}
	return &imap.Envelope{
		Date: e.Date, Subject: e.Subject,
		From: addrs(e.From), Sender: addrs(e.Sender), ReplyTo: addrs(e.ReplyTo),
		To: addrs(e.To), Cc: addrs(e.Cc), Bcc: addrs(e.Bcc),
		InReplyTo: e.InReplyTo, MessageID: e.MessageID,
	}
}

// imapStructure is the go-imap form of a kept body structure, the
// mapping imapd's FETCH BODYSTRUCTURE is to use.
func imapStructure(p *message.BodyPart) imap.BodyStructure {
	var disp *imap.BodyStructureDisposition
	if p.Disposition != "" {
		disp = &imap.BodyStructureDisposition{Value: p.Disposition, Params: p.DispositionParams}
	}
	if p.IsMultipart() {
		mp := &imap.BodyStructureMultiPart{Subtype: p.Subtype, Extended: &imap.BodyStructureMultiPartExt{
			Params: p.Params, Disposition: disp, Language: p.Language, Location: p.Location,
		}}
		for _, c := range p.Children {
			mp.Children = append(mp.Children, imapStructure(c))
		}
		return mp
	}
	sp := &imap.BodyStructureSinglePart{
		Type: p.Type, Subtype: p.Subtype, Params: p.Params,
		ID: p.ID, Description: p.Description, Encoding: p.Encoding, Size: p.Size,
		Extended: &imap.BodyStructureSinglePartExt{Disposition: disp, Language: p.Language, Location: p.Location},
	}
	if p.Envelope != nil {
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{Envelope: imapEnvelope(p.Envelope, true), BodyStructure: imapStructure(p.Child), NumLines: p.Lines}
	}
	if p.Type == "text" {
		sp.Text = &imap.BodyStructureText{NumLines: p.Lines}
	}
	return sp
}
