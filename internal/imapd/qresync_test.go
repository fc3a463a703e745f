package imapd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// qrEnv is a server with six messages in bob's INBOX (UIDs 1 to 6) and
// the INBOX's UIDVALIDITY and mod-sequence before any change.
type qrEnv struct {
	*condEnv
	uidValidity uint32
	base        uint64
}

func newQREnv(t *testing.T) *qrEnv {
	t.Helper()
	ce := newCondEnv(t)
	for i := 3; i < 6; i++ {
		ce.deliver(t, ce.acct.ID, "INBOX", strings.Replace(testMsg, "<1@town.com>", fmt.Sprintf("<%d@town.com>", i+1), 1))
	}
	r := ce.login()
	ok(t, r, "SELECT INBOX") // claims \Recent of the new three
	ok(t, r, "LOGOUT")
	mb, err := ce.st.MailboxByName(context.Background(), ce.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return &qrEnv{condEnv: ce, uidValidity: mb.UIDValidity, base: ce.highest()}
}

// qrLogin opens a session as bob with QRESYNC enabled.
func (e *qrEnv) qrLogin() *raw {
	e.t.Helper()
	r := e.login()
	if got := ok(e.t, r, "ENABLE QRESYNC"); got[0] != "* ENABLED QRESYNC" {
		e.t.Fatalf("ENABLE QRESYNC: %q", got)
	}
	return r
}

// changeElsewhere has another session flag UID 2 \Seen, expunge UIDs 3
// and 5, and a message arrive (UID 7).
func (e *qrEnv) changeElsewhere() {
	e.t.Helper()
	b := e.login()
	ok(e.t, b, "SELECT INBOX")
	ok(e.t, b, `UID STORE 2 +FLAGS (\Seen)`)
	ok(e.t, b, `UID STORE 3,5 +FLAGS (\Deleted)`)
	ok(e.t, b, "EXPUNGE")
	ok(e.t, b, "LOGOUT")
	e.deliver(e.t, e.acct.ID, "INBOX", strings.Replace(testMsg, "<1@town.com>", "<7@town.com>", 1))
}

// after returns the lines of got that follow the one starting with
// prefix, without the tagged reply.
func after(t *testing.T, got []string, prefix string) []string {
	t.Helper()
	i := slices.IndexFunc(got, func(l string) bool { return strings.HasPrefix(l, prefix) })
	if i < 0 {
		t.Fatalf("no %q in %q", prefix, got)
	}
	return got[i+1 : len(got)-1]
}

// TestQResyncEnable: QRESYNC is advertised; ENABLE QRESYNC answers
// ENABLED and turns CONDSTORE on with it (RFC 7162 §3.2.3), so untagged
// FETCHes carry MODSEQ; ENABLED names CONDSTORE only when it was asked
// for.
func TestQResyncEnable(t *testing.T) {
	e := newQREnv(t)
	r := e.login()
	if got := r.cmd("CAPABILITY"); !slices.Contains(strings.Fields(got[0]), "QRESYNC") {
		t.Fatalf("CAPABILITY: %q", got)
	}
	if got := ok(t, r, "ENABLE QRESYNC CONDSTORE"); got[0] != "* ENABLED QRESYNC CONDSTORE" {
		t.Errorf("ENABLE QRESYNC CONDSTORE: %q", got)
	}
	a := e.qrLogin()
	ok(t, a, "SELECT INBOX")
	got := unsolicitedFetch(t, e.condEnv, a, `\Flagged`)
	if want := fmt.Sprintf(`* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (%d))`, e.modseqs()[1]); got != want {
		t.Errorf("after ENABLE QRESYNC: %q, want %q", got, want)
	}
	// Enabled again: nothing new to say (RFC 5161 §3.2).
	c := e.qrLogin()
	if got := ok(t, c, "ENABLE QRESYNC CONDSTORE"); got[0] != "* ENABLED" {
		t.Errorf("ENABLE twice: %q", got)
	}
}

// TestQResyncSelect: SELECT and EXAMINE with the QRESYNC parameter give,
// after the usual responses, VANISHED (EARLIER) for the UIDs expunged
// since the client's mod-sequence and FETCH (UID FLAGS MODSEQ) for the
// messages changed or added since, only for the known UIDs when the
// client lists them; a UIDVALIDITY mismatch is a plain SELECT (RFC 7162
// §3.2.5, §3.2.5.1).
func TestQResyncSelect(t *testing.T) {
	e := newQREnv(t)
	e.changeElsewhere()
	ms := e.modseqs()
	hms := fmt.Sprintf("* OK [HIGHESTMODSEQ %d]", e.highest())
	fetch2 := fmt.Sprintf(`* 2 FETCH (UID 2 FLAGS (\Seen) MODSEQ (%d))`, ms[2])
	a := e.qrLogin()
	for _, tc := range []struct {
		name, params string
		want         []string
	}{
		{"all", fmt.Sprintf("%d %d", e.uidValidity, e.base), []string{
			"* VANISHED (EARLIER) 3,5",
			fetch2,
			// New since: \Recent, which this first SELECT claims.
			fmt.Sprintf(`* 5 FETCH (UID 7 FLAGS (\Recent) MODSEQ (%d))`, ms[7]),
		}},
		{"known", fmt.Sprintf("%d %d 1:4", e.uidValidity, e.base), []string{"* VANISHED (EARLIER) 3", fetch2}},
		{"known past UIDNEXT", fmt.Sprintf("%d %d 1:100", e.uidValidity, e.base), []string{
			"* VANISHED (EARLIER) 3,5", fetch2,
			fmt.Sprintf(`* 5 FETCH (UID 7 FLAGS () MODSEQ (%d))`, ms[7]),
		}},
		{"seq-match-data", fmt.Sprintf("%d %d 1:6 (1:3 1:3)", e.uidValidity, e.base), []string{
			"* VANISHED (EARLIER) 3,5", fetch2,
		}},
		{"since the flag change", fmt.Sprintf("%d %d", e.uidValidity, ms[2]), []string{
			"* VANISHED (EARLIER) 3,5",
			fmt.Sprintf(`* 5 FETCH (UID 7 FLAGS () MODSEQ (%d))`, ms[7]),
		}},
		{"up to date", fmt.Sprintf("%d %d", e.uidValidity, e.highest()), nil},
		{"UIDVALIDITY mismatch", fmt.Sprintf("%d %d", e.uidValidity+1, e.base), nil},
	} {
		got := ok(t, a, fmt.Sprintf("SELECT INBOX (QRESYNC (%s))", tc.params))
		if rest := after(t, got, hms); !slices.Equal(rest, tc.want) {
			t.Errorf("%s: after HIGHESTMODSEQ %q, want %q", tc.name, rest, tc.want)
		}
		ok(t, a, "UNSELECT")
	}
	// EXAMINE answers the same way.
	got := ok(t, a, fmt.Sprintf("EXAMINE INBOX (QRESYNC (%d %d 1:4))", e.uidValidity, e.base))
	if rest := after(t, got, hms); !slices.Equal(rest, []string{"* VANISHED (EARLIER) 3", fetch2}) {
		t.Errorf("EXAMINE: %q", rest)
	}
	if !strings.Contains(last(got), "OK [READ-ONLY]") {
		t.Errorf("EXAMINE: %q", last(got))
	}
}

// TestQResyncSelectBad: the QRESYNC parameter is BAD unless QRESYNC was
// enabled (RFC 7162 §3.2.5), with "*" in its sets or with seq-match-data
// whose two sets do not pair up (§7, §3.2.5.2); a BAD SELECT leaves the
// selected mailbox selected; after UNAUTHENTICATE QRESYNC is off again.
func TestQResyncSelectBad(t *testing.T) {
	e := newQREnv(t)
	r := e.login()
	ok(t, r, "ENABLE CONDSTORE")
	if got := last(r.cmd(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", e.uidValidity, e.base))); !strings.Contains(got, " BAD ") {
		t.Errorf("SELECT (QRESYNC) with CONDSTORE only: %q", got)
	}
	a := e.qrLogin()
	ok(t, a, "SELECT INBOX")
	for _, p := range []string{"1:*", "1:6 (1:* 1:3)", "1:6 (1:3 1:*)", "1:6 (1:3 1:2)", "1:6 (1,2 1:3)"} {
		got := a.cmd(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d %s))", e.uidValidity, e.base, p))
		if !strings.Contains(last(got), " BAD ") || len(got) != 1 {
			t.Errorf("QRESYNC (… %s): %q, want only BAD", p, got)
		}
	}
	ok(t, a, "FETCH 1 FLAGS") // still selected

	// UNAUTHENTICATE undoes ENABLE (RFC 8437 §3).
	ok(t, a, "UNAUTHENTICATE")
	ok(t, a, `LOGIN bob@hill.com "`+testPassword+`"`)
	if got := last(a.cmd(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", e.uidValidity, e.base))); !strings.Contains(got, " BAD ") {
		t.Errorf("SELECT (QRESYNC) after UNAUTHENTICATE: %q", got)
	}
}

// TestQResyncVanishedUpdates: once QRESYNC is enabled, every expunge the
// client is told of is a VANISHED of UIDs (RFC 7162 §3.2.10): EXPUNGE and
// UID EXPUNGE (whose tagged OK carries HIGHESTMODSEQ, §3.2.7, §3.2.9),
// MOVE, and expunges of other sessions seen at NOOP and in IDLE; CLOSE
// says nothing (§3.2.8). Without QRESYNC they stay EXPUNGE.
func TestQResyncVanishedUpdates(t *testing.T) {
	e := newQREnv(t)
	a := e.qrLogin()
	ok(t, a, "SELECT INBOX")
	ok(t, a, `UID STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	got := ok(t, a, "EXPUNGE")
	want := []string{"* VANISHED 1,3", fmt.Sprintf("%s OK [HIGHESTMODSEQ %d] EXPUNGE completed", strings.Fields(last(got))[0], e.highest())}
	if !slices.Equal(got, want) {
		t.Errorf("EXPUNGE: %q, want %q", got, want)
	}
	ok(t, a, `UID STORE 2,4 +FLAGS.SILENT (\Deleted)`)
	got = ok(t, a, "UID EXPUNGE 4")
	if got[0] != "* VANISHED 4" || !strings.Contains(last(got), fmt.Sprintf("OK [HIGHESTMODSEQ %d]", e.highest())) {
		t.Errorf("UID EXPUNGE: %q", got)
	}
	got = ok(t, a, "UID MOVE 5 Trash")
	if !slices.Contains(got, "* VANISHED 5") || slices.ContainsFunc(got, func(l string) bool { return strings.HasSuffix(l, " EXPUNGE") }) ||
		!strings.Contains(last(got), fmt.Sprintf("OK [HIGHESTMODSEQ %d]", e.highest())) {
		t.Errorf("MOVE: %q", got)
	}

	// Another session's expunge, at NOOP and in IDLE.
	b := e.login()
	ok(t, b, "SELECT INBOX")
	ok(t, b, `UID STORE 6 +FLAGS.SILENT (\Deleted)`)
	ok(t, b, "UID EXPUNGE 6")
	if got := ok(t, a, "NOOP"); !slices.Contains(got, "* VANISHED 6") {
		t.Errorf("NOOP: %q", got)
	}
	e.deliver(t, e.acct.ID, "INBOX", testMsg) // UID 7
	ok(t, a, "NOOP")
	ok(t, b, "NOOP")
	fmt.Fprintf(a.c, "i1 IDLE\r\n")
	if l := a.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	ok(t, b, `UID STORE 7 +FLAGS.SILENT (\Deleted)`)
	ok(t, b, "UID EXPUNGE 7")
	for l := a.line(); l != "* VANISHED 7"; l = a.line() {
		if strings.HasSuffix(l, " EXPUNGE") {
			t.Errorf("IDLE: %q", l)
		}
	}
	fmt.Fprintf(a.c, "DONE\r\n")
	if l := a.line(); !strings.HasPrefix(l, "i1 OK") {
		t.Errorf("DONE: %q", l)
	}

	// CLOSE expunges UID 2 and says nothing.
	if got := ok(t, a, "CLOSE"); len(got) != 1 {
		t.Errorf("CLOSE: %q", got)
	}

	// Without QRESYNC: EXPUNGE by sequence number.
	e.deliver(t, e.acct.ID, "INBOX", testMsg) // UID 8
	c := e.login()
	ok(t, c, "SELECT INBOX")
	ok(t, c, `STORE 1 +FLAGS.SILENT (\Deleted)`)
	if got := ok(t, c, "EXPUNGE"); got[0] != "* 1 EXPUNGE" || strings.Contains(last(got), "HIGHESTMODSEQ") {
		t.Errorf("EXPUNGE without QRESYNC: %q", got)
	}
}

// TestQResyncFetchVanished: UID FETCH with (CHANGEDSINCE m VANISHED) gives
// VANISHED (EARLIER) for the UIDs of the set expunged since m, before the
// FETCHes of those changed since m; VANISHED is BAD on FETCH, without
// CHANGEDSINCE and without QRESYNC enabled (RFC 7162 §3.2.6).
func TestQResyncFetchVanished(t *testing.T) {
	e := newQREnv(t)
	a := e.qrLogin()
	ok(t, a, "SELECT INBOX")
	e.changeElsewhere()
	ok(t, a, "NOOP") // told of everything: VANISHED 3,5, EXISTS
	ms := e.modseqs()
	got := ok(t, a, fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", e.base))
	want := []string{
		"* VANISHED (EARLIER) 3,5",
		fmt.Sprintf(`* 2 FETCH (UID 2 FLAGS (\Seen) MODSEQ (%d))`, ms[2]),
		fmt.Sprintf(`* 5 FETCH (UID 7 FLAGS (\Recent) MODSEQ (%d))`, ms[7]),
	}
	if !slices.Equal(got[:len(got)-1], want) {
		t.Errorf("UID FETCH 1:* VANISHED: %q, want %q", got, want)
	}
	got = ok(t, a, fmt.Sprintf("UID FETCH 4:6 (FLAGS) (VANISHED CHANGEDSINCE %d)", e.base))
	if !slices.Equal(got[:len(got)-1], []string{"* VANISHED (EARLIER) 5"}) {
		t.Errorf("UID FETCH 4:6 VANISHED: %q", got)
	}
	got = ok(t, a, fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", e.base))
	if slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "VANISHED") }) {
		t.Errorf("UID FETCH CHANGEDSINCE without VANISHED: %q", got)
	}
	for _, cmd := range []string{
		fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", e.base),
		"UID FETCH 1:* (FLAGS) (VANISHED)",
	} {
		if got := a.cmd(cmd); !strings.Contains(last(got), " BAD ") || len(got) != 1 {
			t.Errorf("%s: %q, want only BAD", cmd, got)
		}
	}
	c := e.login()
	ok(t, c, "SELECT INBOX (CONDSTORE)")
	if got := last(c.cmd(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", e.base))); !strings.Contains(got, " BAD ") {
		t.Errorf("VANISHED without QRESYNC: %q", got)
	}
}

// TestQResyncClosed: a SELECT or EXAMINE that replaces the selected
// mailbox says OK [CLOSED] before anything of the new one (RFC 7162
// §3.2.11), to QRESYNC, CONDSTORE-only and plain clients alike, and a
// resynchronizing SELECT of the same mailbox reports its changes after it.
func TestQResyncClosed(t *testing.T) {
	e := newQREnv(t)
	for _, enable := range []string{"", "ENABLE CONDSTORE", "ENABLE QRESYNC"} {
		r := e.login()
		if enable != "" {
			ok(t, r, enable)
		}
		ok(t, r, "SELECT INBOX")
		for _, cmd := range []string{"SELECT Trash", "EXAMINE INBOX", "SELECT INBOX"} {
			if got := ok(t, r, cmd); !strings.HasPrefix(got[0], "* OK [CLOSED]") {
				t.Errorf("%q then %s: %q", enable, cmd, got)
			}
		}
	}
	a := e.qrLogin()
	ok(t, a, "SELECT INBOX")
	e.changeElsewhere()
	got := ok(t, a, fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d 1:6))", e.uidValidity, e.base))
	if !strings.HasPrefix(got[0], "* OK [CLOSED]") || !slices.Contains(got, "* VANISHED (EARLIER) 3,5") {
		t.Errorf("reselect: %q", got)
	}
	if slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "* VANISHED 3") }) {
		t.Errorf("reselect reported the old mailbox's expunges: %q", got)
	}
}
