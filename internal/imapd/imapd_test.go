package imapd

import (
	"bufio"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestMailboxCommands(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t, nil)

	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		attrs[l.Mailbox] = l.Attrs
	}
	if !slices.Contains(attrs["Sent"], imap.MailboxAttrSent) || !slices.Contains(attrs["Trash"], imap.MailboxAttrTrash) || attrs["INBOX"] == nil {
		t.Errorf("LIST attrs: %v", attrs)
	}
	if err := c.Create("Work/2026", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Work", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
		t.Errorf("CREATE existing parent: %v", err)
	}
	if err := c.Rename("Work", "Jobs", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, _ = c.List("", "Jobs/%", nil).Collect()
	if len(list) != 1 || list[0].Mailbox != "Jobs/2026" {
		t.Errorf("after RENAME: %+v", list)
	}
	if err := c.Delete("Jobs").Wait(); err != nil {
		t.Fatal(err)
	}
	list, _ = c.List("", "Jobs", nil).Collect()
	if len(list) != 1 || !slices.Contains(list[0].Attrs, imap.MailboxAttrNoSelect) {
		t.Errorf("deleted parent with child: %+v", list)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
	if err := c.Unsubscribe("Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	lsub, _ := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	for _, l := range lsub {
		if l.Mailbox == "Junk" {
			t.Error("unsubscribed Junk listed")
		}
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true}).Wait()
	if err != nil || *st.NumMessages != 0 || st.UIDNext != 1 || st.UIDValidity == 0 {
		t.Errorf("STATUS %+v %v", st, err)
	}
	// Another account's mailboxes are unreachable by any spelling.
	e.deliver(t, e.other.ID, "", testMsg)
	for _, name := range []string{"jill@hill.com/INBOX", "../2/INBOX", "/INBOX", "#shared/jill"} {
		if _, err := c.Select(name, nil).Wait(); err == nil {
			t.Errorf("SELECT %q succeeded", name)
		}
	}
}

func TestMessageCommands(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t, nil)
	date := time.Date(2020, 5, 17, 10, 0, 0, 0, time.UTC)
	ad := appendMsg(t, c, "INBOX", testMsg, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged, "$Work"}, Time: date})
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Errorf("APPENDUID %+v", ad)
	}
	e.deliver(t, e.acct.ID, "", strings.Replace(testMsg, "Pail of water", "Second", 1))
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 2 {
		t.Fatalf("SELECT %+v %v", sel, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, UID: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{
			{Peek: true},
			{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: 4}},
			{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}},
		},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH %v %v", msgs, err)
	}
	m := msgs[0]
	if m.Envelope.Subject != "Pail of water" || m.Envelope.From[0].Host != "town.com" || m.RFC822Size != int64(len(testMsg)) || !m.InternalDate.Equal(date) {
		t.Errorf("FETCH attrs: %+v", m)
	}
	if !slices.Contains(m.Flags, imap.FlagFlagged) || !slices.Contains(m.Flags, "$Work") || slices.Contains(m.Flags, imap.FlagSeen) {
		t.Errorf("flags %v", m.Flags)
	}
	if string(m.BodySection[0].Bytes) != testMsg || string(m.BodySection[1].Bytes) != "From" || !strings.HasPrefix(string(m.BodySection[2].Bytes), "Subject: Pail of water") {
		t.Errorf("sections %+v", m.BodySection)
	}
	// A non-PEEK body fetch sets \Seen and reports it.
	msgs, _ = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
	if len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("\\Seen not set: %+v", msgs)
	}
	// SEARCH.
	search := func(cr *imap.SearchCriteria) []uint32 {
		t.Helper()
		d, err := c.Search(cr, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return d.AllSeqNums()
	}
	if got := search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}); !slices.Equal(got, []uint32{1}) {
		t.Errorf("SEARCH SEEN %v", got)
	}
	if got := search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "second"}}}); !slices.Equal(got, []uint32{2}) {
		t.Errorf("SEARCH SUBJECT %v", got)
	}
	if got := search(&imap.SearchCriteria{Body: []string{"PAIL OF WATER"}}); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("SEARCH BODY %v", got)
	}
	if got := search(&imap.SearchCriteria{Before: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}); !slices.Equal(got, []uint32{1}) {
		t.Errorf("SEARCH BEFORE %v", got)
	}
	if got := search(&imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{"$work"}}}, Larger: 10}); !slices.Equal(got, []uint32{2}) {
		t.Errorf("SEARCH NOT KEYWORD LARGER %v", got)
	}
	d, _ := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2)}}, nil).Wait()
	if !slices.Equal(d.AllUIDs(), []imap.UID{2}) {
		t.Errorf("UID SEARCH %v", d.AllUIDs())
	}
	// STORE.
	got, err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Collect()
	if err != nil || len(got) != 1 || !slices.Contains(got[0].Flags, imap.FlagAnswered) {
		t.Errorf("STORE %+v %v", got, err)
	}
	// COPY and MOVE with COPYUID.
	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil || cd.UIDValidity == 0 || cd.DestUIDs.String() != "1:2" {
		t.Errorf("COPY %+v %v", cd, err)
	}
	md, err := c.Move(imap.SeqSetNum(1), "Trash").Wait()
	if err != nil || md.DestUIDs.String() != "1" {
		t.Errorf("MOVE %+v %v", md, err)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nowhere").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Errorf("COPY to missing: %v", err)
	}
	// EXPUNGE of \Deleted messages; UID EXPUNGE only of the named ones.
	c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	seqs, err := c.Expunge().Collect()
	if err != nil || !slices.Equal(seqs, []uint32{1}) {
		t.Errorf("EXPUNGE %v %v", seqs, err)
	}
	if st, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); *st.NumMessages != 0 {
		t.Errorf("INBOX has %d after expunge", *st.NumMessages)
	}
	if _, err := c.Select("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	seqs, err = c.UIDExpunge(imap.UIDSetNum(2)).Collect()
	if err != nil || !slices.Equal(seqs, []uint32{2}) {
		t.Errorf("UID EXPUNGE %v %v", seqs, err)
	}
	// EXAMINE is read-only.
	if _, err := c.Select("Archive", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err == nil {
		t.Error("STORE in EXAMINE succeeded")
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendLimitAndTryCreate(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Server) { c.MaxMessageBytes = 100 })
	r := dialRaw(t, e.addr)
	r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
	if got := r.cmd("APPEND INBOX {1000}"); !strings.Contains(got[len(got)-1], "NO [TOOBIG]") {
		t.Errorf("big APPEND: %q", got)
	}
	if got := r.cmd("APPEND Nowhere {3+}\r\nabc"); !strings.Contains(got[len(got)-1], "TRYCREATE") {
		t.Errorf("APPEND to missing: %q", got)
	}
	if got := r.cmd("CAPABILITY"); !strings.Contains(got[0], "APPENDLIMIT=100") || !strings.Contains(got[0], "IMAP4rev2") || !strings.Contains(got[0], "UIDPLUS") || !strings.Contains(got[0], "LITERAL+") {
		t.Errorf("CAPABILITY %q", got)
	}
}

func TestBadInputAndLogin(t *testing.T) {
	e := newEnv(t, untrusted)
	r := dialRaw(t, e.addr)
	if got := r.cmd("CAPABILITY"); !strings.Contains(got[0], "LOGINDISABLED") || !strings.Contains(got[0], "STARTTLS") {
		t.Errorf("CAPABILITY before TLS: %q", got)
	}
	if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(got[len(got)-1], "NO") {
		t.Errorf("cleartext LOGIN: %q", got)
	}
	startTLS(t, r)
	if got := r.cmd(`LOGIN bob@hill.com wrong`); !strings.Contains(got[len(got)-1], "NO [AUTHENTICATIONFAILED]") {
		t.Errorf("bad password: %q", got)
	}
	if !strings.Contains(e.mailLog.String(), "auth-failed client=127.0.0.1 user=bob@hill.com proto=imap") {
		t.Errorf("mail log: %q", e.mailLog.String())
	}
	if got := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(got[len(got)-1], "OK") {
		t.Fatalf("LOGIN over TLS: %q", got)
	}
	for _, bad := range []string{"FROBNICATE", "SELECT", "FETCH 1 (FLAGS", "UID FETCH x FLAGS", "SEARCH FOO BAR", "STORE 1 +FLAGS (\\Seen)"} {
		got := r.cmd(bad)
		if last := got[len(got)-1]; !strings.Contains(last, "BAD") && !strings.Contains(last, "NO") {
			t.Errorf("%s: %q", bad, got)
		}
	}
	if got := r.cmd("NOOP"); !strings.Contains(got[len(got)-1], "OK") {
		t.Errorf("session did not go on: %q", got)
	}
}

func TestAuthenticatePlainFromLoopback(t *testing.T) {
	e := newEnv(t, nil)
	r := dialRaw(t, e.addr)
	if got := r.cmd("CAPABILITY"); strings.Contains(got[0], "LOGINDISABLED") || !strings.Contains(got[0], "AUTH=PLAIN") {
		t.Errorf("loopback CAPABILITY: %q", got)
	}
	// base64("\x00bob@hill.com\x00correct horse")
	if got := r.cmd("AUTHENTICATE PLAIN AGJvYkBoaWxsLmNvbQBjb3JyZWN0IGhvcnNl"); !strings.Contains(got[len(got)-1], "OK") {
		t.Errorf("AUTHENTICATE PLAIN: %q", got)
	}
}

func TestConnectionCaps(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Server) { c.MaxConnectionsPerIP = 1 })
	dialRaw(t, e.addr)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, _ := bufio.NewReader(nc).ReadString('\n')
	if !strings.HasPrefix(l, "* BYE") {
		t.Errorf("second connection: %q", l)
	}
}
