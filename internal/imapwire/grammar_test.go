package imapwire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readAll reads one command with an in-memory sink and no continuations.
func readCmd(t *testing.T, in string, opt Options) *Command {
	t.Helper()
	r := newTestReader(in+"\r\n", opt, nil)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("%q: %v", in, err)
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("%q: not all read: %v", in, err)
	}
	return cmd
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func set(t *testing.T, s string) *SeqSet {
	t.Helper()
	v, err := ParseSeqSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

// Examples of RFC 9051 §6 and of the extensions' RFCs.
func TestCommandExamples(t *testing.T) {
	tests := []struct {
		in    string
		check func(t *testing.T, c *Command)
	}{
		{`A142 SELECT INBOX`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &SelectArgs{Mailbox: "INBOX"}) }},
		{`A142 select inbox`, func(t *testing.T, c *Command) { eq(t, "mailbox", c.Args.(*SelectArgs).Mailbox, "INBOX") }},
		{`A932 EXAMINE blurdybloop`, func(t *testing.T, c *Command) { eq(t, "name", c.Name, "EXAMINE") }},
		{`A003 CREATE owatagusiam/`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &CreateArgs{Mailbox: "owatagusiam/"}) }},
		{`t1 CREATE MySpecialArchive (USE (\Archive))`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &CreateArgs{Mailbox: "MySpecialArchive", SpecialUse: []string{`\Archive`}})
		}},
		{`A683 DELETE blurdybloop`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &MailboxArgs{"blurdybloop"}) }},
		{`A683 RENAME blurdybloop sarasoop`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &RenameArgs{"blurdybloop", "sarasoop"}) }},
		{`A002 SUBSCRIBE #news.comp.mail.mime`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &MailboxArgs{"#news.comp.mail.mime"}) }},
		{`A101 LIST "" ""`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &ListArgs{Patterns: []string{""}}) }},
		{`A202 LIST ~/Mail/ %`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &ListArgs{Reference: "~/Mail/", Patterns: []string{"%"}})
		}},
		{`A002 LSUB "#news." "comp.mail.*"`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &ListArgs{Reference: "#news.", Patterns: []string{"comp.mail.*"}, Lsub: true})
		}},
		// RFC 5258 §5 examples.
		{`A02 LIST (SUBSCRIBED) "" "*"`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &ListArgs{Select: []string{"SUBSCRIBED"}, Patterns: []string{"*"}, Extended: true})
		}},
		{`A03 LIST () "" "%" RETURN (CHILDREN)`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &ListArgs{Select: []string{}, Patterns: []string{"%"}, Return: []string{"CHILDREN"}, Extended: true})
		}},
		{`A06 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)`, func(t *testing.T, c *Command) {
			eq(t, "select", c.Args.(*ListArgs).Select, []string{"SUBSCRIBED", "RECURSIVEMATCH"})
		}},
		{`A01 LIST "" ("INBOX" "Drafts" "Sent/%")`, func(t *testing.T, c *Command) {
			eq(t, "patterns", c.Args.(*ListArgs).Patterns, []string{"INBOX", "Drafts", "Sent/%"})
		}},
		// RFC 5819 §2.
		{`A02 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))`, func(t *testing.T, c *Command) {
			a := c.Args.(*ListArgs)
			eq(t, "return", a.Return, []string{"STATUS"})
			eq(t, "status", a.Status, []string{"MESSAGES", "UNSEEN"})
		}},
		{`A042 STATUS blurdybloop (UIDNEXT MESSAGES)`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &StatusArgs{"blurdybloop", []string{"UIDNEXT", "MESSAGES"}})
		}},
		{`A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`, func(t *testing.T, c *Command) {
			a := c.Args.(*SearchArgs)
			eq(t, "return", a.Return, []string{"MIN", "COUNT"})
			eq(t, "keys", AppendSearchKeys(nil, a.Keys), []byte(`FLAGGED SINCE 1-Feb-1994 NOT FROM Smith`))
		}},
		{`A283 SEARCH RETURN () TEXT "string not in mailbox"`, func(t *testing.T, c *Command) {
			a := c.Args.(*SearchArgs)
			eq(t, "has return", a.HasReturn, true)
			eq(t, "key", a.Keys[0], SearchKey{Name: "TEXT", Value: "string not in mailbox"})
		}},
		{"A284 SEARCH CHARSET UTF-8 TEXT {7}\r\nítést", nil},
		{`A285 SEARCH CHARSET WHATEVER TEXT "x"`, func(t *testing.T, c *Command) { eq(t, "charset", c.Args.(*SearchArgs).Charset, "WHATEVER") }},
		{`A286 SEARCH OR (FROM a TO b) NOT (HEADER X-Y "z" LARGER 10000000000) 2:4,* UID 1:* SENTON "5-Mar-2000"`, func(t *testing.T, c *Command) {
			k := c.Args.(*SearchArgs).Keys
			eq(t, "keys", AppendSearchKeys(nil, k), []byte(`OR (FROM a TO b) NOT (HEADER X-Y z LARGER 10000000000) 2:4,* UID 1:* SENTON 5-Mar-2000`))
			eq(t, "larger", k[0].Keys[1].Keys[0].Keys[1].Number, uint64(10000000000))
		}},
		{`A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])`, func(t *testing.T, c *Command) {
			a := c.Args.(*FetchArgs)
			eq(t, "set", a.Set, *set(t, "2:4"))
			eq(t, "items", a.Items, []FetchItem{{Name: "FLAGS"}, {Name: "BODY", Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"DATE", "FROM"}}}})
		}},
		{`A999 UID FETCH 4827313:4828442 FLAGS`, func(t *testing.T, c *Command) {
			eq(t, "uid", c.UID, true)
			eq(t, "items", c.Args.(*FetchArgs).Items, []FetchItem{{Name: "FLAGS"}})
		}},
		{`a FETCH 1 ALL`, func(t *testing.T, c *Command) {
			a := c.Args.(*FetchArgs)
			eq(t, "macro", a.Macro, "ALL")
			eq(t, "n", len(a.Items), 4)
		}},
		{`a FETCH 1:* (BODY.PEEK[1.2.MIME] BODY[]<0.2048> RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY INTERNALDATE)`, func(t *testing.T, c *Command) {
			it := c.Args.(*FetchArgs).Items
			eq(t, "peek", it[0], FetchItem{Name: "BODY", Peek: true, Section: &Section{Part: []uint32{1, 2}, Specifier: "MIME"}})
			eq(t, "partial", it[1], FetchItem{Name: "BODY", Section: &Section{}, Partial: &Partial{0, 2048}})
			eq(t, "response name", string(it[1].ResponseName(nil)), "BODY[]<0>")
			eq(t, "body", it[5], FetchItem{Name: "BODY"})
		}},
		// RFC 3516 §4.
		{`t001 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1.1] BINARY[1]<0.7> BINARY[])`, func(t *testing.T, c *Command) {
			it := c.Args.(*FetchArgs).Items
			eq(t, "size", it[0], FetchItem{Name: "BINARY.SIZE", Section: &Section{Part: []uint32{1}}})
			eq(t, "peek", it[1], FetchItem{Name: "BINARY", Peek: true, Section: &Section{Part: []uint32{1, 1}}})
			eq(t, "origin", string(it[2].ResponseName(nil)), "BINARY[1]<0>")
		}},
		{`a FETCH 1 (PREVIEW (LAZY) EMAILID THREADID SAVEDATE MODSEQ)`, func(t *testing.T, c *Command) {
			eq(t, "preview", c.Args.(*FetchArgs).Items[0], FetchItem{Name: "PREVIEW", Lazy: true})
		}},
		{`A003 STORE 2:4 +FLAGS (\Deleted)`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &StoreArgs{Set: *set(t, "2:4"), Op: '+', Flags: []string{FlagDeleted}})
		}},
		{`A004 STORE 1 -FLAGS.SILENT \seen $Junk`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &StoreArgs{Set: *set(t, "1"), Op: '-', Silent: true, Flags: []string{FlagSeen, "$Junk"}})
		}},
		{`A005 STORE 1 FLAGS ()`, func(t *testing.T, c *Command) { eq(t, "flags", c.Args.(*StoreArgs).Flags, []string(nil)) }},
		{`A003 COPY 2:4 MEETING`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &CopyArgs{*set(t, "2:4"), "MEETING"}) }},
		{`A003 UID MOVE 42:69 foo`, func(t *testing.T, c *Command) { eq(t, "name", c.Name+" "+c.Args.(*CopyArgs).Mailbox, "MOVE foo") }},
		{`A202 UID EXPUNGE 3000:3002`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &SeqArgs{*set(t, "3000:3002")}) }},
		{`a1 ENABLE CONDSTORE X-GOOD-IDEA utf8=accept`, func(t *testing.T, c *Command) {
			eq(t, "caps", c.Args.(*EnableArgs).Caps, []string{"CONDSTORE", "X-GOOD-IDEA", "UTF8=ACCEPT"})
		}},
		{`A001 AUTHENTICATE GSSAPI`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &AuthenticateArgs{Mechanism: "GSSAPI"}) }},
		{`a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=`, func(t *testing.T, c *Command) {
			eq(t, "ir", string(c.Args.(*AuthenticateArgs).InitialResponse), "test\x00test\x00test")
		}},
		{`a AUTHENTICATE EXTERNAL =`, func(t *testing.T, c *Command) { eq(t, "ir", c.Args.(*AuthenticateArgs).InitialResponse, []byte{}) }},
		{`a002 LOGIN "fred\"x" "pw\\d"`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &LoginArgs{`fred"x`, `pw\d`}) }},
		// RFC 7162 §3.
		{`a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\Deleted)`, func(t *testing.T, c *Command) {
			a := c.Args.(*StoreArgs)
			eq(t, "unchanged", a.UnchangedSince, uint64(12121230045))
			eq(t, "set", a.Set.String(), "6,4,8")
		}},
		{`s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)`, func(t *testing.T, c *Command) {
			a := c.Args.(*FetchArgs)
			eq(t, "changedsince", [2]any{a.ChangedSince, a.HasChangedSince}, [2]any{uint64(12345), true})
		}},
		{`s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)`, func(t *testing.T, c *Command) { eq(t, "vanished", c.Args.(*FetchArgs).Vanished, true) }},
		{`a SEARCH MODSEQ "/flags/\\draft" all 620162338`, func(t *testing.T, c *Command) {
			eq(t, "key", c.Args.(*SearchArgs).Keys[0], SearchKey{Name: "MODSEQ", Field: `/flags/\draft`, EntryType: "all", Number: 620162338})
		}},
		{`A160 SELECT "INBOX" (CONDSTORE)`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &SelectArgs{Mailbox: "INBOX", CondStore: true}) }},
		{`A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &SelectArgs{Mailbox: "INBOX", QResync: &QResyncParams{UIDValidity: 67890007, ModSeq: 20050715194045000, KnownUIDs: set(t, "41,43:211,214:541")}})
		}},
		{`B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))`, func(t *testing.T, c *Command) {
			q := c.Args.(*SelectArgs).QResync
			eq(t, "seqs", q.KnownSeqs.String(), "5000,7500,9000,9990:9999")
			eq(t, "uids", len(q.KnownSeqUIDs.Ranges), 13)
		}},
		{`B05 SELECT INBOX (QRESYNC (1 2 (1:2 3:4)))`, func(t *testing.T, c *Command) {
			q := c.Args.(*SelectArgs).QResync
			eq(t, "known", q.KnownUIDs, (*SeqSet)(nil))
			eq(t, "seqs", q.KnownSeqs.String(), "1:2")
		}},
		// RFC 4469 §6 (CATENATE) and RFC 3502 §7 (MULTIAPPEND).
		{"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {4}\r\n\r\n\r\n URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\")", func(t *testing.T, c *Command) {
			m := c.Args.(*AppendArgs).Messages[0]
			eq(t, "flags", m.Flags, []string{FlagSeen, FlagDraft, "$MDNSent"})
			eq(t, "parts", len(m.Parts), 3)
			eq(t, "text", m.Parts[1].Text.(*bytes.Buffer).String(), "\r\n\r\n")
		}},
		{"A003 APPEND saved-messages (\\Seen) {3}\r\nabc (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {3}\r\ndef", func(t *testing.T, c *Command) {
			a := c.Args.(*AppendArgs)
			eq(t, "n", len(a.Messages), 2)
			eq(t, "date", a.Messages[1].Date.Equal(time.Date(1994, 2, 8, 6, 43, 4, 0, time.UTC)), true)
		}},
		// RFC 5256 §3.
		{`A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994`, func(t *testing.T, c *Command) {
			a := c.Args.(*SortArgs)
			eq(t, "criteria", a.Criteria, []SortCriterion{{Key: "SUBJECT"}})
			eq(t, "charset", a.Charset, "UTF-8")
		}},
		{`A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL`, func(t *testing.T, c *Command) {
			eq(t, "criteria", c.Args.(*SortArgs).Criteria, []SortCriterion{{Key: "SUBJECT"}, {Key: "DATE", Reverse: true}})
		}},
		{`A284 UID SORT RETURN (MIN) (SUBJECT) US-ASCII TEXT "not in mailbox"`, func(t *testing.T, c *Command) { eq(t, "return", c.Args.(*SortArgs).Return, []string{"MIN"}) }},
		{`A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &ThreadArgs{Algorithm: "ORDEREDSUBJECT", Charset: "UTF-8", Keys: []SearchKey{{Name: "SINCE", Date: time.Date(2000, 3, 5, 0, 0, 0, 0, time.UTC)}}})
		}},
		// RFC 5267 §4: CONTEXT=SEARCH and CONTEXT=SORT.
		{`A01 SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk`, func(t *testing.T, c *Command) {
			eq(t, "return", c.Args.(*SearchArgs).Return, []string{"CONTEXT", "COUNT"})
		}},
		{`B01 UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk`, func(t *testing.T, c *Command) {
			eq(t, "return", c.Args.(*SearchArgs).Return, []string{"UPDATE", "COUNT"})
		}},
		{`A02 UID SEARCH RETURN (PARTIAL 23500:24000) UNDELETED UNKEYWORD $Junk`, func(t *testing.T, c *Command) {
			a := c.Args.(*SearchArgs)
			eq(t, "return", a.Return, []string{"PARTIAL"})
			eq(t, "partial", a.Partial, &PartialRange{First: 23500, Last: 24000})
		}},
		{`a SEARCH RETURN (partial 500:400 update) ALL`, func(t *testing.T, c *Command) {
			a := c.Args.(*SearchArgs)
			eq(t, "return", a.Return, []string{"PARTIAL", "UPDATE"})
			lo, hi := a.Partial.Bounds()
			eq(t, "bounds", [2]uint32{lo, hi}, [2]uint32{400, 500})
			eq(t, "wire", string(a.Partial.AppendTo(nil)), "500:400")
		}},
		{`B02 UID SORT RETURN (UPDATE COUNT) (DATE) UTF-8 KEYWORD $Junk`, func(t *testing.T, c *Command) {
			eq(t, "return", c.Args.(*SortArgs).Return, []string{"UPDATE", "COUNT"})
		}},
		{`a SORT RETURN (PARTIAL 1:10) (SUBJECT) UTF-8 ALL`, func(t *testing.T, c *Command) {
			eq(t, "partial", c.Args.(*SortArgs).Partial, &PartialRange{First: 1, Last: 10})
		}},
		{`B04 CANCELUPDATE "B01"`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &CancelUpdateArgs{Tags: []string{"B01"}}) }},
		{`B05 CANCELUPDATE "B01" "B\\2"`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &CancelUpdateArgs{Tags: []string{"B01", `B\2`}})
		}},
		// RFC 5032 §4, RFC 5182 §2.4, RFC 8474.
		{`a SEARCH UNSEEN YOUNGER 259200`, func(t *testing.T, c *Command) { eq(t, "younger", c.Args.(*SearchArgs).Keys[1].Number, uint64(259200)) }},
		{`A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`, nil},
		{`A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)`, func(t *testing.T, c *Command) { eq(t, "saved", c.Args.(*FetchArgs).Set.Saved, true) }},
		{`A301 UID SEARCH UID $ SMALLER 4096`, func(t *testing.T, c *Command) { eq(t, "saved", c.Args.(*SearchArgs).Keys[0].Set.Saved, true) }},
		{`a SEARCH EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9`, nil},
		// RFC 2971, 4978, 9208.
		{`a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited" "x" NIL)`, func(t *testing.T, c *Command) {
			p := c.Args.(*IDArgs).Params
			eq(t, "n", len(p), 4)
			eq(t, "nil", p[3], IDParam{Field: "x", Nil: true})
		}},
		{`a ID NIL`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &IDArgs{}) }},
		{`a COMPRESS deflate`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &CompressArgs{"DEFLATE"}) }},
		{`G0001 GETQUOTA "!partition/sda4"`, func(t *testing.T, c *Command) { eq(t, "args", c.Args, &QuotaRootArgs{"!partition/sda4"}) }},
		{`S0000 GETQUOTAROOT INBOX`, nil},
		{`S0001 SETQUOTA "" (STORAGE 512 MESSAGE 10)`, func(t *testing.T, c *Command) {
			eq(t, "args", c.Args, &SetQuotaArgs{Resources: []QuotaResource{{"STORAGE", 512}, {"MESSAGE", 10}}})
		}},
	}
	for _, tt := range tests {
		cmd := readCmd(t, tt.in, Options{LiteralPlus: true, UTF8: true})
		if tt.check != nil {
			t.Run(strings.Fields(tt.in)[0]+" "+cmd.Name, func(t *testing.T) { tt.check(t, cmd) })
		}
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		in    string
		class error
	}{
		{`a SELECT`, ErrSyntax},
		{`a SELECT INBOX (FOO)`, ErrSyntax},
		{`a FETCH 0 FLAGS`, ErrSyntax},
		{`a FETCH 1 (ALL)`, ErrSyntax},
		{`a FETCH 1 BODY[1.MIME.TEXT]`, ErrSyntax},
		{`a FETCH 1 BODY[MIME]`, ErrSyntax},
		{`a FETCH 1 BINARY[TEXT]`, ErrSyntax},
		{`a FETCH 1 BODY[]<0.0>`, ErrSyntax},
		{`a FETCH 1 BODY.PEEK`, ErrSyntax},
		{`a FETCH 4294967296 FLAGS`, ErrSyntax},
		{`a STORE 1 FLAGS \`, ErrSyntax},
		{`a STORE 1 LABELS (x)`, ErrSyntax},
		{`a SEARCH FROB`, ErrSyntax},
		{`a SEARCH (ALL`, ErrSyntax},
		{`a SEARCH OR ALL`, ErrSyntax},
		{`a SEARCH SINCE 31-Feb-2020`, ErrSyntax},
		{`a SEARCH SINCE 1-Foo-2020`, ErrSyntax},
		{`a SEARCH RETURN (FOO) ALL`, ErrSyntax},
		{`a SEARCH RETURN (PARTIAL) ALL`, ErrSyntax},
		{`a SEARCH RETURN (PARTIAL 0:5) ALL`, ErrSyntax},
		{`a SEARCH RETURN (PARTIAL 1:*) ALL`, ErrSyntax},
		{`a SEARCH RETURN (PARTIAL -1:-100) ALL`, ErrSyntax}, // RFC 9394's, not offered
		{`a SEARCH RETURN (PARTIAL 1:5 ALL) ALL`, ErrSyntax},
		{`a SEARCH RETURN (ALL PARTIAL 1:5) ALL`, ErrSyntax},
		{`a SEARCH RETURN (UPDATE UPDATE) ALL`, ErrSyntax},
		{`a SORT RETURN (SAVE) (DATE) UTF-8 ALL`, ErrSyntax},
		{`a CANCELUPDATE`, ErrSyntax},
		{`a CANCELUPDATE B01`, ErrSyntax},
		{`a CANCELUPDATE "B01" `, ErrSyntax},
		{`a SEARCH MODSEQ "/x" all 1`, ErrSyntax},
		{`a LOGIN "unterminated`, ErrSyntax},
		{`a LOGIN "bad\escape" x`, ErrSyntax},
		{`a AUTHENTICATE PLAIN !!!`, ErrSyntax},
		{`a APPEND INBOX (\Seen) "bad date" {1}`, ErrSyntax},
		{`a APPEND INBOX NOTALITERAL`, ErrSyntax},
		{`a SORT (FOO) UTF-8 ALL`, ErrSyntax},
		{`a SELECT {3}x`, ErrSyntax},
		{`a ID ("f")`, ErrSyntax},
		{`a SELECT "a\x01b"`, ErrSyntax},
		{`a SELECT {3+}` + "\r\na\x01b", ErrMailboxName},
		{`a SELECT &AGE`, ErrMailboxName},
		{`a SELECT "caf` + "\xc3\xa9" + `"`, ErrMailboxName}, // 8-bit is not modified UTF-7
		{`a CREATE &AGEAYQBi-`, ErrMailboxName},              // ASCII in base64
		{`a FROB`, ErrUnknownCommand},
	}
	for _, tt := range tests {
		r := newTestReader(tt.in+"\r\nz NOOP\r\n", Options{}, nil)
		_, err := r.ReadCommand()
		e := wantErr(t, err, tt.class, "a")
		if tt.class == ErrMailboxName && e.Status != "NO" {
			t.Errorf("%q: status %s", tt.in, e.Status)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "z" {
			t.Errorf("%q: after the error: %v %v", tt.in, cmd, err)
		}
	}
}

func TestMailboxUTF8Mode(t *testing.T) {
	cmd := readCmd(t, `a SELECT "café/日本"`, Options{UTF8: true})
	eq(t, "utf8", cmd.Args.(*SelectArgs).Mailbox, "café/日本")
	cmd = readCmd(t, `a SELECT caf&AOk-/&ZeVnLA-`, Options{})
	eq(t, "mutf7", cmd.Args.(*SelectArgs).Mailbox, "café/日本")
	cmd = readCmd(t, `a SELECT caf&AOk-`, Options{UTF8: true})
	eq(t, "utf8 takes & literally", cmd.Args.(*SelectArgs).Mailbox, "caf&AOk-")
	cmd = readCmd(t, `a LIST "" InBoX`, Options{})
	eq(t, "inbox pattern", cmd.Args.(*ListArgs).Patterns, []string{"INBOX"})
}

func TestUTF7(t *testing.T) {
	good := []struct{ enc, dec string }{
		{"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"}, // RFC 3501 §5.1.3
		{"&-", "&"},
		{"a&-b", "a&b"},
		{"&AOk-", "é"},
		{"&2D3eAA-", "\U0001F600"},
		{"Entw&APw-rfe", "Entwürfe"},
		{"plain", "plain"},
		{"", ""},
	}
	for _, g := range good {
		d, err := DecodeUTF7(g.enc)
		if err != nil || d != g.dec {
			t.Errorf("DecodeUTF7(%q) = %q, %v; want %q", g.enc, d, err, g.dec)
		}
		if e := EncodeUTF7(g.dec); e != g.enc {
			t.Errorf("EncodeUTF7(%q) = %q, want %q", g.dec, e, g.enc)
		}
	}
	for _, bad := range []string{"&", "&AOk", "&AOl-", "&AGE-", "&2D0-", "&3gA-", "&AO!-", "\x7f", "\xc3\xa9", "a\x00", "&AOkA-", "&AOkAAA-", "&AOk-&AOk-", "&AOk-\x01"} {
		if d, err := DecodeUTF7(bad); err == nil {
			t.Errorf("DecodeUTF7(%q) = %q, want an error", bad, d)
		}
	}
}

func TestSeqSet(t *testing.T) {
	tests := []struct{ in, out string }{
		{"1", "1"}, {"1:3", "1:3"}, {"4:2", "2:4"}, {"*", "*"}, {"*:4", "4:*"}, {"4:*", "4:*"},
		{"1,3:5,7:*", "1,3:5,7:*"}, {"$", "$"}, {"*:*", "*"},
	}
	for _, tt := range tests {
		s, err := ParseSeqSet(tt.in)
		if err != nil || s.String() != tt.out {
			t.Errorf("ParseSeqSet(%q) = %q, %v; want %q", tt.in, s, err, tt.out)
		}
	}
	for _, bad := range []string{"", "0", "1:", ":1", "1,", "1:0", "a", "$,1", "1,$", "4294967296", "1 2"} {
		if _, err := ParseSeqSet(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseSeqSet(%q): %v", bad, err)
		}
	}
	s, _ := ParseSeqSet("2:4,*:9")
	for n, want := range map[uint32]bool{1: false, 2: true, 4: true, 5: false, 9: true, 12: true} {
		if s.Contains(n, 12) != want {
			t.Errorf("Contains(%d)", n)
		}
	}
	if s.Contains(10, 8) {
		t.Error("9:* with max 8 contains 10")
	}
	eq(t, "SetOf", SetOf([]uint32{5, 1, 2, 3, 3, 9, 10, 7}).String(), "1:3,5,7,9:10")
}

func TestDates(t *testing.T) {
	cmd := readCmd(t, `a SEARCH SINCE "1-feb-1994" BEFORE 01-FEB-1994`, Options{})
	k := cmd.Args.(*SearchArgs).Keys
	eq(t, "dates", k[0].Date.Equal(k[1].Date), true)
	for _, bad := range []string{`" 1-Feb-1994 25:00:00 +0000"`, `"1-Feb-1994 10:00:00 +0000"`, `" 1-Feb-1994 10:00:00 0000"`, `" 1-Feb-94 10:00:00 +0000"`} {
		r := newTestReader("a APPEND x "+bad+" {1+}\r\nx\r\n", Options{}, nil)
		if _, err := r.ReadCommand(); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	cmd = readCmd(t, "a APPEND x \"01-Feb-1994 10:00:00 +0130\" {1+}\r\nx", Options{})
	d := cmd.Args.(*AppendArgs).Messages[0].Date
	if _, off := d.Zone(); off != 5400 || d.Hour() != 10 {
		t.Errorf("zone: %v", d)
	}
}
