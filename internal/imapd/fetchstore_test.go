package imapd

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pail/internal/imapmsg"
	"pail/internal/store"
)

// TestEachMessageEqualsKeptWire: the one streamed query FETCH reads
// (store.EachMessage) gives, for every message of the test corpora in one
// mailbox, in UID order, the wire forms store.KeptWire gives (which
// TestKeptWireEqualsFile compares with the files), for a dense and a
// sparse set, and skips UIDs not asked for.
func TestEachMessageEqualsKeptWire(t *testing.T) {
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
	var uids []uint32
	var mailbox int64
	for _, raw := range corpus(t) {
		sp, err := st.NewBody()
		if err != nil {
			t.Fatal(err)
		}
		sp.Write(raw)
		ds, err := st.DeliverBody(ctx, sp, []store.Delivery{{AccountID: acct.ID}})
		if err != nil {
			t.Fatal(err)
		}
		uids, mailbox = append(uids, ds[0].UID), ds[0].MailboxID
	}
	slices.Sort(uids)
	sparse := []uint32{uids[0], uids[len(uids)/2], uids[len(uids)-1]}
	for _, set := range [][]uint32{uids, sparse} {
		for _, kept := range []store.KeptForms{store.KeptEnvelope, store.KeptStructure} {
			want, err := st.KeptWire(ctx, mailbox, set, kept == store.KeptStructure)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint32
			err = st.EachMessage(ctx, mailbox, set, kept, func(m *store.Message, d imapmsg.Described) error {
				got = append(got, m.UID)
				w := want[m.UID]
				if kept == store.KeptEnvelope {
					w.BodyStructure, w.Body = nil, nil
				}
				if !reflect.DeepEqual(d, w) {
					t.Errorf("UID %d (%v): streamed %+v, KeptWire %+v", m.UID, kept, d, w)
				}
				return nil
			})
			if err != nil || !slices.Equal(got, set) {
				t.Fatalf("EachMessage: %v, UIDs %v, want %v", err, got, set)
			}
		}
	}
}

// TestStoreReportsOtherSessionsChanges: a session's own STORE lets its
// view skip reading its changes back only when the view was current; a
// change another session made just before is still reported by the
// STORE's end, and a FETCH sees both.
func TestStoreReportsOtherSessionsChanges(t *testing.T) {
	e := newEnv(t, nil)
	for range 3 {
		e.deliver(t, e.acct.ID, "INBOX", "Subject: x\r\n\r\nhi\r\n")
	}
	a, b := dialRaw(t, e.addr), dialRaw(t, e.addr)
	for _, r := range []*raw{a, b} {
		r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
		r.cmd("SELECT INBOX")
	}
	a.cmd(`STORE 1 +FLAGS (\Flagged)`)
	b.cmd(`STORE 2 +FLAGS (\Answered)`)
	got := strings.Join(a.cmd(`STORE 3 +FLAGS.SILENT (\Seen)`), "\n")
	// a selected first: it holds \Recent (RFC 3501 §2.3.2).
	if !strings.Contains(got, `* 2 FETCH (UID 2 FLAGS (\Answered \Recent))`) {
		t.Errorf("the other session's change is not reported:\n%s", got)
	}
	got = strings.Join(a.cmd("FETCH 1:3 (FLAGS)"), "\n")
	for _, want := range []string{`* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`, `* 2 FETCH (UID 2 FLAGS (\Answered \Recent))`, `* 3 FETCH (UID 3 FLAGS (\Seen \Recent))`} {
		if !strings.Contains(got, want) {
			t.Errorf("FETCH FLAGS: no %q in\n%s", want, got)
		}
	}
	// Nothing more to report: the session's own changes are not sent again.
	if got := a.cmd("NOOP"); len(got) != 1 {
		t.Errorf("NOOP after its own STOREs: %q", got)
	}
}

// TestFetchBodySetsSeenOnStaleView: FETCH BODY[] sets \Seen (RFC 9051
// §6.4.5) on what the store holds, even when another session cleared it
// after this session's view last showed it set, and reports the flags.
func TestFetchBodySetsSeenOnStaleView(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver(t, e.acct.ID, "INBOX", "Subject: x\r\n\r\nhi\r\n")
	a, b := dialRaw(t, e.addr), dialRaw(t, e.addr)
	for _, r := range []*raw{a, b} {
		r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
		r.cmd("SELECT INBOX")
	}
	a.cmd(`STORE 1 +FLAGS.SILENT (\Seen)`)
	b.cmd(`STORE 1 -FLAGS.SILENT (\Seen)`)
	got := strings.Join(a.cmd("FETCH 1 (BODY[TEXT])"), "\n")
	if !strings.Contains(got, `FLAGS (\Seen \Recent)`) {
		t.Errorf("FETCH BODY[] did not report \\Seen:\n%s", got)
	}
	if got := strings.Join(b.cmd("FETCH 1 (FLAGS)"), "\n"); !strings.Contains(got, `FLAGS (\Seen)`) {
		t.Errorf("\\Seen not set in the store:\n%s", got)
	}
}
