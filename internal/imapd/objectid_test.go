package imapd

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pail/internal/imapwire"
)

// objectID is RFC 8474 §3's objectid.
var objectID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// codeID returns the id of a [MAILBOXID (id)] code in res.
func codeID(t *testing.T, res *result) string {
	t.Helper()
	args, ok := res.code("MAILBOXID")
	if !ok || len(args) != 1 {
		t.Fatalf("no MAILBOXID in %q %q", res.text, res.untagged)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(args[0], "("), ")")
	if !objectID.MatchString(id) {
		t.Fatalf("MAILBOXID %q", id)
	}
	return id
}

// statusID returns the MAILBOXID a STATUS (MAILBOXID) answers.
func statusID(t *testing.T, c *client, mailbox string) string {
	t.Helper()
	res := c.ok("STATUS " + mailbox + " (MAILBOXID MESSAGES)")
	for _, u := range res.untagged {
		if rest, ok := strings.CutPrefix(u.raw, "* STATUS "); ok {
			v := parseValues(t, rest)
			items, _ := v[len(v)-1].([]any)
			for i := 0; i+1 < len(items); i += 2 {
				if str(items[i]) == "MAILBOXID" {
					if l := atoms(items[i+1]); len(l) == 1 {
						return l[0]
					}
				}
			}
		}
	}
	t.Fatalf("STATUS MAILBOXID: %q", res.untagged)
	return ""
}

// TestCapabilitiesObjectID: SAVEDATE, OBJECTID, PREVIEW and WITHIN are
// advertised.
func TestCapabilitiesObjectID(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t)
	res := c.ok("CAPABILITY")
	caps := strings.Fields(res.untagged[0].raw)
	for _, want := range []string{"SAVEDATE", "OBJECTID", "PREVIEW", "WITHIN"} {
		if !slices.Contains(caps, want) {
			t.Errorf("%s not in %q", want, caps)
		}
	}
}

// TestMailboxID: CREATE answers the MAILBOXID (RFC 8474 §4.1), which
// SELECT, EXAMINE and STATUS repeat; RENAME keeps it, DELETE and CREATE
// of the same name gives another; another user's mailbox of the same
// name has its own.
func TestMailboxID(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t)
	id := codeID(t, c.ok("CREATE Work"))
	if got := codeID(t, c.ok("SELECT Work")); got != id {
		t.Errorf("SELECT: %q, CREATE said %q", got, id)
	}
	if got := codeID(t, c.ok("EXAMINE Work")); got != id {
		t.Errorf("EXAMINE: %q, CREATE said %q", got, id)
	}
	c.ok("UNSELECT")
	if got := statusID(t, c, "Work"); got != id {
		t.Errorf("STATUS: %q, CREATE said %q", got, id)
	}
	c.ok("RENAME Work Play")
	if got := statusID(t, c, "Play"); got != id {
		t.Errorf("after RENAME: %q, was %q", got, id)
	}
	c.ok("DELETE Play")
	again := codeID(t, c.ok("CREATE Play"))
	if again == id {
		t.Errorf("re-created mailbox has the old MAILBOXID %q", id)
	}
	o := dialClient(t, e.addr)
	o.login("jill@hill.com", testPassword)
	if got := codeID(t, o.ok("CREATE Play")); got == again {
		t.Errorf("two accounts share MAILBOXID %q", got)
	}
	if statusID(t, c, "INBOX") == statusID(t, o, "INBOX") {
		t.Error("two accounts' INBOXes share a MAILBOXID")
	}
}

// TestEmailThreadID: FETCH EMAILID and THREADID (RFC 8474 §5); a copy
// keeps both, and so does a moved message; a reply shares its thread's
// THREADID; SEARCH EMAILID and THREADID (§6) find them, at the top and
// inside OR.
func TestEmailThreadID(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "INBOX", testMsg)
	e.deliver(t, e.acct.ID, "INBOX", "Message-ID: <2@town.com>\r\nIn-Reply-To: <1@town.com>\r\nReferences: <1@town.com>\r\nSubject: Re: Pail\r\n\r\nreply\r\n")
	e.deliver(t, e.acct.ID, "INBOX", "Message-ID: <3@town.com>\r\nSubject: other\r\n\r\nother\r\n")
	c := e.dial(t)
	c.ok("CREATE Work")
	c.ok("SELECT INBOX")
	f := c.ok("FETCH 1:3 (EMAILID THREADID)").fetches(t)
	ids := map[uint32][2]string{}
	for seq, m := range f {
		em, th := atoms(m["EMAILID"]), atoms(m["THREADID"])
		if len(em) != 1 || len(th) != 1 || !objectID.MatchString(em[0]) || !objectID.MatchString(th[0]) {
			t.Fatalf("FETCH %d: %v", seq, m)
		}
		ids[seq] = [2]string{em[0], th[0]}
	}
	if ids[1][0] == ids[2][0] || ids[2][0] == ids[3][0] {
		t.Errorf("EMAILIDs repeat: %v", ids)
	}
	if ids[1][1] != ids[2][1] || ids[1][1] == ids[3][1] {
		t.Errorf("THREADIDs: %v", ids)
	}
	uidOf := func(r *result) []uint32 { t.Helper(); return r.searched(t) }
	if got := uidOf(c.ok("UID SEARCH EMAILID " + ids[2][0])); !slices.Equal(got, []uint32{2}) {
		t.Errorf("SEARCH EMAILID: %v", got)
	}
	if got := uidOf(c.ok("UID SEARCH THREADID " + ids[1][1])); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("SEARCH THREADID: %v", got)
	}
	if got := uidOf(c.ok("UID SEARCH OR EMAILID " + ids[1][0] + " EMAILID " + ids[3][0])); !slices.Equal(got, []uint32{1, 3}) {
		t.Errorf("SEARCH OR EMAILID: %v", got)
	}
	if got := uidOf(c.ok("UID SEARCH NOT THREADID " + ids[1][1])); !slices.Equal(got, []uint32{3}) {
		t.Errorf("SEARCH NOT THREADID: %v", got)
	}
	c.ok("COPY 1 Work")
	c.ok("MOVE 2 Work")
	c.ok("SELECT Work")
	f = c.ok("FETCH 1:2 (EMAILID THREADID)").fetches(t)
	for seq, src := range map[uint32]uint32{1: 1, 2: 2} {
		if em, th := atoms(f[seq]["EMAILID"]), atoms(f[seq]["THREADID"]); len(em) != 1 || em[0] != ids[src][0] || th[0] != ids[src][1] {
			t.Errorf("copy %d: %v, original %v", seq, f[seq], ids[src])
		}
	}
	// Another user's copy of the same message has nothing in common.
	e.deliver(t, e.other.ID, "INBOX", testMsg)
	o := dialClient(t, e.addr)
	o.login("jill@hill.com", testPassword)
	o.ok("SELECT INBOX")
	g := o.ok("FETCH 1 (EMAILID THREADID)").fetches(t)[1]
	if atoms(g["EMAILID"])[0] == ids[1][0] || atoms(g["THREADID"])[0] == ids[1][1] {
		t.Errorf("other account's ids %v equal bob's %v", g, ids[1])
	}
	if got := o.ok("UID SEARCH EMAILID " + ids[1][0]).searched(t); len(got) != 0 {
		t.Errorf("bob's EMAILID found in jill's mailbox: %v", got)
	}
	// An objectid out of the grammar is BAD.
	if res := c.do("SEARCH EMAILID a.b"); res.status != "BAD" {
		t.Errorf("SEARCH EMAILID a.b: %s %s", res.status, res.text)
	}
}

// TestSaveDate: FETCH SAVEDATE is when the message came into the mailbox
// (APPEND with an old internal date, COPY, MOVE), SEARCH SAVEDON,
// SAVEDSINCE, SAVEDBEFORE and SAVEDATESUPPORTED (RFC 8514 §4, §5).
func TestSaveDate(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t)
	c.ok("CREATE Work")
	old := time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
	start := time.Now().Add(-time.Second)
	appendMsg(t, c, "INBOX", testMsg, "", old)
	appendMsg(t, c, "INBOX", testMsg, "", old)
	c.ok("SELECT INBOX")
	check := func(what string, m map[string]any) {
		t.Helper()
		saved, err := time.Parse(imapwire.DateTimeLayout, str(m["SAVEDATE"]))
		if err != nil || saved.Before(start.Truncate(time.Second)) || saved.After(time.Now()) {
			t.Errorf("%s: SAVEDATE %v (%v)", what, m["SAVEDATE"], err)
		}
		internal, _ := time.Parse(imapwire.DateTimeLayout, str(m["INTERNALDATE"]))
		if !internal.Equal(old) {
			t.Errorf("%s: INTERNALDATE %v", what, m["INTERNALDATE"])
		}
	}
	f := c.ok("FETCH 1:2 (SAVEDATE INTERNALDATE)").fetches(t)
	check("APPEND", f[1])
	today := time.Now().Format("2-Jan-2006")
	for _, q := range []struct {
		key  string
		want []uint32
	}{
		{"SAVEDON " + today, []uint32{1, 2}},
		{"SAVEDSINCE " + today, []uint32{1, 2}},
		{"SAVEDBEFORE " + today, nil},
		{"SAVEDBEFORE 5-Mar-2020", nil},
		{"ON 4-Mar-2020", []uint32{1, 2}},
		{"SAVEDATESUPPORTED", []uint32{1, 2}},
		{"NOT SAVEDSINCE " + today, nil},
		{"OR SAVEDBEFORE 1-Jan-2021 UID 2", []uint32{2}},
		{"SAVEDATESUPPORTED SAVEDON " + today + " UID 1", []uint32{1}},
	} {
		if got := c.ok("UID SEARCH " + q.key).searched(t); !slices.Equal(got, q.want) {
			t.Errorf("SEARCH %s: %v, want %v", q.key, got, q.want)
		}
	}
	c.ok("COPY 1 Work")
	c.ok("MOVE 2 Work")
	c.ok("SELECT Work")
	f = c.ok("FETCH 1:2 (SAVEDATE INTERNALDATE)").fetches(t)
	check("COPY", f[1])
	check("MOVE", f[2])
}

// TestWithin: SEARCH YOUNGER and OLDER (RFC 5032) on the internal date,
// to the second, at the top and nested.
func TestWithin(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t)
	now := time.Now()
	appendMsg(t, c, "INBOX", testMsg, "", now.Add(-3*time.Hour))
	appendMsg(t, c, "INBOX", testMsg, "", now.Add(-90*time.Minute))
	appendMsg(t, c, "INBOX", testMsg, "", now.Add(-time.Minute))
	c.ok("SELECT INBOX")
	for _, q := range []struct {
		key  string
		want []uint32
	}{
		{"YOUNGER 3600", []uint32{3}},
		{"OLDER 3600", []uint32{1, 2}},
		{"YOUNGER 7200 OLDER 3600", []uint32{2}},
		{"OR YOUNGER 600 OLDER 9000", []uint32{1, 3}},
		{"NOT YOUNGER 7200", []uint32{1}},
		{"YOUNGER 4294967295", []uint32{1, 2, 3}},
		{"OLDER 4294967295", nil},
	} {
		if got := c.ok("UID SEARCH " + q.key).searched(t); !slices.Equal(got, q.want) {
			t.Errorf("SEARCH %s: %v, want %v", q.key, got, q.want)
		}
	}
	if res := c.do("SEARCH YOUNGER 0"); res.status != "BAD" {
		t.Errorf("YOUNGER 0: %s %s", res.status, res.text)
	}
}

// TestPreview: FETCH PREVIEW and PREVIEW (LAZY) (RFC 8970): the first
// text part, HTML as text, white space squeezed, at most 256 characters;
// an empty string for a message without text; 8-bit UTF-8 as a literal
// to an IMAP4rev1 client and quoted once it has enabled IMAP4rev2.
func TestPreview(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("word  \r\n ", 100)
	e.deliver(t, e.acct.ID, "INBOX", "Subject: a\r\n\r\nHello   there,\r\n\r\n  Jill.\r\n"+long)
	e.deliver(t, e.acct.ID, "INBOX", "Subject: b\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head><body><p>Caf&eacute; <b>au</b>\r\n lait</p></body></html>\r\n")
	e.deliver(t, e.acct.ID, "INBOX", "Subject: c\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n")
	c := e.dial(t)
	c.ok("SELECT INBOX")
	for _, item := range []string{"PREVIEW", "PREVIEW (LAZY)"} {
		res := c.ok("FETCH 1:3 (" + item + ")")
		f := res.fetches(t)
		p1, p2 := str(f[1]["PREVIEW"]), str(f[2]["PREVIEW"])
		if !strings.HasPrefix(p1, "Hello there, Jill. word word") || utf8.RuneCountInString(p1) > 256 || strings.Contains(p1, "  ") {
			t.Errorf("%s plain: %q", item, p1)
		}
		if p2 != "Café au lait" {
			t.Errorf("%s html: %q", item, p2)
		}
		if v, ok := f[3]["PREVIEW"]; !ok || v == nil || str(v) != "" {
			t.Errorf("%s no text: %#v", item, v)
		}
		// IMAP4rev1: 8-bit only in a literal.
		if !slices.ContainsFunc(res.untagged, func(u resp) bool { return strings.Contains(u.raw, "PREVIEW {") }) {
			t.Errorf("%s: no literal for UTF-8 text: %q", item, res.untagged)
		}
	}
	rev2 := e.dial(t)
	rev2.ok("ENABLE IMAP4rev2")
	rev2.ok("EXAMINE INBOX")
	res := rev2.ok("FETCH 2 PREVIEW")
	if !strings.Contains(res.untagged[0].raw, `PREVIEW "Café au lait"`) {
		t.Errorf("IMAP4rev2: %q", res.untagged)
	}
	// A preview is no body fetch: \Seen stays unset.
	if f := c.ok("FETCH 1:3 FLAGS").fetches(t); hasFlag(atoms(f[1]["FLAGS"]), `\Seen`) {
		t.Errorf("PREVIEW set \\Seen: %v", f[1])
	}
}

// TestStatusDeletedSize: STATUS DELETED counts the messages with \Deleted
// and SIZE sums their RFC822.SIZE (RFC 9051 §6.3.11, RFC 8438), the same
// for an IMAP4rev1 and an IMAP4rev2 client and in LIST-STATUS, as the
// messages change.
func TestStatusDeletedSize(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 4 {
		e.deliver(t, e.acct.ID, "INBOX", testMsg+strings.Repeat("x", i*100))
	}
	c := e.dial(t)
	rev2 := e.dial(t)
	rev2.ok("ENABLE IMAP4rev2")
	c.ok("SELECT INBOX")
	c.ok("STORE 1,3 +FLAGS (\\Deleted)")
	c.ok("STORE 2 +FLAGS (\\Deleted \\Seen)")
	c.ok("STORE 2 -FLAGS (\\Deleted)")
	var size uint64
	for _, m := range c.ok("FETCH 1:* RFC822.SIZE").fetches(t) {
		var n uint64
		fmt.Sscan(str(m["RFC822.SIZE"]), &n)
		size += n
	}
	want := map[string]uint64{"MESSAGES": 4, "DELETED": 2, "SIZE": size, "UNSEEN": 3}
	for name, cl := range map[string]*client{"IMAP4rev1": c, "IMAP4rev2": rev2} {
		got := cl.ok("STATUS INBOX (MESSAGES DELETED SIZE UNSEEN)").statusItems(t)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s STATUS %s = %d, want %d", name, k, got[k], v)
			}
		}
		got = cl.ok(`LIST "" INBOX RETURN (STATUS (DELETED SIZE))`).statusItems(t)
		if got["DELETED"] != 2 || got["SIZE"] != size {
			t.Errorf("%s LIST-STATUS: %v", name, got)
		}
	}
	c.ok("EXPUNGE")
	got := rev2.ok("STATUS INBOX (MESSAGES DELETED SIZE)").statusItems(t)
	if got["MESSAGES"] != 2 || got["DELETED"] != 0 || got["SIZE"] >= size {
		t.Errorf("after EXPUNGE: %v", got)
	}
}
