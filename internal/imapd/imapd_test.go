package imapd

import (
	"bufio"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMailboxCommands(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t)

	attrs := c.ok(`LIST "" "*"`).listed(t)
	if !hasFlag(attrs["Sent"], `\Sent`) || !hasFlag(attrs["Trash"], `\Trash`) || attrs["INBOX"] == nil {
		t.Errorf("LIST attrs: %v", attrs)
	}
	c.ok("CREATE Work/2026")
	if err := c.do("CREATE Work").err(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
		t.Errorf("CREATE existing parent: %v", err)
	}
	c.ok("RENAME Work Jobs")
	if list := c.ok(`LIST "" "Jobs/%"`).listed(t); len(list) != 1 || list["Jobs/2026"] == nil {
		t.Errorf("after RENAME: %+v", list)
	}
	c.ok("DELETE Jobs")
	if list := c.ok(`LIST "" "Jobs"`).listed(t); len(list) != 1 || !hasFlag(list["Jobs"], `\Noselect`) {
		t.Errorf("deleted parent with child: %+v", list)
	}
	if err := c.do("DELETE INBOX").err(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
	c.ok("UNSUBSCRIBE Junk")
	lsub := c.ok(`LIST (SUBSCRIBED) "" "*"`).listed(t)
	if _, ok := lsub["Junk"]; ok || lsub["INBOX"] == nil {
		t.Errorf("LIST (SUBSCRIBED): %v", lsub)
	}
	res := c.do("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
	if st := res.statusItems(t); res.err() != nil || len(st) != 4 || st["MESSAGES"] != 0 || st["UIDNEXT"] != 1 || st["UIDVALIDITY"] == 0 {
		t.Errorf("STATUS %+v %v", st, res.err())
	}
	// Another account's mailboxes are unreachable by any spelling.
	e.deliver(t, e.other.ID, "", testMsg)
	for _, name := range []string{"jill@hill.com/INBOX", "../2/INBOX", "/INBOX", "#shared/jill"} {
		if err := c.do("SELECT " + quote(name)).err(); err == nil {
			t.Errorf("SELECT %q succeeded", name)
		}
	}
}

func TestMessageCommands(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t)
	date := time.Date(2020, 5, 17, 10, 0, 0, 0, time.UTC)
	if v, uid := appendMsg(t, c, "INBOX", testMsg, `\Flagged $Work`, date); uid != 1 || v == 0 {
		t.Errorf("APPENDUID %d %d", v, uid)
	}
	e.deliver(t, e.acct.ID, "", strings.Replace(testMsg, "Pail of water", "Second", 1))
	if err := c.do("SELECT INBOX").err(); err != nil || c.count != 2 {
		t.Fatalf("SELECT: %d messages, %v", c.count, err)
	}
	res := c.do("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE UID BODYSTRUCTURE BODY.PEEK[] BODY.PEEK[]<0.4> BODY.PEEK[HEADER.FIELDS (Subject)])")
	msgs := res.fetches(t)
	if res.err() != nil || len(msgs) != 1 || msgs[1] == nil {
		t.Fatalf("FETCH %v %v", msgs, res.err())
	}
	m := msgs[1]
	env, _ := m["ENVELOPE"].([]any)
	var subject, fromHost string
	if len(env) == 10 {
		subject = str(env[1])
		if from, _ := env[2].([]any); len(from) > 0 {
			if addr, _ := from[0].([]any); len(addr) == 4 {
				fromHost = str(addr[3])
			}
		}
	}
	internal, _ := time.Parse("_2-Jan-2006 15:04:05 -0700", str(m["INTERNALDATE"]))
	if subject != "Pail of water" || fromHost != "town.com" || str(m["RFC822.SIZE"]) != strconv.Itoa(len(testMsg)) || !internal.Equal(date) || str(m["UID"]) != "1" {
		t.Errorf("FETCH attrs: %+v", m)
	}
	if bs, _ := m["BODYSTRUCTURE"].([]any); len(bs) < 7 || !strings.EqualFold(str(bs[0]), "TEXT") || !strings.EqualFold(str(bs[1]), "PLAIN") {
		t.Errorf("BODYSTRUCTURE %v", m["BODYSTRUCTURE"])
	}
	if flags := atoms(m["FLAGS"]); !hasFlag(flags, `\Flagged`) || !hasFlag(flags, "$Work") || hasFlag(flags, `\Seen`) {
		t.Errorf("flags %v", flags)
	}
	var header any
	for k, v := range m {
		if strings.HasPrefix(k, "BODY[HEADER.FIELDS") {
			header = v
		}
	}
	if str(m["BODY[]"]) != testMsg || str(m["BODY[]<0>"]) != "From" || !strings.HasPrefix(str(header), "Subject: Pail of water") {
		t.Errorf("sections %+v", m)
	}
	// A non-PEEK body fetch sets \Seen and reports it.
	if msgs := c.ok("FETCH 1 (BODY[TEXT])").fetches(t); len(msgs) != 1 || !hasFlag(atoms(msgs[1]["FLAGS"]), `\Seen`) {
		t.Errorf("\\Seen not set: %+v", msgs)
	}
	// SEARCH.
	search := func(cmd string) []uint32 {
		t.Helper()
		return c.ok(cmd).searched(t)
	}
	if got := search("SEARCH SEEN"); !slices.Equal(got, []uint32{1}) {
		t.Errorf("SEARCH SEEN %v", got)
	}
	if got := search(`SEARCH HEADER "Subject" "second"`); !slices.Equal(got, []uint32{2}) {
		t.Errorf("SEARCH SUBJECT %v", got)
	}
	if got := search(`SEARCH BODY "PAIL OF WATER"`); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("SEARCH BODY %v", got)
	}
	if got := search("SEARCH BEFORE 1-Jan-2021"); !slices.Equal(got, []uint32{1}) {
		t.Errorf("SEARCH BEFORE %v", got)
	}
	if got := search("SEARCH NOT (KEYWORD $work) LARGER 10"); !slices.Equal(got, []uint32{2}) {
		t.Errorf("SEARCH NOT KEYWORD LARGER %v", got)
	}
	if got := search("UID SEARCH UID 2"); !slices.Equal(got, []uint32{2}) {
		t.Errorf("UID SEARCH %v", got)
	}
	// STORE.
	res = c.do(`STORE 2 +FLAGS (\Answered)`)
	if got := res.fetches(t); res.err() != nil || len(got) != 1 || !hasFlag(atoms(got[2]["FLAGS"]), `\Answered`) {
		t.Errorf("STORE %+v %v", got, res.err())
	}
	// COPY and MOVE with COPYUID.
	res = c.do("COPY 1:2 Archive")
	if cu, _ := res.code("COPYUID"); res.err() != nil || len(cu) != 3 || cu[0] == "0" || cu[2] != "1:2" {
		t.Errorf("COPY %v %v", cu, res.err())
	}
	res = c.do("MOVE 1 Trash")
	if cu, _ := res.code("COPYUID"); res.err() != nil || len(cu) != 3 || cu[2] != "1" {
		t.Errorf("MOVE %v %v", cu, res.err())
	}
	if err := c.do("COPY 1 Nowhere").err(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Errorf("COPY to missing: %v", err)
	}
	// EXPUNGE of \Deleted messages; UID EXPUNGE only of the named ones.
	c.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	res = c.do("EXPUNGE")
	if seqs := res.expunges(); res.err() != nil || !slices.Equal(seqs, []uint32{1}) {
		t.Errorf("EXPUNGE %v %v", seqs, res.err())
	}
	if st := c.ok("STATUS INBOX (MESSAGES)").statusItems(t); len(st) != 1 || st["MESSAGES"] != 0 {
		t.Errorf("INBOX after expunge: %v", st)
	}
	c.ok("SELECT Archive")
	c.ok(`STORE 1:2 +FLAGS.SILENT (\Deleted)`)
	res = c.do("UID EXPUNGE 2")
	if seqs := res.expunges(); res.err() != nil || !slices.Equal(seqs, []uint32{2}) {
		t.Errorf("UID EXPUNGE %v %v", seqs, res.err())
	}
	// EXAMINE is read-only.
	c.ok("EXAMINE Archive")
	if err := c.do(`STORE 1 +FLAGS (\Seen)`).err(); err == nil {
		t.Error("STORE in EXAMINE succeeded")
	}
	c.ok("UNSELECT")
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
