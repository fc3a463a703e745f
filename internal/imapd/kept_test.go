package imapd

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pail/internal/imapmsg"
	"pail/internal/mbox"
	"pail/internal/store"
)

// TestKeptWireEqualsFile stores every message of the project's test
// corpora and checks that the ENVELOPE, BODYSTRUCTURE and BODY that FETCH
// sends from the summary kept at delivery are byte for byte those it
// computes from the file (groups included), with and without UTF-8, and
// that a FETCH over a socket sends the kept forms.
func TestKeptWireEqualsFile(t *testing.T) {
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
	groups := 0
	for name, raw := range msgs {
		sp, err := st.NewBody()
		if err != nil {
			t.Fatal(err)
		}
		sp.Write(raw)
		ds, err := st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: acct.ID}})
		if err != nil {
			t.Fatal(name, err)
		}
		// What FETCH reads (store.KeptWire).
		kept, err := st.KeptWire(ctx, ds[0].MailboxID, []uint32{ds[0].UID}, true)
		if err != nil {
			t.Fatal(name, err)
		}
		d, ok := kept[ds[0].UID]
		if !ok {
			t.Fatalf("%s: no kept wire forms", name)
		}
		m, err := st.MessagesByUID(ctx, ds[0].MailboxID, []uint32{ds[0].UID})
		if err != nil || len(m) != 1 {
			t.Fatal(name, err)
		}
		body, err := st.OpenBody(ctx, m[0])
		if err != nil {
			t.Fatal(err)
		}
		buf, _ := readBody(body)
		body.Close()
		// What fetchOne computes from the bytes.
		root := imapmsg.Parse(buf)
		for _, utf8OK := range []bool{false, true} {
			for _, c := range []struct {
				item string
				kept *imapmsg.Wire
				file []byte
			}{
				{"ENVELOPE", d.Envelope, imapmsg.Envelope(root.Header).AppendTo(nil, utf8OK)},
				{"BODYSTRUCTURE", d.BodyStructure, imapmsg.AppendBodyStructure(nil, root, true, utf8OK)},
				{"BODY", d.Body, imapmsg.AppendBodyStructure(nil, root, false, utf8OK)},
			} {
				if got := c.kept.For(utf8OK); !bytes.Equal(got, c.file) {
					t.Errorf("%s: %s (utf8 %v) kept\n%s\nfrom the file\n%s", name, c.item, utf8OK, got, c.file)
				}
			}
		}
		if bytes.Contains(d.Envelope.For(false), []byte("(NIL NIL NIL NIL)")) {
			groups++
		}
	}
	if groups == 0 {
		t.Error("no corpus message has a group")
	}
	t.Logf("%d corpus messages compared, %d with groups", len(msgs), groups)
}

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
	for i, b := range imapdLiterals(t, ".") {
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

// TestFetchUsesKeptWire: FETCH ENVELOPE, BODYSTRUCTURE and BODY are
// answered from what the store kept, the same bytes as from the file, so
// they are still answered once the file is gone, while a body section,
// which reads the file, is not.
func TestFetchUsesKeptWire(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "INBOX", multipartMsg)
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	const cmd = "FETCH 1 (ENVELOPE BODYSTRUCTURE BODY)"
	untagged := func(lines []string) string { return strings.Join(lines[:len(lines)-1], "\n") }
	before := untagged(r.cmd(cmd))
	if !strings.Contains(before, "ENVELOPE (") || !strings.Contains(before, "BODY ((") {
		t.Fatalf("FETCH: %s", before)
	}
	mb, err := e.st.MailboxByName(context.Background(), e.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.MessagesByUID(context.Background(), mb.ID, []uint32{1})
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	if n := removeMessageFiles(t, e); n != 1 {
		t.Fatalf("removed %d message files, want 1", n)
	}
	if after := untagged(r.cmd(cmd)); after != before {
		t.Errorf("without the file:\n%s\nwith it:\n%s", after, before)
	}
	if got := strings.Join(r.cmd("FETCH 1 (BODY.PEEK[1])"), "\n"); strings.Contains(got, "BODY[1]") {
		t.Errorf("a section was answered without the file: %s", got)
	}
}
