package imapd

import (
	"strings"
	"testing"
)

// TestMatchList: "*" matches across levels, "%" within one (RFC 9051
// §6.3.9), and a pattern of many wildcards stays cheap.
func TestMatchList(t *testing.T) {
	for _, c := range []struct {
		name, ref, pattern string
		want               bool
	}{
		{"INBOX", "", "*", true}, {"a/b/c", "", "a/*", true}, {"a/b/c", "", "a/%", false},
		{"a/b", "", "a/%", true}, {"a/b", "a/", "%", true}, {"abc", "", "a%c", true},
		{"a/c", "", "a%c", false}, {"x", "", "", false}, {"Lists/go", "", "*go", true},
	} {
		if got := matchList(c.name, c.ref, c.pattern); got != c.want {
			t.Errorf("%q %q %q: %v", c.name, c.ref, c.pattern, got)
		}
	}
	if matchList(strings.Repeat("a", 2000)+"b", "", strings.Repeat("*%", 500)+"c") {
		t.Error("long pattern matched")
	}
}

const multipartMsg = "From: Jack <jack@town.com>\r\nTo: Hill: jill@hill.com, bob@hill.com;\r\nSubject: water\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
	"preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJack and Jill\r\nwent up\r\n--b1\r\n" +
	"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"p.bin\"\r\n\r\n" +
	"AGFiYw==\r\n--b1--\r\nepilogue\r\n"

// TestFetchStructure: ENVELOPE with the group, BODYSTRUCTURE, part
// sections, HEADER.FIELDS, and BINARY decoding the base64 part, whose
// NUL makes it a literal8 (RFC 3516 §4.2).
func TestFetchStructure(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "INBOX", multipartMsg)
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	all := strings.Join(r.cmd("FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[1]<5.4>)"), "\n")
	for _, want := range []string{
		`ENVELOPE ("Mon, 02 Jan 2006 15:04:05 +0000" "water" (("Jack" NIL "jack" "town.com")) (("Jack" NIL "jack" "town.com")) (("Jack" NIL "jack" "town.com")) ((NIL NIL "Hill" NIL)(NIL NIL "jill" "hill.com")(NIL NIL "bob" "hill.com")(NIL NIL NIL NIL)) NIL NIL NIL NIL)`,
		`BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 22 2 NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" 8 NIL ("attachment" ("filename" "p.bin")) NIL NIL) "mixed" ("boundary" "b1") NIL NIL NIL)`,
		"BODY[1] {22}\r\nJack and Jill\r\nwent up",
		"BODY[2.MIME] {",
		"BODY[HEADER.FIELDS (Subject)] {18}\r\nSubject: water\r\n\r\n",
		"BINARY[2] ~{4}\r\n\x00abc",
		"BINARY.SIZE[2] 4",
		"BODY[1]<5> {4}\r\nand ",
	} {
		if !strings.Contains(strings.ReplaceAll(all, "\n", "\r\n"), want) && !strings.Contains(all, want) {
			t.Errorf("FETCH lacks %q:\n%s", want, all)
		}
	}
}
