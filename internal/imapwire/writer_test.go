package imapwire

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func newTestWriter() (*Writer, *bytes.Buffer) {
	var out bytes.Buffer
	return NewWriter(bufio.NewWriter(&out)), &out
}

func flushed(t *testing.T, w *Writer, out *bytes.Buffer) string {
	t.Helper()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	out.Reset()
	return s
}

func TestWriterStatusAndCodes(t *testing.T) {
	w, out := newTestWriter()
	uids := SetOf([]uint32{3955})
	tests := []struct {
		write func()
		want  string
	}{
		{func() { w.Status("A003", OK, CodeAppendUID(38505, uids), "APPEND completed") }, "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"},
		{func() {
			w.Status("A004", OK, CodeCopyUID(38505, SetOf([]uint32{304, 319, 320}), SetOf([]uint32{3956, 3957, 3958})), "Done")
		}, "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"},
		{func() { w.Status("", OK, CodeNumber("HIGHESTMODSEQ", 715194045007), "Highest") }, "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"},
		{func() { w.Status("d105", OK, CodeModified(SetOf([]uint32{7, 9})), "Conditional STORE failed") }, "d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"},
		{func() { w.Status("", OK, NewCode("CLOSED"), "Previous mailbox closed") }, "* OK [CLOSED] Previous mailbox closed\r\n"},
		{func() { w.Status("a", NO, NewCode("NOMODSEQ"), "") }, "a NO [NOMODSEQ] done\r\n"},
		{func() { w.Status("A1", NO, NewCode("OVERQUOTA"), "Sorry\r\nover") }, "A1 NO [OVERQUOTA] Sorry  over\r\n"},
		{func() {
			w.Status("", OK, CodePermanentFlags([]string{FlagDeleted, FlagSeen, `\*`}), "Limited")
		}, "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"},
		{func() { w.Status("x", NO, CodeBadCharset([]string{"UTF-8", "US-ASCII"}), "no") }, "x NO [BADCHARSET (UTF-8 US-ASCII)] no\r\n"},
		{func() { w.Status("", PREAUTH, CodeCapability([]string{"IMAP4rev2", "IDLE"}), "hi") }, "* PREAUTH [CAPABILITY IMAP4rev2 IDLE] hi\r\n"},
		{func() { w.Status("", OK, CodeMailboxID("F2212ea87-6097-4256-9d51-71338625"), "Ok") }, "* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n"},
		{func() { w.Continue("Ready for literal data") }, "+ Ready for literal data\r\n"},
		{func() { w.Continue("") }, "+ \r\n"},
		{func() { w.ContinueBase64([]byte("\x00bob\x00pw")) }, "+ AGJvYgBwdw==\r\n"},
		{func() { w.Exists(172) }, "* 172 EXISTS\r\n"},
		{func() { w.Expunge(3) }, "* 3 EXPUNGE\r\n"},
		{func() { w.FlagsResponse([]string{FlagAnswered, "$Forwarded"}) }, "* FLAGS (\\Answered $Forwarded)\r\n"},
		{func() { w.Enabled([]string{"CONDSTORE"}) }, "* ENABLED CONDSTORE\r\n"},
		{func() { w.Search([]uint32{2, 84, 882}, 0) }, "* SEARCH 2 84 882\r\n"},
		{func() { w.Search(nil, 917162500) }, "* SEARCH (MODSEQ 917162500)\r\n"},
		{func() { c := uint32(3); w.ESearch(ESearchData{Tag: "A282", Min: 2, Count: &c}) }, "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"},
		{func() {
			all := SetOf([]uint32{1, 2, 3, 5})
			w.ESearch(ESearchData{Tag: "a", UID: true, All: &all, ModSeq: 9})
		}, "* ESEARCH (TAG \"a\") UID ALL 1:3,5 MODSEQ 9\r\n"},
		{func() {
			a, _ := ParseSeqSet("32768:32769")
			w.ESearch(ESearchData{Tag: "B01", UID: true, Updates: []ContextUpdate{{Pairs: []ContextPair{{Pos: 0, Set: a}}}}})
		}, "* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n"},
		{func() {
			r, _ := ParseSeqSet("7")
			a, _ := ParseSeqSet("2731:2733")
			w.ESearch(ESearchData{Tag: "C01", Updates: []ContextUpdate{
				{Remove: true, Pairs: []ContextPair{{Pos: 5, Set: r}}},
				{Pairs: []ContextPair{{Pos: 1, Set: a}, {Pos: 9, Set: r}}},
			}})
		}, "* ESEARCH (TAG \"C01\") REMOVEFROM (5 7) ADDTO (1 2731:2733 9 7)\r\n"},
		{func() {
			s := orderedTestSet(4, 1, 2)
			w.ESearch(ESearchData{Tag: "A02", UID: true, Partial: &ESearchPartial{Range: PartialRange{First: 500, Last: 1}, Set: s}})
		}, "* ESEARCH (TAG \"A02\") UID PARTIAL (500:1 4,1:2)\r\n"},
		{func() {
			w.ESearch(ESearchData{Tag: "A04", UID: true, Partial: &ESearchPartial{Range: PartialRange{First: 24000, Last: 24500}}})
		}, "* ESEARCH (TAG \"A04\") UID PARTIAL (24000:24500 NIL)\r\n"},
		{func() { w.Status("", NO, CodeNoUpdate("B02"), "Too many contexts") }, "* NO [NOUPDATE \"B02\"] Too many contexts\r\n"},
		{func() {
			s, _ := ParseSeqSet("41,43:116,118,120:211,214:540")
			w.Vanished(true, s)
		}, "* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n"},
		{func() { w.List(ListData{Attrs: []string{`\Noselect`}, Delimiter: '/'}) }, "* LIST (\\Noselect) \"/\" \"\"\r\n"},
		{func() {
			w.List(ListData{Attrs: []string{}, Delimiter: '/', Name: "Foo", ChildInfo: []string{"SUBSCRIBED"}})
		}, "* LIST () \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"},
		{func() {
			w.List(ListData{Attrs: []string{`\NonExistent`}, Delimiter: '/', Name: "Entwürfe", Lsub: true})
		}, "* LSUB (\\NonExistent) \"/\" Entw&APw-rfe\r\n"},
		{func() { w.List(ListData{Name: "a b", OldName: "old"}) }, "* LIST () NIL \"a b\" (\"OLDNAME\" (old))\r\n"},
		{func() {
			w.StatusResponse("blurdybloop", []StatusItem{{Name: "MESSAGES", Value: 231}, {Name: "UIDNEXT", Value: 44292}, {Name: "MAILBOXID", ID: "F2212ea87-6097"}})
		}, "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 MAILBOXID (F2212ea87-6097))\r\n"},
		{func() { w.ID([]IDParam{{Field: "name", Value: "pail"}, {Field: "os", Nil: true}}) }, "* ID (\"name\" \"pail\" \"os\" NIL)\r\n"},
		{func() { w.ID(nil) }, "* ID NIL\r\n"},
		{func() { w.Namespace("", '/') }, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"},
		{func() { w.Quota("", []QuotaUsage{{"STORAGE", 10, 512}}) }, "* QUOTA \"\" (STORAGE 10 512)\r\n"},
		{func() { w.QuotaRoot("INBOX", []string{""}) }, "* QUOTAROOT INBOX \"\"\r\n"},
		// RFC 5256 §4's example.
		{func() {
			w.Thread([]ThreadNode{{Num: 2}, {Num: 3, Children: []ThreadNode{{Num: 6, Children: []ThreadNode{
				{Num: 4, Children: []ThreadNode{{Num: 23}}},
				{Num: 44, Children: []ThreadNode{{Num: 7, Children: []ThreadNode{{Num: 96}}}}},
			}}}}})
		}, "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"},
	}
	for _, tt := range tests {
		tt.write()
		if got := flushed(t, w, out); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestWriterStrings(t *testing.T) {
	tests := []struct {
		in          string
		utf8        bool
		astr, strng string
	}{
		{"INBOX", false, "INBOX", `"INBOX"`},
		{"", false, `""`, `""`},
		{"nil", false, `"nil"`, `"nil"`},
		{"a]b", false, "a]b", `"a]b"`},
		{"a b", false, `"a b"`, `"a b"`},
		{`a"b\c`, false, `"a\"b\\c"`, `"a\"b\\c"`},
		{"a%", false, `"a%"`, `"a%"`},
		{"a\r\nb", false, "{4}\r\na\r\nb", "{4}\r\na\r\nb"},
		{"café", false, "{5}\r\ncafé", "{5}\r\ncafé"},
		{"café", true, `"café"`, `"café"`},
		{"\xff", true, "{1}\r\n\xff", "{1}\r\n\xff"},
		{"a\x00b", false, "{2}\r\nab", "{2}\r\nab"},
		{strings.Repeat("x", 2000), false, "{2000}\r\n" + strings.Repeat("x", 2000), "{2000}\r\n" + strings.Repeat("x", 2000)},
	}
	for _, tt := range tests {
		w, out := newTestWriter()
		w.SetUTF8(tt.utf8)
		w.AString(tt.in)
		if got := flushed(t, w, out); got != tt.astr {
			t.Errorf("AString(%q) = %q, want %q", tt.in, got, tt.astr)
		}
		w.String(tt.in)
		if got := flushed(t, w, out); got != tt.strng {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.strng)
		}
	}
}

func TestWriterFetch(t *testing.T) {
	w, out := newTestWriter()
	bin := FetchItem{Name: "BINARY", Section: &Section{Part: []uint32{1}}, Partial: &Partial{0, 7}}
	hdr := FetchItem{Name: "BODY", Peek: true, Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "Subject"}}}
	w.BeginFetch(12)
	w.FetchNumber("UID", 7)
	w.FetchFlags([]string{FlagSeen})
	w.FetchBinary(&bin, []byte("ab\x00cdef"))
	if err := w.FetchSection(&hdr, []byte("From: a\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	w.FetchNumber("MODSEQ", 624140003)
	w.FetchBinarySize(&FetchItem{Name: "BINARY.SIZE", Section: &Section{Part: []uint32{2}}}, 42)
	w.FetchDate("INTERNALDATE", time.Date(1996, 7, 1, 2, 44, 25, 0, time.FixedZone("", -7*3600)))
	w.EndFetch()
	want := "* 12 FETCH (UID 7 FLAGS (\\Seen) BINARY[1]<0> ~{7}\r\nab\x00cdef BODY[HEADER.FIELDS (From Subject)] {11}\r\nFrom: a\r\n\r\n" +
		" MODSEQ (624140003) BINARY.SIZE[2] 42 INTERNALDATE \" 1-Jul-1996 02:44:25 -0700\")\r\n"
	if got := flushed(t, w, out); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// NUL never in a plain literal: BINARY without NUL uses one, BODY
	// with NUL is refused.
	w.BeginFetch(1)
	w.FetchBinary(&FetchItem{Name: "BINARY", Section: &Section{}}, []byte("abc"))
	if err := w.FetchSection(&FetchItem{Name: "BODY", Section: &Section{}}, []byte("a\x00")); err != ErrNUL {
		t.Errorf("NUL in BODY: %v", err)
	}
	w.EndFetch()
	if got := flushed(t, w, out); got != "* 1 FETCH (BINARY[] {3}\r\nabc)\r\n" {
		t.Errorf("got %q", got)
	}
	w.BeginFetch(2)
	if err := w.FetchLiteralFrom(&FetchItem{Name: "BODY", Section: &Section{}}, 5, strings.NewReader("hello world"), false); err != nil {
		t.Fatal(err)
	}
	w.EndFetch()
	if got := flushed(t, w, out); got != "* 2 FETCH (BODY[] {5}\r\nhello)\r\n" {
		t.Errorf("got %q", got)
	}
	if err := w.LiteralFrom(5, strings.NewReader("abc"), false); err == nil || w.Flush() == nil {
		t.Error("a short literal source does not break the writer")
	}
}

// RFC 9051 §7.5.2's ENVELOPE example, with a group (RFC 5322 §3.4).
func TestWriterEnvelope(t *testing.T) {
	e := &Envelope{
		Date:      "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
		Subject:   "IMAP4rev2 WG mtg summary and minutes",
		From:      []Address{{Name: "Terry Gray", Mailbox: "gray", Host: "cac.washington.edu"}},
		To:        []Address{{Mailbox: "imap", Host: "cac.washington.edu"}},
		Cc:        []Address{{Mailbox: "undisclosed-recipients"}, {GroupEnd: true}},
		MessageID: "<B27397-0100000@cac.washington.edu>",
	}
	e.Sender, e.ReplyTo = e.From, e.From
	want := `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL "<B27397-0100000@cac.washington.edu>")`
	if got := string(e.AppendTo(nil, false)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	v := Value{Kind: VList, List: []Value{{Kind: VString, Str: "TEXT"}, {Kind: VString, Str: "PLAIN"}, {Kind: VList, List: []Value{{Kind: VString, Str: "CHARSET"}, {Kind: VString, Str: "US-ASCII"}}}, {}, {}, {Kind: VString, Str: "7BIT"}, {Kind: VNumber, Num: 3028}, {Kind: VNumber, Num: 92}}}
	if got := string(v.AppendTo(nil, false)); got != `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)` {
		t.Errorf("value: %s", got)
	}
}

// The Writer batches: nothing reaches the connection before Flush.
func TestWriterBatches(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(bufio.NewWriterSize(&out, 64*1024))
	for i := uint32(1); i <= 100; i++ {
		w.BeginFetch(i)
		w.FetchFlags([]string{FlagSeen})
		w.EndFetch()
	}
	w.Status("a", OK, nil, "FETCH completed")
	if out.Len() != 0 {
		t.Fatalf("%d bytes written before Flush", out.Len())
	}
	if err := w.Flush(); err != nil || !strings.HasSuffix(out.String(), "a OK FETCH completed\r\n") {
		t.Fatal(err, out.Len())
	}
}

// Round trips: what the Writer writes, the Reader reads back.
func TestRoundTrip(t *testing.T) {
	strs := []string{"", "x", "nil", "NIL", "a b", `"q"`, `\`, "a\r\nb", "café", "日本語", "]", "{3}", "a+b", strings.Repeat("y", 1500), "\t"}
	for _, utf8 := range []bool{false, true} {
		for _, s := range strs {
			w, out := newTestWriter()
			w.SetUTF8(utf8)
			w.Atom("a LOGIN ")
			w.AString(s)
			w.SP()
			w.String(s)
			w.CRLF()
			line := flushed(t, w, out)
			r := newTestReader(line, Options{}, nil)
			cmd, err := r.ReadCommand()
			if err != nil {
				t.Errorf("utf8=%v %q: %q: %v", utf8, s, line, err)
				continue
			}
			if a := cmd.Args.(*LoginArgs); a.User != s || a.Password != s {
				t.Errorf("utf8=%v %q: read back %+v", utf8, s, a)
			}
		}
		for _, name := range []string{"INBOX", "Entwürfe", "a&b", "日本/語", "with space", "Sent Items", "x]"} {
			w, out := newTestWriter()
			w.SetUTF8(utf8)
			w.Atom("a SELECT ")
			w.Mailbox(name)
			w.CRLF()
			line := flushed(t, w, out)
			r := newTestReader(line, Options{UTF8: utf8}, nil)
			cmd, err := r.ReadCommand()
			if err != nil || cmd.Args.(*SelectArgs).Mailbox != name {
				t.Errorf("utf8=%v mailbox %q: %q: %v %v", utf8, name, line, cmd, err)
			}
		}
	}
	// Sequence sets, flags and date-time through APPEND.
	when := time.Date(2024, 2, 29, 23, 59, 59, 0, time.FixedZone("", 3600+1800))
	w, out := newTestWriter()
	w.Atom("a APPEND x ")
	w.Flags([]string{FlagSeen, "$Label1", `\Ext`})
	w.Atom(" ")
	w.buf = append(w.buf[:0], '"')
	w.buf = when.AppendFormat(w.buf, DateTimeLayout)
	w.buf = append(w.buf, '"', ' ')
	w.write(w.buf)
	w.Literal([]byte("m\x00"), true)
	w.CRLF()
	r := newTestReader(flushed(t, w, out), Options{}, nil)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	m := cmd.Args.(*AppendArgs).Messages[0]
	if !m.Date.Equal(when) || len(m.Flags) != 3 || m.Flags[2] != `\Ext` || !m.Binary || m.Body.(*bytes.Buffer).String() != "m\x00" {
		t.Errorf("%+v", m)
	}
	for _, nums := range [][]uint32{{1}, {1, 2, 3}, {9, 7, 5, 3, 1}, {4294967295, 1, 2}} {
		s := SetOf(append([]uint32(nil), nums...))
		p, err := ParseSeqSet(s.String())
		if err != nil || p.String() != s.String() {
			t.Errorf("%v: %q → %q %v", nums, s, p, err)
		}
		for _, n := range nums {
			if !p.Contains(n, 0) {
				t.Errorf("%v: %d lost", nums, n)
			}
		}
	}
	// A search program written by AppendSearchKeys reads back the same.
	in := `OR (FROM "a b" TO {3}` + "\r\nx\ry" + `) NOT HEADER Subject "" 1:3 UID $ MODSEQ "/flags/$x" priv 5 YOUNGER 3 EMAILID M1`
	cmd, err = newTestReader("a SEARCH "+in+"\r\n", Options{}, nil).ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	keys := cmd.Args.(*SearchArgs).Keys
	again, err := newTestReader("a SEARCH "+string(AppendSearchKeys(nil, keys))+"\r\n", Options{}, nil).ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "keys", again.Args.(*SearchArgs).Keys, keys)
}

// orderedTestSet is a set of nums in their own order: ascending runs
// become ranges (as ESORT writes its results).
func orderedTestSet(nums ...uint32) SeqSet {
	var s SeqSet
	for _, n := range nums {
		if k := len(s.Ranges); k > 0 && s.Ranges[k-1].Stop+1 == n {
			s.Ranges[k-1].Stop = n
			continue
		}
		s.Ranges = append(s.Ranges, SeqRange{Start: n, Stop: n})
	}
	return s
}
