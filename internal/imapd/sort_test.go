package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sortDay is noon UTC of 1 January 2026 plus n days.
func sortDay(n int) time.Time { return time.Date(2026, 1, 1+n, 12, 0, 0, 0, time.UTC) }

// sortFixture are four messages whose SORT orders were worked out by hand
// (RFC 5256 §3): arrival (the APPEND date), Date field, size (the body
// padding), subject, From, To, Cc.
var sortFixture = []struct {
	arrival            int
	date               int // -1: no Date field
	from, to, cc, subj string
	pad                int
}{
	{3, 2, "Carol <carol@c.org>", "x@x.org", "", "Re: beta", 1000},
	{1, 5, "bob@b.org", "y@x.org", "z@z.org", "alpha", 10},
	{2, -1, "Alice Zed <alice@a.org>", "x@x.org", "a@a.org", "Beta", 500},
	{4, 1, "Bob <bob@b.org>", "", "", "[fwd: alpha]", 100},
}

func sortFixtureMsg(i int) string {
	f := sortFixture[i]
	h := "From: " + f.from + "\r\n"
	if f.to != "" {
		h += "To: " + f.to + "\r\n"
	}
	if f.cc != "" {
		h += "Cc: " + f.cc + "\r\n"
	}
	if f.date >= 0 {
		h += "Date: " + sortDay(f.date).Format(time.RFC1123Z) + "\r\n"
	}
	h += fmt.Sprintf("Subject: %s\r\nMessage-ID: <s%d@t>\r\n\r\n", f.subj, i)
	return h + strings.Repeat("x", f.pad) + "\r\n"
}

// appendRaw APPENDs msg with an internal date over r (LITERAL+).
func appendRaw(t *testing.T, r *raw, msg string, date time.Time) {
	t.Helper()
	got := r.cmd(fmt.Sprintf("APPEND INBOX %q {%d+}\r\n%s", date.Format("02-Jan-2006 15:04:05 -0700"), len(msg), msg))
	if !strings.Contains(got[len(got)-1], "OK") {
		t.Fatalf("APPEND: %q", got)
	}
}

// expectUntagged sends cmd and checks that its only untagged answer is
// want and that it ends in OK.
func expectUntagged(t *testing.T, r *raw, cmd, want string) {
	t.Helper()
	got := r.cmd(cmd)
	if !strings.Contains(got[len(got)-1], " OK ") {
		t.Errorf("%s: %q", cmd, got)
		return
	}
	var untagged []string
	for _, l := range got[:len(got)-1] {
		if !strings.HasPrefix(l, "* OK") && !strings.Contains(l, "FETCH") && !strings.Contains(l, "EXISTS") && !strings.Contains(l, "RECENT") {
			untagged = append(untagged, l)
		}
	}
	if len(untagged) != 1 || untagged[0] != want {
		t.Errorf("%s:\n got %q\nwant %q", cmd, untagged, want)
	}
}

// dropFiles removes the files of every message of the store (bob's
// INBOX), so that a command that read one would fail or answer
// differently (issue 17: SORT and THREAD work from the fields kept at
// delivery).
func dropFiles(t testing.TB, e *testEnv) {
	t.Helper()
	if removeMessageFiles(t, e) == 0 {
		t.Fatal("no message files to remove")
	}
}

// TestSort: SORT and UID SORT of RFC 5256 §3 on every key, REVERSE,
// several criteria, with search keys, and ESORT's RETURN options (RFC
// 5267 §3), answered with the message files gone.
func TestSort(t *testing.T) {
	e := newEnv(t, nil)
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	// A first message expunged, so that UIDs are sequence numbers + 1.
	appendRaw(t, r, "Subject: gone\r\n\r\nx\r\n", sortDay(0))
	r.cmd("SELECT INBOX")
	r.cmd(`STORE 1 +FLAGS (\Deleted)`)
	r.cmd("EXPUNGE")
	for i := range sortFixture {
		appendRaw(t, r, sortFixtureMsg(i), sortDay(sortFixture[i].arrival))
	}
	r.cmd("NOOP")
	dropFiles(t, e)

	caps := strings.Join(r.cmd("CAPABILITY"), " ")
	for _, c := range []string{" SORT ", " SORT=DISPLAY ", " THREAD=ORDEREDSUBJECT ", " THREAD=REFERENCES ", " ESORT"} {
		if !strings.Contains(caps, c) {
			t.Errorf("CAPABILITY lacks %q: %s", c, caps)
		}
	}
	for _, c := range []struct{ cmd, want string }{
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 2 3 1 4"},
		// Sent dates: 4 day 1; 1 day 2; 3 has no Date, so its
		// arrival, day 2 at the same instant: mailbox order; 2 day 5.
		{"SORT (DATE) UTF-8 ALL", "* SORT 4 1 3 2"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 2 1 3 4"},
		{"SORT (SIZE) UTF-8 ALL", "* SORT 2 4 3 1"},
		// Base subjects beta, alpha, Beta, alpha ("[fwd: alpha]").
		{"SORT (SUBJECT) UTF-8 ALL", "* SORT 2 4 1 3"},
		{"SORT (SUBJECT DATE) US-ASCII ALL", "* SORT 4 2 1 3"},
		{"SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT 1 3 2 4"},
		{"SORT (FROM) UTF-8 ALL", "* SORT 3 2 4 1"},
		{"SORT (TO) UTF-8 ALL", "* SORT 4 1 3 2"},
		{"SORT (CC) UTF-8 ALL", "* SORT 1 4 3 2"},
		// Display names Carol, none (bob@b.org), Alice Zed, Bob.
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 3 4 2 1"},
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 4 1 3 2"},
		{"UID SORT (DATE) UTF-8 ALL", "* SORT 5 2 4 3"},
		{"SORT (DATE) UTF-8 FROM bob", "* SORT 4 2"},
		{"SORT (DATE) UTF-8 SUBJECT nothing", "* SORT"},
		{"SORT (SIZE) UTF-8 LARGER 400", "* SORT 3 1"},
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t%d") MIN 4 MAX 2 COUNT 4`},
		{"SORT RETURN () (DATE) UTF-8 ALL", `* ESEARCH (TAG "t%d") ALL 4,1,3,2`},
		{"SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL", `* ESEARCH (TAG "t%d") ALL 2:3,1,4`},
		{"UID SORT RETURN (ALL COUNT) (REVERSE ARRIVAL) UTF-8 ALL", `* ESEARCH (TAG "t%d") UID COUNT 4 ALL 5,2,4,3`},
		{"SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing", `* ESEARCH (TAG "t%d") COUNT 0`},
		{"SORT RETURN (PARTIAL 1:10) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t%d") PARTIAL (1:10 4,1,3,2)`}, // CONTEXT=SORT
	} {
		want := c.want
		if strings.Contains(want, "%d") {
			want = fmt.Sprintf(want, r.n+1)
		}
		expectUntagged(t, r, c.cmd, want)
	}
	for cmd, want := range map[string]string{
		"SORT (DATE) ISO-8859-1 ALL":                    " NO [BADCHARSET (UTF-8 US-ASCII)]",
		"SORT RETURN (PARTIAL -1:-10) (DATE) UTF-8 ALL": " BAD ", // RFC 9394's, not offered
		"SORT (BOGUS) UTF-8 ALL":                        " BAD ",
		"SORT DATE UTF-8 ALL":                           " BAD ",
	} {
		if got := r.cmd(cmd); !strings.Contains(got[len(got)-1], want) {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
}

// threadFixture: eight messages whose threads were worked out by hand
// (RFC 5256 §3): 1 "Meeting" with 2 and 3 replying down a chain; 4 and 5
// referencing (References, In-Reply-To) the missing x, and 6 with 4's
// subject and no references; 7 with 1's Message-ID (a duplicate); 8
// referencing itself and without a Date (it sorts by its arrival, the
// latest).
var threadFixture = []string{
	"Subject: Meeting\r\nMessage-ID: <a@t>\r\nDate: Thu, 01 Jan 2026 10:00:00 +0000\r\n",
	"Subject: Re: Meeting\r\nMessage-ID: <b@t>\r\nReferences: <a@t>\r\nDate: Thu, 01 Jan 2026 11:00:00 +0000\r\n",
	"Subject: Re: Meeting\r\nMessage-ID: <c@t>\r\nReferences: <a@t> <b@t>\r\nIn-Reply-To: <b@t>\r\nDate: Thu, 01 Jan 2026 12:00:00 +0000\r\n",
	"Subject: Lunch\r\nMessage-ID: <e@t>\r\nReferences: <x@t>\r\nDate: Fri, 02 Jan 2026 09:00:00 +0000\r\n",
	"Subject: Re: Lunch\r\nMessage-ID: <f@t>\r\nIn-Reply-To: <x@t>\r\nDate: Fri, 02 Jan 2026 10:00:00 +0000\r\n",
	"Subject: =?utf-8?q?LUNCH?= (fwd)\r\nMessage-ID: <g@t>\r\nDate: Sat, 03 Jan 2026 08:00:00 +0100\r\n",
	"Subject: Other\r\nMessage-ID: <a@t>\r\nDate: Wed, 31 Dec 2025 10:00:00 +0000\r\n",
	"Subject: Loop\r\nMessage-ID: <h@t>\r\nReferences: <h@t>\r\n",
}

// TestThread: THREAD and UID THREAD by ORDEREDSUBJECT and REFERENCES,
// with search keys, answered with the message files gone.
func TestThread(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "INBOX", "Subject: gone\r\n\r\nx\r\n")
	for _, h := range threadFixture {
		e.deliver(t, e.acct.ID, "INBOX", "From: a@t\r\n"+h+"\r\nbody\r\n")
	}
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	r.cmd("SELECT INBOX")
	r.cmd(`STORE 1 +FLAGS (\Deleted)`)
	r.cmd("EXPUNGE")
	dropFiles(t, e)
	for _, c := range []struct{ cmd, want string }{
		// The dummy x holds 4 and 5 (step 2, kept by step 3 as it has
		// two children at the top), and 6 joins it by subject (step 5).
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (7)(1 2 3)((4)(5)(6))(8)"},
		{"UID THREAD REFERENCES UTF-8 ALL", "* THREAD (8)(2 3 4)((5)(6)(7))(9)"},
		{"THREAD REFERENCES US-ASCII SUBJECT lunch", "* THREAD ((4)(5)(6))"},
		// 4's dummy parent x has one child left: 4 takes its place
		// (step 3); 6, a forward ("(fwd)"), goes under 4 (step 5).
		{"THREAD REFERENCES UTF-8 NOT SUBJECT Re", "* THREAD (7)(1)(4 6)(8)"},
		// 3 without 2: its References still name a and b, b a dummy
		// under 1, pruned.
		{"THREAD REFERENCES UTF-8 UID 2,4,8", "* THREAD (7)(1 3)"},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (7)(1 (2)(3))(4 (5)(6))(8)"},
		{"UID THREAD ORDEREDSUBJECT UTF-8 SUBJECT meeting", "* THREAD (2 (3)(4))"},
		{"THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing", "* THREAD"},
	} {
		expectUntagged(t, r, c.cmd, c.want)
	}
	for cmd, want := range map[string]string{
		"THREAD REFS UTF-8 ALL":        " BAD ",
		"THREAD REFERENCES KOI8-R ALL": " NO [BADCHARSET (UTF-8 US-ASCII)]",
	} {
		if got := r.cmd(cmd); !strings.Contains(got[len(got)-1], want) {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	r.cmd("CLOSE")
	if got := r.cmd("THREAD REFERENCES UTF-8 ALL"); !strings.Contains(got[len(got)-1], " BAD ") {
		t.Errorf("THREAD with no mailbox selected: %q", got)
	}
}
