package imapd

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// condEnv is a server with three messages in bob's INBOX and a raw
// session logged in as bob.
type condEnv struct {
	*testEnv
	t    *testing.T
	mbID int64
}

func newCondEnv(t *testing.T) *condEnv {
	t.Helper()
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(t, e.acct.ID, "INBOX", strings.Replace(testMsg, "<1@town.com>", fmt.Sprintf("<%d@town.com>", i+1), 1))
	}
	mb, err := e.st.MailboxByName(context.Background(), e.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ce := &condEnv{testEnv: e, t: t, mbID: mb.ID}
	// A first session claims \Recent, so FLAGS shows only stored flags.
	r := ce.login()
	ok(t, r, "SELECT INBOX")
	ok(t, r, "LOGOUT")
	return ce
}

// login opens a raw session as bob.
func (e *condEnv) login() *raw {
	e.t.Helper()
	r := dialRaw(e.t, e.addr)
	if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(last(got), "OK") {
		e.t.Fatalf("LOGIN: %q", got)
	}
	return r
}

// highest is the INBOX's mod-sequence in the store.
func (e *condEnv) highest() uint64 {
	e.t.Helper()
	m, err := e.st.MailboxModSeq(context.Background(), e.mbID)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// modseqs are the mod-sequences of the INBOX's messages, by UID.
func (e *condEnv) modseqs() map[uint32]uint64 {
	e.t.Helper()
	_, states, err := e.st.MessageStates(context.Background(), e.mbID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[uint32]uint64{}
	for _, s := range states {
		out[s.UID] = s.ModSeq
	}
	return out
}

func last(lines []string) string { return lines[len(lines)-1] }

// ok fails unless the command's tagged reply is OK.
func ok(t *testing.T, r *raw, line string) []string {
	t.Helper()
	got := r.cmd(line)
	if f := strings.Fields(last(got)); len(f) < 2 || f[1] != "OK" {
		t.Fatalf("%s: %q", line, got)
	}
	return got
}

// TestCondStoreSelect: CONDSTORE is advertised, and SELECT and EXAMINE
// give the mailbox's HIGHESTMODSEQ, with or without the (CONDSTORE)
// parameter (RFC 7162 §3.1.2.1, §3.1.8).
func TestCondStoreSelect(t *testing.T) {
	e := newCondEnv(t)
	r := e.login()
	if got := r.cmd("CAPABILITY"); !slices.Contains(strings.Fields(got[0]), "CONDSTORE") {
		t.Fatalf("CAPABILITY: %q", got)
	}
	want := fmt.Sprintf("* OK [HIGHESTMODSEQ %d]", e.highest())
	for _, cmd := range []string{"SELECT INBOX", "EXAMINE INBOX", "SELECT INBOX (CONDSTORE)", "EXAMINE INBOX (CONDSTORE)"} {
		got := ok(t, r, cmd)
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("%s: no %q in %q", cmd, want, got)
		}
	}
	if got := last(r.cmd("SELECT INBOX (QRESYNC (1 1))")); !strings.Contains(got, " BAD ") {
		t.Errorf("SELECT (QRESYNC) without QRESYNC: %q", got)
	}
}

// TestCondStoreStatus: STATUS HIGHESTMODSEQ (RFC 7162 §3.1.6).
func TestCondStoreStatus(t *testing.T) {
	e := newCondEnv(t)
	r := e.login()
	got := ok(t, r, "STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
	if want := fmt.Sprintf("* STATUS INBOX (MESSAGES 3 HIGHESTMODSEQ %d)", e.highest()); got[0] != want {
		t.Errorf("STATUS: %q, want %q", got[0], want)
	}
}

// unsolicitedFetch has session a see a flag change that session b
// makes, and returns a's untagged FETCH for it.
func unsolicitedFetch(t *testing.T, e *condEnv, a *raw, flag string) string {
	t.Helper()
	b := e.login()
	ok(t, b, "SELECT INBOX")
	ok(t, b, "STORE 1 +FLAGS ("+flag+")")
	for _, l := range ok(t, a, "NOOP") {
		if strings.HasPrefix(l, "* 1 FETCH") {
			return l
		}
	}
	t.Fatalf("no FETCH for the change of message 1")
	return ""
}

// TestCondStoreEnabling: after a CONDSTORE-enabling command, every
// untagged FETCH for a flag change carries MODSEQ; before, none does
// (RFC 7162 §3.1, §3.1.4). ENABLE CONDSTORE answers ENABLED.
func TestCondStoreEnabling(t *testing.T) {
	enablers := []struct{ name, before, after string }{
		{"ENABLE", "ENABLE CONDSTORE", "SELECT INBOX"},
		{"SELECT (CONDSTORE)", "", "SELECT INBOX (CONDSTORE)"},
		{"STATUS", "STATUS INBOX (HIGHESTMODSEQ)", "SELECT INBOX"},
		{"FETCH MODSEQ", "", "SELECT INBOX\r\nx FETCH 1 MODSEQ"},
		{"SEARCH MODSEQ", "", "SELECT INBOX\r\nx SEARCH MODSEQ 1"},
	}
	for _, en := range enablers {
		t.Run(en.name, func(t *testing.T) {
			e := newCondEnv(t)
			a := e.login()
			if en.before != "" {
				got := ok(t, a, en.before)
				if en.name == "ENABLE" && got[0] != "* ENABLED CONDSTORE" {
					t.Errorf("ENABLE: %q", got)
				}
			}
			cmds := strings.Split(en.after, "\r\nx ")
			for _, c := range cmds {
				ok(t, a, c)
			}
			got := unsolicitedFetch(t, e, a, `\Flagged`)
			want := fmt.Sprintf(`* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (%d))`, e.modseqs()[1])
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	// Without an enabling command: no MODSEQ.
	e := newCondEnv(t)
	a := e.login()
	ok(t, a, "SELECT INBOX")
	if got := unsolicitedFetch(t, e, a, `\Flagged`); strings.Contains(got, "MODSEQ") {
		t.Errorf("MODSEQ before CONDSTORE was enabled: %q", got)
	}
}

// TestCondStoreFetch: FETCH MODSEQ gives each message's mod-sequence, and
// CHANGEDSINCE only the messages changed since, with MODSEQ implied (RFC
// 7162 §3.1.4.1, example 5).
func TestCondStoreFetch(t *testing.T) {
	e := newCondEnv(t)
	r := e.login()
	ok(t, r, "SELECT INBOX")
	ms := e.modseqs()
	got := ok(t, r, "FETCH 1:* (FLAGS MODSEQ)")
	for i := uint32(1); i <= 3; i++ {
		want := fmt.Sprintf(`* %d FETCH (UID %d FLAGS () MODSEQ (%d))`, i, i, ms[i])
		if got[i-1] != want {
			t.Errorf("FETCH MODSEQ: %q, want %q", got[i-1], want)
		}
	}
	before := e.highest()
	ok(t, r, `STORE 2 +FLAGS.SILENT (\Seen)`)
	got = ok(t, r, fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", before))
	want := fmt.Sprintf(`* 2 FETCH (UID 2 FLAGS (\Seen) MODSEQ (%d))`, e.modseqs()[2])
	if len(got) != 2 || got[0] != want {
		t.Errorf("FETCH CHANGEDSINCE: %q, want [%q, OK]", got, want)
	}
	got = ok(t, r, fmt.Sprintf("UID FETCH 1:* (UID) (CHANGEDSINCE %d)", e.highest()))
	if len(got) != 1 {
		t.Errorf("UID FETCH CHANGEDSINCE the highest: %q, want only OK", got)
	}
}

// TestCondStoreUnchangedSince: STORE (UNCHANGEDSINCE n) changes only the
// messages not changed after n, names the others in OK [MODIFIED], in
// sequence numbers or UIDs as the command, and reports MODSEQ even with
// .SILENT (RFC 7162 §3.1.3, examples 7, 8 and 10).
func TestCondStoreUnchangedSince(t *testing.T) {
	e := newCondEnv(t)
	r := e.login()
	ok(t, r, "SELECT INBOX")
	base := e.highest()
	// Another session changes message 2 after base.
	b := e.login()
	ok(t, b, "SELECT INBOX")
	ok(t, b, `STORE 2 +FLAGS (\Answered)`)

	got := ok(t, r, fmt.Sprintf(`STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\Deleted)`, base))
	ms := e.modseqs()
	want := []string{
		fmt.Sprintf(`* 1 FETCH (UID 1 FLAGS (\Deleted) MODSEQ (%d))`, ms[1]),
		fmt.Sprintf(`* 3 FETCH (UID 3 FLAGS (\Deleted) MODSEQ (%d))`, ms[3]),
	}
	if !slices.Equal(got[:len(got)-1], want) && !slices.Equal(got[:2], want) {
		t.Errorf("STORE UNCHANGEDSINCE: %q, want %q first", got, want)
	}
	if !strings.Contains(last(got), "OK [MODIFIED 2]") {
		t.Errorf("STORE UNCHANGEDSINCE: %q, want OK [MODIFIED 2]", last(got))
	}
	if _, states, _ := e.st.MessageStates(context.Background(), e.mbID); slices.Contains(states[1].Flags, `\Deleted`) {
		t.Errorf("message 2 was changed: %v", states[1].Flags)
	}

	// .SILENT: the new MODSEQ still, without FLAGS (example 8); UID
	// STORE names UIDs.
	now := e.highest()
	got = ok(t, r, fmt.Sprintf(`UID STORE 1,3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\Seen)`, now))
	ms = e.modseqs()
	want = []string{
		fmt.Sprintf(`* 1 FETCH (UID 1 MODSEQ (%d))`, ms[1]),
		fmt.Sprintf(`* 3 FETCH (UID 3 MODSEQ (%d))`, ms[3]),
	}
	if !slices.Equal(got[:len(got)-1], want) || strings.Contains(last(got), "MODIFIED") {
		t.Errorf("UID STORE .SILENT: %q, want %q and a plain OK", got, want)
	}
	got = ok(t, r, fmt.Sprintf(`UID STORE 1:3 (UNCHANGEDSINCE %d) -FLAGS (\Seen)`, now))
	if !strings.Contains(last(got), "OK [MODIFIED 1,3]") {
		t.Errorf("UID STORE UNCHANGEDSINCE: %q, want OK [MODIFIED 1,3]", got)
	}

	// UNCHANGEDSINCE 0 fails for every message (§3.1.3).
	before := e.modseqs()
	got = ok(t, r, `STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\Flagged)`)
	if !strings.Contains(last(got), "OK [MODIFIED 1:3]") || len(got) != 1 {
		t.Errorf("STORE UNCHANGEDSINCE 0: %q, want only OK [MODIFIED 1:3]", got)
	}
	if after := e.modseqs(); !maps.Equal(before, after) {
		t.Errorf("UNCHANGEDSINCE 0 changed messages: %v → %v", before, after)
	}
}

// TestCondStoreSearch: SEARCH MODSEQ finds the messages whose
// mod-sequence is at least the one given, and the result carries the
// highest of theirs (RFC 7162 §3.1.5, example 13); ESEARCH's MODSEQ is
// that of the messages it returns (RFC 4731 §3.2).
func TestCondStoreSearch(t *testing.T) {
	e := newCondEnv(t)
	r := e.login()
	ok(t, r, "SELECT INBOX")
	ms := e.modseqs()
	ok(t, r, `STORE 1 +FLAGS (\Flagged)`)
	ms1 := e.modseqs()[1]

	got := ok(t, r, fmt.Sprintf("SEARCH MODSEQ %d", ms[2]))
	if want := fmt.Sprintf("* SEARCH 1 2 3 (MODSEQ %d)", ms1); got[0] != want {
		t.Errorf("SEARCH MODSEQ: %q, want %q", got[0], want)
	}
	got = ok(t, r, fmt.Sprintf("SEARCH MODSEQ %d UNFLAGGED", ms[2]))
	if want := fmt.Sprintf("* SEARCH 2 3 (MODSEQ %d)", ms[3]); got[0] != want {
		t.Errorf("SEARCH MODSEQ UNFLAGGED: %q, want %q", got[0], want)
	}
	got = ok(t, r, fmt.Sprintf(`SEARCH OR MODSEQ %d KEYWORD nope`, ms1+1))
	if got[0] != "* SEARCH" {
		t.Errorf("SEARCH with no match: %q, want no MODSEQ", got[0])
	}
	got = ok(t, r, fmt.Sprintf("UID SEARCH RETURN (MIN) MODSEQ %d", ms[2]))
	if want := fmt.Sprintf(`UID MIN 1 MODSEQ %d`, ms1); !strings.HasSuffix(got[0], want) {
		t.Errorf("ESEARCH MIN: %q, want … %q", got[0], want)
	}
	got = ok(t, r, fmt.Sprintf("UID SEARCH RETURN (MAX) MODSEQ %d", ms[2]))
	if want := fmt.Sprintf(`UID MAX 3 MODSEQ %d`, ms[3]); !strings.HasSuffix(got[0], want) {
		t.Errorf("ESEARCH MAX: %q, want … %q", got[0], want)
	}
	got = ok(t, r, "SEARCH RETURN (ALL) MODSEQ 0")
	if want := fmt.Sprintf(`ALL 1:3 MODSEQ %d`, ms1); !strings.HasSuffix(got[0], want) {
		t.Errorf("ESEARCH ALL: %q, want … %q", got[0], want)
	}
}
