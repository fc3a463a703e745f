package imapd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// notifyQuiet is how long a test waits to see that nothing more comes.
const notifyQuiet = 400 * time.Millisecond

// expectLines reads unsolicited responses until it has as many as want
// and checks they are exactly want, in order, and that nothing follows.
func expectLines(t *testing.T, c *client, want ...string) {
	t.Helper()
	var got []string
	for len(got) < len(want) {
		r, err := c.tryRead(clientReadTimeout)
		if err != nil {
			t.Fatalf("after %q: %v (want %q)", got, err, want)
		}
		got = append(got, r.raw)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	expectQuiet(t, c)
}

// expectQuiet checks the server sends nothing for notifyQuiet.
func expectQuiet(t *testing.T, c *client) {
	t.Helper()
	if r, err := c.tryRead(notifyQuiet); err == nil {
		t.Fatalf("unexpected %q", r.raw)
	}
}

const notifyMsg = "From: a@b.c\r\nSubject: hi\r\n\r\nbody\r\n"

// TestNotifyMailboxes: RFC 5465 with the client idle between commands
// (no IDLE): STATUS for other mailboxes as another session and delivery
// change them (§5.2, §5.3), LIST for created, renamed and deleted
// mailboxes and subscriptions (§5.4, §5.5), SET STATUS's first STATUS
// (§3), and nothing after NOTIFY NONE.
func TestNotifyMailboxes(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.dial(t), e.dial(t)
	b.ok("CREATE Work")
	if r := a.ok("CAPABILITY"); !strings.Contains(r.untagged[0].raw, " NOTIFY") {
		t.Fatalf("NOTIFY not advertised: %q", r.untagged[0].raw)
	}
	inbox := b.ok("STATUS INBOX (UIDVALIDITY)").statusItems(t)["UIDVALIDITY"]
	work := b.ok("STATUS Work (UIDVALIDITY)").statusItems(t)["UIDVALIDITY"]
	r := a.ok("NOTIFY SET STATUS (INBOXES (MessageNew MessageExpunge FlagChange)) " +
		"(SUBTREE (Work Play Games) (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)) (PERSONAL NONE)")
	var got []string
	for _, u := range r.untagged {
		got = append(got, u.raw)
	}
	want := []string{
		fmt.Sprintf("* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY %d UNSEEN 0)", inbox),
		fmt.Sprintf("* STATUS Work (MESSAGES 0 UIDNEXT 1 UIDVALIDITY %d UNSEEN 0)", work),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("SET STATUS: got %q, want %q", got, want)
	}

	e.deliver(t, e.acct.ID, "INBOX", notifyMsg)
	expectLines(t, a, fmt.Sprintf("* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d UNSEEN 1)", inbox))
	b.ok("SELECT INBOX")
	b.ok("STORE 1 +FLAGS (\\Seen)")
	expectLines(t, a, fmt.Sprintf("* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d UNSEEN 0)", inbox))
	b.ok("STORE 1 +FLAGS (\\Deleted)")
	b.ok("EXPUNGE")
	expectLines(t, a, fmt.Sprintf("* STATUS INBOX (MESSAGES 0 UIDNEXT 2 UIDVALIDITY %d UNSEEN 0)", inbox))

	b.ok("CREATE Play") // pail subscribes what CREATE makes
	expectLines(t, a, `* LIST (\Subscribed) "/" Play`)
	b.ok("RENAME Play Games")
	expectLines(t, a, `* LIST (\Subscribed) "/" Games ("OLDNAME" (Play))`)
	b.ok("UNSUBSCRIBE Games")
	expectLines(t, a, `* LIST () "/" Games`)
	b.ok("SUBSCRIBE Games")
	expectLines(t, a, `* LIST (\Subscribed) "/" Games`)
	b.ok("DELETE Games")
	expectLines(t, a, `* LIST (\NonExistent) "/" Games`)

	a.ok("NOTIFY NONE")
	b.ok("CREATE Other")
	e.deliver(t, e.acct.ID, "Work", notifyMsg)
	expectQuiet(t, a)
	a.ok("NOOP") // the session goes on
}

// TestNotifySelected: the selected mailbox's changes arrive unasked,
// between commands and in IDLE, with MessageNew's fetch attributes
// (RFC 5465 §5.2), and STATUS for the other mailboxes the filters take.
func TestNotifySelected(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.dial(t), e.dial(t)
	b.ok("CREATE Work")
	work := b.ok("STATUS Work (UIDVALIDITY)").statusItems(t)["UIDVALIDITY"]
	a.ok("SELECT INBOX")
	a.ok("NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (MAILBOXES Work (MessageNew MessageExpunge))")

	e.deliver(t, e.acct.ID, "INBOX", notifyMsg)
	expectLines(t, a, "* 1 EXISTS", "* 1 RECENT", `* 1 FETCH (UID 1 FLAGS (\Recent))`)
	e.deliver(t, e.acct.ID, "Work", notifyMsg)
	expectLines(t, a, fmt.Sprintf("* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d UNSEEN 1)", work))
	b.ok("SELECT INBOX")
	b.ok("STORE 1 +FLAGS (\\Flagged)")
	expectLines(t, a, `* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`)
	// Flags in Work: no FlagChange asked for there, so nothing.
	b.ok("SELECT Work")
	b.ok("STORE 1 +FLAGS (\\Seen)")
	expectQuiet(t, a)

	tag := a.idle()
	b.ok("SELECT INBOX")
	b.ok("STORE 1 +FLAGS (\\Deleted)")
	expectLines(t, a, `* 1 FETCH (UID 1 FLAGS (\Deleted \Flagged \Recent))`)
	b.ok("EXPUNGE")
	expectLines(t, a, "* 1 EXPUNGE")
	e.deliver(t, e.acct.ID, "Work", notifyMsg)
	expectLines(t, a, fmt.Sprintf("* STATUS Work (MESSAGES 2 UIDNEXT 3 UIDVALIDITY %d UNSEEN 1)", work))
	if r := a.done(tag); r.err() != nil {
		t.Fatal(r.err())
	}
	// Between commands again after IDLE.
	e.deliver(t, e.acct.ID, "INBOX", notifyMsg)
	expectLines(t, a, "* 1 EXISTS", "* 1 RECENT", `* 1 FETCH (UID 2 FLAGS (\Recent))`)

	a.ok("NOTIFY NONE")
	e.deliver(t, e.acct.ID, "INBOX", notifyMsg)
	e.deliver(t, e.acct.ID, "Work", notifyMsg)
	expectQuiet(t, a)
	if r := a.ok("NOOP"); len(r.untagged) != 2 || r.untagged[0].raw != "* 2 EXISTS" {
		t.Fatalf("NOOP after NOTIFY NONE: %q", r.untagged)
	}
}

// TestNotifyRefused: events pail does not send are NO [BADEVENT] with
// the list of those it does (RFC 5465 §5), leaving the NOTIFY in force;
// event lists RFC 5465 forbids are BAD.
func TestNotifyRefused(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial(t)
	a.ok("NOTIFY SET (INBOXES (MessageNew MessageExpunge))")
	for _, ev := range []string{"AnnotationChange", "MailboxMetadataChange", "ServerMetadataChange"} {
		r := a.do("NOTIFY SET (PERSONAL (MessageNew MessageExpunge " + ev + "))")
		if r.status != "NO" || !strings.HasPrefix(r.text, "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]") {
			t.Errorf("%s: %s %s", ev, r.status, r.text)
		}
	}
	for _, cmd := range []string{
		"NOTIFY SET (PERSONAL (MessageNew))",
		"NOTIFY SET (PERSONAL (FlagChange))",
		"NOTIFY SET (INBOXES (MessageNew (UID) MessageExpunge))",
		"NOTIFY SET (PERSONAL (NoSuchEvent))",
		"NOTIFY SET",
		"NOTIFY",
	} {
		if r := a.do(cmd); r.status != "BAD" {
			t.Errorf("%s: %s %s", cmd, r.status, r.text)
		}
	}
	// The first NOTIFY is still in force.
	e.deliver(t, e.acct.ID, "INBOX", notifyMsg)
	if r, err := a.tryRead(clientReadTimeout); err != nil || !strings.HasPrefix(r.raw, "* STATUS INBOX (MESSAGES 1 ") {
		t.Fatalf("after refusals: %q %v", r.raw, err)
	}
}

// TestNotifyOverflow: more changes at once than the server will report
// end NOTIFY with NOTIFICATIONOVERFLOW, and then nothing more comes
// (RFC 5465 §5.8).
func TestNotifyOverflow(t *testing.T) {
	e := newEnv(t, func(_ *Config, s *Server) { s.notifyMax = 2 })
	a, b := e.dial(t), e.dial(t)
	a.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))")
	b.ok("CREATE One")
	expectLines(t, a, `* LIST (\Subscribed) "/" One`)
	// One RENAME makes three changes: the two children move too.
	b.ok("CREATE One/A")
	b.ok("CREATE One/B")
	expectLines(t, a, `* LIST (\Subscribed) "/" One/A`, `* LIST (\Subscribed) "/" One/B`)
	b.ok("RENAME One Two")
	r, err := a.tryRead(clientReadTimeout)
	if err != nil || !strings.HasPrefix(r.raw, "* OK [NOTIFICATIONOVERFLOW]") {
		t.Fatalf("got %q, %v", r.raw, err)
	}
	b.ok("CREATE Three")
	expectQuiet(t, a)
}

// TestNotifyCondStore: with CONDSTORE on, FlagChange's STATUS carries
// HIGHESTMODSEQ, and a flag change that leaves UNSEEN as it was is
// still news (RFC 5465 §5.3, RFC 7162 §3.1).
func TestNotifyCondStore(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.dial(t), e.dial(t)
	b.ok("CREATE Work")
	e.deliver(t, e.acct.ID, "Work", notifyMsg)
	a.ok("ENABLE CONDSTORE")
	a.ok("NOTIFY SET (MAILBOXES Work (MessageNew MessageExpunge FlagChange))")
	b.ok("SELECT Work")
	b.ok("STORE 1 +FLAGS (\\Flagged)")
	st := b.ok("STATUS Work (UIDVALIDITY HIGHESTMODSEQ)").statusItems(t)
	expectLines(t, a, fmt.Sprintf("* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d UNSEEN 1 HIGHESTMODSEQ %d)", st["UIDVALIDITY"], st["HIGHESTMODSEQ"]))
}
