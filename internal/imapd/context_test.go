package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// untaggedOf returns the untagged lines of a raw command's answer that
// start with prefix, in order.
func untaggedOf(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// indexOf returns the place of the first line with the prefix, or -1.
func indexOf(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// wantLines checks the lines of got that start with prefix.
func wantLines(t *testing.T, what string, got []string, prefix string, want ...string) {
	t.Helper()
	if have := untaggedOf(got, prefix); fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q\n all %q", what, have, want, got)
	}
}

// contextSession logs in over raw, appends a message for each subject
// (unseen, a day apart) and selects INBOX.
func contextSession(t *testing.T, e *testEnv, subjects ...string) *raw {
	t.Helper()
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	for i, s := range subjects {
		appendRaw(t, r, "Subject: "+s+"\r\n\r\nx\r\n", sortDay(i))
	}
	r.cmd("SELECT INBOX")
	return r
}

// TestContextSearchUpdate: UID SEARCH RETURN (UPDATE) (RFC 5267 §4.3)
// sends ADDTO and REMOVEFROM as messages arrive from another session,
// change flags (another session's STORE and the session's own) and are
// expunged, REMOVEFROM before the EXPUNGE and ADDTO after the EXISTS;
// CANCELUPDATE ends it, tag reuse is BAD and a tag of no search is NO.
func TestContextSearchUpdate(t *testing.T) {
	e := newEnv(t, nil)
	a := contextSession(t, e, "one", "two", "three")
	b := contextSession(t, e)
	b.cmd("SELECT INBOX")

	caps := strings.Join(a.cmd("CAPABILITY"), " ")
	for _, c := range []string{" CONTEXT=SEARCH", " CONTEXT=SORT", " ESORT", " ESEARCH"} {
		if !strings.Contains(caps, c) {
			t.Errorf("CAPABILITY lacks %q: %s", c, caps)
		}
	}

	got := a.cmd("UID SEARCH RETURN (UPDATE) UNSEEN")
	tag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "UID SEARCH RETURN (UPDATE)", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") UID ALL 1:3`)

	// A new message from another session: ADDTO after its EXISTS.
	appendRaw(t, b, "Subject: four\r\n\r\nx\r\n", sortDay(4))
	got = a.cmd("NOOP")
	wantLines(t, "after APPEND", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") UID ADDTO (0 4)`)
	if i, j := indexOf(got, "* 4 EXISTS"), indexOf(got, "* ESEARCH"); i < 0 || j < i {
		t.Errorf("ADDTO before EXISTS: %q", got)
	}

	// Another session's STORE: REMOVEFROM with the FETCH.
	b.cmd(`UID STORE 1 +FLAGS (\Seen)`)
	got = a.cmd("NOOP")
	wantLines(t, "after another's STORE", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") UID REMOVEFROM (0 1)`)

	// The session's own STORE, which it reports itself.
	got = a.cmd(`STORE 2 +FLAGS (\Seen)`)
	wantLines(t, "after own STORE", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") UID REMOVEFROM (0 2)`)
	got = a.cmd(`STORE 1:2 -FLAGS (\Seen)`)
	wantLines(t, "after own -FLAGS", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") UID ADDTO (0 1:2)`)

	// A flag change that leaves the results alone tells nothing.
	got = a.cmd(`STORE 1 +FLAGS (\Flagged)`)
	wantLines(t, "after \\Flagged", got, "* ESEARCH")

	// An expunge by the other session: REMOVEFROM before the EXPUNGE.
	b.cmd(`UID STORE 3 +FLAGS (\Deleted)`)
	a.cmd("NOOP") // the \Deleted flag
	b.cmd("EXPUNGE")
	got = a.cmd("NOOP")
	wantLines(t, "after EXPUNGE", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") UID REMOVEFROM (0 3)`)
	if i, j := indexOf(got, "* ESEARCH"), indexOf(got, "* 3 EXPUNGE"); i < 0 || j < i {
		t.Errorf("REMOVEFROM not before EXPUNGE: %q", got)
	}

	// The tag of a live search cannot be used again for UPDATE.
	fmt.Fprintf(a.c, "%s SEARCH RETURN (UPDATE) ALL\r\n", tag)
	for l := a.line(); ; l = a.line() {
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" BAD") {
				t.Errorf("tag reuse: %q", l)
			}
			break
		}
		if strings.HasPrefix(l, "* ESEARCH") {
			t.Errorf("tag reuse answered: %q", l)
		}
	}

	if got := a.cmd(`CANCELUPDATE "nope"`); !strings.Contains(got[len(got)-1], " NO ") {
		t.Errorf("CANCELUPDATE of no search: %q", got)
	}
	if got := a.cmd(`CANCELUPDATE "` + tag + `"`); !strings.Contains(got[len(got)-1], " OK ") {
		t.Errorf("CANCELUPDATE: %q", got)
	}
	appendRaw(t, b, "Subject: five\r\n\r\nx\r\n", sortDay(5))
	got = a.cmd("NOOP")
	wantLines(t, "after CANCELUPDATE", got, "* ESEARCH")
	if indexOf(got, "* 4 EXISTS") < 0 {
		t.Errorf("no EXISTS after CANCELUPDATE: %q", got)
	}
	if got := a.cmd(`CANCELUPDATE "` + tag + `"`); !strings.Contains(got[len(got)-1], " NO ") {
		t.Errorf("second CANCELUPDATE: %q", got)
	}
	for _, c := range []string{"CANCELUPDATE", "CANCELUPDATE t1", `CANCELUPDATE "t1" `} {
		if got := a.cmd(c); !strings.Contains(got[len(got)-1], " BAD ") {
			t.Errorf("%s: %q", c, got)
		}
	}
}

// TestContextSearchSeqNums: SEARCH RETURN (UPDATE COUNT) reports in
// sequence numbers (RFC 5267 §4.3.2), as of the EXISTS and before the
// EXPUNGE; sequence numbers in the program name the messages they named
// when the command ran (§4.3), and the updates come in IDLE too. SELECT
// ends the contexts, so that the tag is free again.
func TestContextSearchSeqNums(t *testing.T) {
	e := newEnv(t, nil)
	a := contextSession(t, e, "one", "two", "three", "four")
	b := contextSession(t, e)
	b.cmd("SELECT INBOX")

	got := a.cmd("SEARCH RETURN (UPDATE COUNT) UNFLAGGED")
	seqTag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "SEARCH RETURN (UPDATE COUNT)", got, "* ESEARCH", `* ESEARCH (TAG "`+seqTag+`") COUNT 4`)
	got = a.cmd("SEARCH RETURN (UPDATE CONTEXT MIN) 2:3 UNSEEN")
	rangeTag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "SEARCH 2:3", got, "* ESEARCH", `* ESEARCH (TAG "`+rangeTag+`") MIN 2`)

	// Message 1 goes: 2 and 3 are then 1 and 2, still the program's.
	b.cmd(`STORE 1 +FLAGS (\Deleted)`)
	b.cmd("EXPUNGE")
	got = a.cmd("NOOP")
	wantLines(t, "after EXPUNGE", got, "* ESEARCH", `* ESEARCH (TAG "`+seqTag+`") REMOVEFROM (0 1)`)
	b.cmd(`STORE 1:2 +FLAGS (\Flagged \Seen)`) // formerly 2 and 3
	got = a.cmd("NOOP")
	wantLines(t, "after STORE", got, "* ESEARCH",
		`* ESEARCH (TAG "`+seqTag+`") REMOVEFROM (0 1:2)`,
		`* ESEARCH (TAG "`+rangeTag+`") REMOVEFROM (0 1:2)`)
	b.cmd(`STORE 1:3 -FLAGS (\Flagged \Seen)`)
	got = a.cmd("NOOP")
	wantLines(t, "after -FLAGS", got, "* ESEARCH",
		`* ESEARCH (TAG "`+seqTag+`") ADDTO (0 1:2)`,
		`* ESEARCH (TAG "`+rangeTag+`") ADDTO (0 1:2)`)

	// A delivery while the session idles: EXISTS, then ADDTO with the
	// new sequence number.
	fmt.Fprintf(a.c, "i1 IDLE\r\n")
	if l := a.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	e.deliver(t, e.acct.ID, "INBOX", testMsg)
	var lines []string
	deadline := time.Now().Add(3 * time.Second)
	for indexOf(lines, "* ESEARCH") < 0 && time.Now().Before(deadline) {
		lines = append(lines, a.line())
	}
	fmt.Fprintf(a.c, "DONE\r\n")
	for l := a.line(); !strings.HasPrefix(l, "i1 "); l = a.line() {
		lines = append(lines, l)
	}
	wantLines(t, "in IDLE", lines, "* ESEARCH", `* ESEARCH (TAG "`+seqTag+`") ADDTO (0 4)`)
	if i, j := indexOf(lines, "* 4 EXISTS"), indexOf(lines, "* ESEARCH"); i < 0 || j < i {
		t.Errorf("ADDTO before EXISTS in IDLE: %q", lines)
	}

	// SELECT ends every context.
	a.cmd("SELECT INBOX")
	b.cmd(`STORE 1 +FLAGS (\Flagged)`)
	got = a.cmd("NOOP")
	wantLines(t, "after SELECT", got, "* ESEARCH")
	fmt.Fprintf(a.c, "%s SEARCH RETURN (UPDATE COUNT) ALL\r\n", seqTag)
	for l := a.line(); ; l = a.line() {
		if strings.HasPrefix(l, seqTag+" ") {
			if !strings.HasPrefix(l, seqTag+" OK") {
				t.Errorf("tag after SELECT: %q", l)
			}
			break
		}
	}
}

// TestContextSortUpdate: UID SORT and SORT RETURN (UPDATE) (CONTEXT=SORT)
// insert new results at their place in the sort order and remove
// results at theirs, runs together (RFC 5267 §4.3.3, §4.3.4).
func TestContextSortUpdate(t *testing.T) {
	e := newEnv(t, nil)
	a := contextSession(t, e, "b", "d", "f")
	b := contextSession(t, e)
	b.cmd("SELECT INBOX")

	got := a.cmd("UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNDELETED")
	uidTag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "UID SORT", got, "* ESEARCH", `* ESEARCH (TAG "`+uidTag+`") UID ALL 1:3`)
	got = a.cmd("SORT RETURN (UPDATE COUNT) (REVERSE SUBJECT) UTF-8 UNDELETED")
	seqTag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "SORT", got, "* ESEARCH", `* ESEARCH (TAG "`+seqTag+`") COUNT 3`)

	// New "a", "c", "e", "g" (UIDs 4 to 7): sorted a b c d e f g.
	for i, s := range []string{"a", "c", "e", "g"} {
		appendRaw(t, b, "Subject: "+s+"\r\n\r\nx\r\n", sortDay(10+i))
	}
	got = a.cmd("NOOP")
	wantLines(t, "after APPEND", got, "* ESEARCH",
		`* ESEARCH (TAG "`+uidTag+`") UID ADDTO (1 4 3 5 5 6 7 7)`,
		`* ESEARCH (TAG "`+seqTag+`") ADDTO (1 7 3 6 5 5 7 4)`)
	if i, j := indexOf(got, "* 7 EXISTS"), indexOf(got, "* ESEARCH"); i < 0 || j < i {
		t.Errorf("ADDTO before EXISTS: %q", got)
	}

	// "c" and "d" (UIDs 5 and 2) flagged \Deleted: one run each way.
	b.cmd(`UID STORE 2,5 +FLAGS (\Deleted)`)
	got = a.cmd("NOOP")
	wantLines(t, "after \\Deleted", got, "* ESEARCH",
		`* ESEARCH (TAG "`+uidTag+`") UID REMOVEFROM (3 5,2)`,
		`* ESEARCH (TAG "`+seqTag+`") REMOVEFROM (4 2,5)`)
	// "a" (UID 4, sequence number 4) expunged.
	b.cmd(`UID STORE 4 +FLAGS (\Deleted)`)
	b.cmd("UID EXPUNGE 4")
	got = a.cmd("NOOP")
	wantLines(t, "after EXPUNGE", got, "* ESEARCH",
		`* ESEARCH (TAG "`+uidTag+`") UID REMOVEFROM (1 4)`,
		`* ESEARCH (TAG "`+seqTag+`") REMOVEFROM (5 4)`)
	if i, j := indexOf(got, "* ESEARCH"), indexOf(got, "* 4 EXPUNGE"); i < 0 || j < i {
		t.Errorf("REMOVEFROM not before EXPUNGE: %q", got)
	}
	// What the contexts hold now is what a new SORT finds.
	got = a.cmd("UID SORT RETURN (ALL) (SUBJECT) UTF-8 UNDELETED")
	wantLines(t, "UID SORT again", got, "* ESEARCH", fmt.Sprintf(`* ESEARCH (TAG "t%d") UID ALL 1,6,3,7`, a.n))
}

// TestContextPartial: PARTIAL (RFC 5267 §4.4) on SEARCH and SORT: the
// range as written, the results in it (NIL past the end), reversed
// ranges; RFC 9394's ranges from the end, a second PARTIAL or ALL, and a
// PARTIAL without a range are BAD.
func TestContextPartial(t *testing.T) {
	e := newEnv(t, nil)
	a := contextSession(t, e, "e", "d", "c", "b", "a")
	for _, c := range []struct{ cmd, want string }{
		{"SEARCH RETURN (PARTIAL 2:3) ALL", `PARTIAL (2:3 2:3)`},
		{"UID SEARCH RETURN (PARTIAL 4:10) ALL", `UID PARTIAL (4:10 4:5)`},
		{"SEARCH RETURN (PARTIAL 3:1 COUNT) ALL", `COUNT 5 PARTIAL (3:1 1:3)`},
		{"SEARCH RETURN (PARTIAL 6:9) ALL", `PARTIAL (6:9 NIL)`},
		{"SEARCH RETURN (PARTIAL 1:1) SUBJECT nothing", `PARTIAL (1:1 NIL)`},
		{"SORT RETURN (PARTIAL 1:2) (SUBJECT) UTF-8 ALL", `PARTIAL (1:2 5,4)`},
		{"UID SORT RETURN (PARTIAL 2:4 MIN) (SUBJECT) UTF-8 ALL", `UID MIN 5 PARTIAL (2:4 4,3,2)`},
		{"SORT RETURN (CONTEXT) (SUBJECT) UTF-8 ALL", `ALL 5,4,3,2,1`},
	} {
		got := a.cmd(c.cmd)
		want := fmt.Sprintf(`* ESEARCH (TAG "t%d") %s`, a.n, c.want)
		wantLines(t, c.cmd, got, "* ESEARCH", want)
	}
	for _, c := range []string{
		"SEARCH RETURN (PARTIAL -1:-2) ALL",
		"SEARCH RETURN (PARTIAL 1:2 ALL) ALL",
		"SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
		"SEARCH RETURN (PARTIAL) ALL",
		"SEARCH RETURN (PARTIAL 0:2) ALL",
		"SEARCH RETURN (PARTIAL 1:*) ALL",
		"SEARCH RETURN (UPDATE UPDATE) ALL",
		"SORT RETURN (SAVE) (SUBJECT) UTF-8 ALL",
		"SORT RETURN (PARTIAL 1:2 ALL) (SUBJECT) UTF-8 ALL",
	} {
		if got := a.cmd(c); !strings.Contains(got[len(got)-1], " BAD ") {
			t.Errorf("%s: %q", c, got)
		}
	}
}

// TestContextLimit: past maxContexts updating searches (maxSortContexts
// for SORT) the search is answered with an untagged NO [NOUPDATE "tag"]
// and no updates (RFC 5267 §4.3.1); CANCELUPDATE frees a place.
func TestContextLimit(t *testing.T) {
	e := newEnv(t, nil)
	a := contextSession(t, e, "one")
	b := contextSession(t, e)

	for range maxSortContexts {
		if got := a.cmd("SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL"); indexOf(got, "* NO") >= 0 {
			t.Fatalf("SORT refused early: %q", got)
		}
	}
	got := a.cmd("SORT RETURN (UPDATE COUNT) (SUBJECT) UTF-8 ALL")
	tag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "SORT past the limit", got, "* NO", `* NO [NOUPDATE "`+tag+`"] Too many updating searches`)
	wantLines(t, "SORT past the limit", got, "* ESEARCH", `* ESEARCH (TAG "`+tag+`") COUNT 1`)
	if !strings.Contains(got[len(got)-1], " OK ") {
		t.Errorf("SORT past the limit: %q", got)
	}
	var first string
	for i := maxSortContexts; i < maxContexts; i++ {
		if got := a.cmd("SEARCH RETURN (UPDATE) ALL"); indexOf(got, "* NO") >= 0 {
			t.Fatalf("SEARCH %d refused: %q", i, got)
		}
		if first == "" {
			first = fmt.Sprintf("t%d", a.n)
		}
	}
	got = a.cmd("UID SEARCH RETURN (UPDATE) ALL")
	refused := fmt.Sprintf("t%d", a.n)
	wantLines(t, "SEARCH past the limit", got, "* NO", `* NO [NOUPDATE "`+refused+`"] Too many updating searches`)

	appendRaw(t, b, "Subject: two\r\n\r\nx\r\n", sortDay(2))
	got = a.cmd("NOOP")
	if n := len(untaggedOf(got, "* ESEARCH")); n != maxContexts {
		t.Errorf("%d updates for %d contexts: %q", n, maxContexts, got)
	}
	if strings.Contains(strings.Join(got, "\n"), `"`+refused+`"`) {
		t.Errorf("refused search updated: %q", got)
	}
	a.cmd(`CANCELUPDATE "` + first + `"`)
	if got := a.cmd("SEARCH RETURN (UPDATE) ALL"); indexOf(got, "* NO") >= 0 {
		t.Errorf("SEARCH after CANCELUPDATE refused: %q", got)
	}
}

// TestContextSearchStore: updating searches whose program the store
// answers (a header key, with its own UID set) are matched again as the
// view ones are; "*" in the program's UID set is the highest UID when the
// command ran, so a later message is not in it.
func TestContextSearchStore(t *testing.T) {
	e := newEnv(t, nil)
	a := contextSession(t, e, "keep", "keep", "drop")
	b := contextSession(t, e)
	b.cmd("SELECT INBOX")

	got := a.cmd("UID SEARCH RETURN (UPDATE) SUBJECT keep UNFLAGGED")
	subjTag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "SUBJECT", got, "* ESEARCH", `* ESEARCH (TAG "`+subjTag+`") UID ALL 1:2`)
	got = a.cmd("UID SEARCH RETURN (UPDATE COUNT) UID 2:* SUBJECT keep")
	uidTag := fmt.Sprintf("t%d", a.n)
	wantLines(t, "UID 2:*", got, "* ESEARCH", `* ESEARCH (TAG "`+uidTag+`") UID COUNT 1`)

	appendRaw(t, b, "Subject: keep\r\n\r\nx\r\n", sortDay(4))
	appendRaw(t, b, "Subject: drop\r\n\r\nx\r\n", sortDay(5))
	got = a.cmd("NOOP")
	wantLines(t, "after APPEND", got, "* ESEARCH", `* ESEARCH (TAG "`+subjTag+`") UID ADDTO (0 4)`)
	b.cmd(`UID STORE 2:5 +FLAGS (\Flagged)`)
	got = a.cmd("NOOP")
	wantLines(t, "after STORE", got, "* ESEARCH", `* ESEARCH (TAG "`+subjTag+`") UID REMOVEFROM (0 2,4)`)
	b.cmd(`UID STORE 2 +FLAGS (\Deleted)`)
	b.cmd("EXPUNGE")
	got = a.cmd("NOOP")
	wantLines(t, "after EXPUNGE", got, "* ESEARCH", `* ESEARCH (TAG "`+uidTag+`") UID REMOVEFROM (0 2)`)
}
