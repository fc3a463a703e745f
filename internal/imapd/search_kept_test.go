package imapd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// genMsg is one message of TestSearchAgainstBruteForce's mailbox, with
// what a brute-force scan needs to know of it.
type genMsg struct {
	raw           string
	name, addr    string // the From address as a client shows it
	to, subject   string
	day           int // of January 2026, the Date field's
	flagged, seen bool
}

// genMailbox generates n messages whose From is written in each of the
// ways mail writes it: name-addr, a comment as the name, a quoted name
// with a comma, an encoded word, and a comment inside the address.
func genMailbox(n int) []genMsg {
	out := make([]genMsg, n)
	for i := range out {
		g := genMsg{addr: fmt.Sprintf("user%d@dom%d.org", i%13, i%5), day: 1 + i%28, flagged: i%3 == 0, seen: i%4 == 0}
		g.subject = fmt.Sprintf("report %d on %s", i, []string{"water", "hills", "Zanzibar", "pails"}[i%4])
		g.to = fmt.Sprintf("bob%d@hill.com", i%7)
		var from string
		switch i % 5 {
		case 0:
			g.name = fmt.Sprintf("Name %d", i%11)
			from = g.name + " <" + g.addr + ">"
		case 1:
			g.name = fmt.Sprintf("Name %d", i%11)
			from = g.addr + " (" + g.name + ")"
		case 2:
			g.name = "Quoted, Name"
			from = `"Quoted, Name" <` + g.addr + ">"
		case 3:
			g.name = "Jürgen"
			from = "=?utf-8?q?J=C3=BCrgen?= <" + g.addr + ">"
		case 4:
			local, host, _ := strings.Cut(g.addr, "@")
			from = local + "(at work)@" + host
		}
		g.raw = fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %02d Jan 2026 10:00:00 +0000\r\nMessage-ID: <%d@gen>\r\n\r\n%s\r\n",
			from, g.to, g.subject, g.day, i, strings.Repeat("body text ", i%50))
		out[i] = g
	}
	return out
}

// TestSearchAgainstBruteForce: UID SEARCH over a generated mailbox, with
// header keys answered from the kept fields and flags, dates, sizes and
// UIDs in SQL, returns what a scan of the generated messages says, for
// keys alone, combined, negated and in OR (RFC 9051 §6.4.4: header keys
// are case-insensitive substrings; an address written with a comment is
// found by its address).
func TestSearchAgainstBruteForce(t *testing.T) {
	const n = 150
	msgs := genMailbox(n)
	e := newEnv(t, nil)
	for _, g := range msgs {
		e.deliver(t, e.acct.ID, "INBOX", g.raw)
	}
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	for i, g := range msgs {
		if g.flagged {
			r.cmd(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Flagged)`, i+1))
		}
		if g.seen {
			r.cmd(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Seen)`, i+1))
		}
	}
	has := func(s, v string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(v)) }
	from := func(v string) func(genMsg) bool {
		return func(g genMsg) bool {
			return has(g.name, v) || has(g.addr, v) || g.name != "" && has(g.name+" <"+g.addr+">", v)
		}
	}
	subject := func(v string) func(genMsg) bool { return func(g genMsg) bool { return has(g.subject, v) } }
	to := func(v string) func(genMsg) bool { return func(g genMsg) bool { return has(g.to, v) } }
	size := func(i int) int { return len(msgs[i].raw) }
	for _, c := range []struct {
		search string
		want   func(i int, g genMsg) bool
	}{
		{`FROM "user3@dom"`, func(_ int, g genMsg) bool { return from("user3@dom")(g) }},
		{`FROM user1@dom1.org`, func(_ int, g genMsg) bool { return from("user1@dom1.org")(g) }},
		{`FROM "name 3"`, func(_ int, g genMsg) bool { return from("name 3")(g) }},
		{`FROM "Name 3 <user"`, func(_ int, g genMsg) bool { return from("Name 3 <user")(g) }},
		{`FROM "quoted, NAME"`, func(_ int, g genMsg) bool { return from("quoted, name")(g) }},
		{"CHARSET UTF-8 FROM {7+}\r\njürgen", func(_ int, g genMsg) bool { return from("jürgen")(g) }},
		{`FROM DOM4.ORG`, func(_ int, g genMsg) bool { return from("dom4.org")(g) }},
		{`HEADER From user12`, func(_ int, g genMsg) bool { return from("user12")(g) }},
		{`TO bob3`, func(_ int, g genMsg) bool { return to("bob3")(g) }},
		{`SUBJECT zanz`, func(_ int, g genMsg) bool { return subject("zanz")(g) }},
		{`SUBJECT "report 1"`, func(_ int, g genMsg) bool { return subject("report 1")(g) }},
		{`FLAGGED FROM user2`, func(_ int, g genMsg) bool { return g.flagged && from("user2")(g) }},
		{`UNSEEN SUBJECT water`, func(_ int, g genMsg) bool { return !g.seen && subject("water")(g) }},
		{`NOT FROM dom0`, func(_ int, g genMsg) bool { return !from("dom0")(g) }},
		{`OR FROM user5 SUBJECT pails`, func(_ int, g genMsg) bool { return from("user5")(g) || subject("pails")(g) }},
		{`SENTSINCE 10-Jan-2026 SENTBEFORE 20-Jan-2026 FROM name`, func(_ int, g genMsg) bool { return g.day >= 10 && g.day < 20 && from("name")(g) }},
		{`SENTON 7-Jan-2026`, func(_ int, g genMsg) bool { return g.day == 7 }},
		{`OR SENTON 7-Jan-2026 SEEN`, func(_ int, g genMsg) bool { return g.day == 7 || g.seen }},
		{`LARGER 300 SMALLER 500`, func(i int, _ genMsg) bool { return size(i) > 300 && size(i) < 500 }},
		{`UID 10:40,100:* FROM user7`, func(i int, g genMsg) bool { return (i+1 >= 10 && i+1 <= 40 || i+1 >= 100) && from("user7")(g) }},
		{`1:20 NOT FLAGGED`, func(i int, g genMsg) bool { return i < 20 && !g.flagged }},
		{`ALL`, func(int, genMsg) bool { return true }},
	} {
		var want []string
		for i, g := range msgs {
			if c.want(i, g) {
				want = append(want, strconv.Itoa(i+1))
			}
		}
		lines := r.cmd("UID SEARCH " + c.search)
		if !strings.Contains(lines[len(lines)-1], "OK") {
			t.Errorf("%q: %q", c.search, lines)
			continue
		}
		var got []string
		for _, l := range lines {
			if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
				got = strings.Fields(rest)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q:\n got %v\nwant %v", c.search, got, want)
		}
	}
}
