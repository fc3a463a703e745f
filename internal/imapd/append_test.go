package imapd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// litPart is one piece of a command with literals: the text before a
// literal, and the literal (sent after the server's "+" unless plus).
type litPart struct {
	text string
	lit  string
	plus bool // non-synchronising ({n+}, RFC 7888)
	last bool // no literal: text ends the command
}

// sendLiterals sends a command made of parts, waiting for the server's
// continuation before each synchronising literal. It returns the tagged
// reply (which may come before every literal was sent) and how many
// continuations the server sent.
func sendLiterals(c *client, parts []litPart) (*result, int) {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("c%d", c.n)
	conts := 0
	out := tag + " "
	for _, p := range parts {
		out += p.text
		if p.last {
			break
		}
		if p.plus {
			out += fmt.Sprintf("{%d+}\r\n%s", len(p.lit), p.lit)
			continue
		}
		out += fmt.Sprintf("{%d}\r\n", len(p.lit))
		if _, err := io.WriteString(c.c, out); err != nil {
			c.fail("write: %v", err)
		}
		out = ""
		for {
			r := c.read(clientReadTimeout)
			if r.tag == "+" {
				conts++
				break
			}
			if r.tag == tag {
				res := &result{}
				res.status, res.text, _ = strings.Cut(strings.TrimPrefix(r.raw, tag+" "), " ")
				return res, conts
			}
		}
		out = p.lit
	}
	if _, err := io.WriteString(c.c, out+"\r\n"); err != nil {
		c.fail("write: %v", err)
	}
	return c.finish(tag), conts
}

// spoolFiles lists what is left in the store's spool directory.
func spoolFiles(t *testing.T, env *testEnv) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(env.st.Dir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// mailboxCount is the number of messages in one of bob's mailboxes.
func mailboxCount(t *testing.T, env *testEnv, name string) int {
	t.Helper()
	ctx := context.Background()
	mb, err := env.st.MailboxByName(ctx, env.acct.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := env.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// messageBytes is the stored content of a message of bob's mailbox by UID.
func messageBytes(t *testing.T, env *testEnv, name string, uid uint32) string {
	t.Helper()
	ctx := context.Background()
	mb, err := env.st.MailboxByName(ctx, env.acct.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := env.st.MessagesByUID(ctx, mb.ID, []uint32{uid})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("UID %d of %s: %v %v", uid, name, msgs, err)
	}
	body, err := env.st.OpenBody(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.NewSectionReader(body, 0, body.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMultiAppend: MULTIAPPEND (RFC 3502) is offered; one APPEND with
// three messages gives each synchronising literal its continuation,
// stores them with their own flags and dates, and answers APPENDUID with
// the UID set (RFC 4315 §3); with LITERAL+ no continuation is sent.
func TestMultiAppend(t *testing.T) {
	env := newEnv(t, nil)
	c := env.dial(t)
	caps := c.ok("CAPABILITY").untagged[0].raw
	for _, want := range []string{" MULTIAPPEND", " CATENATE", " LITERAL+", " UIDPLUS"} {
		if !strings.Contains(caps, want) {
			t.Errorf("CAPABILITY %q lacks %s", caps, want)
		}
	}
	msgs := []string{
		"Subject: one\r\n\r\nfirst\r\n",
		"Subject: two\r\n\r\nsecond\r\n",
		"Subject: three\r\n\r\nthird\r\n",
	}
	res, conts := sendLiterals(c, []litPart{
		{text: `APPEND Archive (\Seen) `, lit: msgs[0]},
		{text: ` (\Flagged $Work) "07-Feb-1994 22:43:04 -0800" `, lit: msgs[1]},
		{text: " ", lit: msgs[2]},
		{last: true},
	})
	if err := res.err(); err != nil {
		t.Fatalf("MULTIAPPEND: %v", err)
	}
	if conts != 3 {
		t.Errorf("%d continuations for 3 synchronising literals", conts)
	}
	args, ok := res.code("APPENDUID")
	if !ok || len(args) != 2 || args[1] != "1:3" {
		t.Errorf("APPENDUID %q, want the set 1:3: %q", args, res.text)
	}
	c.ok("SELECT Archive")
	f := c.ok("UID FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[])").fetches(t)
	if len(f) != 3 {
		t.Fatalf("fetched %d messages, want 3", len(f))
	}
	for i, m := range msgs {
		if got := messageBytes(t, env, "Archive", uint32(i+1)); got != m {
			t.Errorf("UID %d holds %q, want %q", i+1, got, m)
		}
	}
	if fl := atoms(f[1]["FLAGS"]); !hasFlag(fl, `\Seen`) || hasFlag(fl, `\Flagged`) {
		t.Errorf("UID 1 flags %v", fl)
	}
	if fl := atoms(f[2]["FLAGS"]); !hasFlag(fl, `\Flagged`) || !hasFlag(fl, "$Work") || hasFlag(fl, `\Seen`) {
		t.Errorf("UID 2 flags %v", fl)
	}
	want, _ := time.Parse("02-Jan-2006 15:04:05 -0700", "07-Feb-1994 22:43:04 -0800")
	if d, err := time.Parse("_2-Jan-2006 15:04:05 -0700", str(f[2]["INTERNALDATE"])); err != nil || !d.Equal(want) {
		t.Errorf("UID 2 INTERNALDATE %q, want %v", str(f[2]["INTERNALDATE"]), want)
	}

	// LITERAL+: the client sends everything at once.
	res, conts = sendLiterals(c, []litPart{
		{text: "APPEND Archive ", lit: msgs[0], plus: true},
		{text: " ", lit: msgs[1], plus: true},
		{last: true},
	})
	if err := res.err(); err != nil || conts != 0 {
		t.Fatalf("MULTIAPPEND with LITERAL+: %v, %d continuations", err, conts)
	}
	if args, _ := res.code("APPENDUID"); len(args) != 2 || args[1] != "4:5" {
		t.Errorf("APPENDUID %q, want 4:5", args)
	}
	if n := mailboxCount(t, env, "Archive"); n != 5 {
		t.Errorf("Archive has %d messages, want 5", n)
	}
	if files := spoolFiles(t, env); len(files) != 0 {
		t.Errorf("spool files left: %v", files)
	}
}

// TestMultiAppendAllOrNothing: when one message of a MULTIAPPEND fails,
// none is kept (RFC 3502 §6.3.11): a second literal over APPENDLIMIT is
// refused before it is sent (NO [TOOBIG], RFC 7889) or skipped when it is
// non-synchronising; a total over the quota is NO [OVERQUOTA], over 16
// times APPENDLIMIT NO [TOOBIG]; a malformed second message is BAD. Nothing is stored, no spool file is
// left, and the session goes on.
func TestMultiAppendAllOrNothing(t *testing.T) {
	const limit = 1000
	env := newEnv(t, func(cfg *Config, _ *Server) { cfg.MaxMessageBytes = limit })
	c := env.dial(t)
	small := "Subject: s\r\n\r\n" + strings.Repeat("a", 400) + "\r\n"
	big := "Subject: b\r\n\r\n" + strings.Repeat("b", limit) + "\r\n"
	check := func(what string, res *result, status, code string) {
		t.Helper()
		if res.status != status || code != "" && !strings.HasPrefix(res.text, "["+code) {
			t.Errorf("%s: %s %s, want %s [%s]", what, res.status, res.text, status, code)
		}
		if n := mailboxCount(t, env, "INBOX"); n != 0 {
			t.Errorf("%s: INBOX has %d messages, want none", what, n)
		}
		if files := spoolFiles(t, env); len(files) != 0 {
			t.Errorf("%s: spool files left: %v", what, files)
		}
		c.ok("NOOP")
	}

	res, conts := sendLiterals(c, []litPart{{text: "APPEND INBOX ", lit: small}, {text: " ", lit: big}, {last: true}})
	check("second literal over APPENDLIMIT", res, "NO", "TOOBIG")
	if conts != 1 {
		t.Errorf("%d continuations; the literal over the limit must be refused before its +", conts)
	}

	res, _ = sendLiterals(c, []litPart{{text: "APPEND INBOX ", lit: small, plus: true}, {text: " ", lit: big, plus: true}, {last: true}})
	check("non-synchronising second literal over APPENDLIMIT", res, "NO", "TOOBIG")

	res, _ = sendLiterals(c, []litPart{{text: "APPEND INBOX ", lit: small}, {text: " junk", last: true}})
	check("malformed second message", res, "BAD", "")

	// The messages of one APPEND together are bounded too: 16 times
	// APPENDLIMIT (imapengine's appendTotalFactor).
	var many []litPart
	for i := 0; i*len(small) <= 16*limit; i++ {
		many = append(many, litPart{text: " ", lit: small})
	}
	many[0].text = "APPEND INBOX "
	res, conts = sendLiterals(c, append(many, litPart{last: true}))
	check("the messages together over 16 times APPENDLIMIT", res, "NO", "TOOBIG")
	if want := 16 * limit / len(small); conts != want {
		t.Errorf("%d continuations, want %d: the literal past the total is refused before its +", conts, want)
	}

	if err := env.st.SetQuota(context.Background(), "bob@hill.com", 600); err != nil {
		t.Fatal(err)
	}
	res, conts = sendLiterals(c, []litPart{{text: "APPEND INBOX ", lit: small}, {text: " ", lit: small}, {last: true}})
	check("two messages over the quota together", res, "NO", "OVERQUOTA")
	if conts != 1 {
		t.Errorf("%d continuations; the literal past the quota must be refused before its +", conts)
	}
	res, _ = sendLiterals(c, []litPart{{text: "APPEND INBOX ", lit: small, plus: true}, {text: " ", lit: small, plus: true}, {last: true}})
	check("two non-synchronising messages over the quota together", res, "NO", "OVERQUOTA")

	// Each of them fits on its own.
	if res, _ := sendLiterals(c, []litPart{{text: "APPEND INBOX ", lit: small}, {last: true}}); res.err() != nil {
		t.Errorf("one message within the quota: %v", res.err())
	}
}

// catSource is the message CATENATE takes parts of (RFC 4469 Appendix A:
// a multipart/mixed with a text part and an attachment).
const catSource = "From: Bob <bob@hill.com>\r\n" +
	"Subject: About our holiday trip\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n" +
	"\r\n" +
	"--XX\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	"Our travel agent has sent the updated schedule.\r\n" +
	"--XX\r\n" +
	"Content-Type: application/zip\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"UEsDBBQAAAAIAA==\r\n" +
	"--XX--\r\n"

// TestCatenate: APPEND ... CATENATE (RFC 4469 §3) builds the message from
// TEXT literals and the octets URLs name, as FETCH BODY[section] returns
// them, without setting \Seen on the source; a whole message, PARTIAL
// (RFC 5092), percent-encoded names and MULTIAPPEND with CATENATE work.
func TestCatenate(t *testing.T) {
	env := newEnv(t, nil)
	src := env.deliver(t, env.acct.ID, "INBOX", catSource)
	c := env.dial(t)
	base := fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=%d", src.UIDValidity, src.UID)
	// RFC 4469 Appendix A, example 1: replace the attachment.
	boundary := "\r\n--XX\r\n"
	newPart := "Content-Type: text/plain\r\n\r\nThe attachment was removed.\r\n--XX--\r\n"
	res, conts := sendLiterals(c, []litPart{
		{text: `APPEND Drafts (\Draft) CATENATE (URL "` + base + `/;SECTION=HEADER" TEXT `, lit: boundary[2:]},
		{text: ` URL "` + base + `/;section=1.MIME" URL "` + base + `/;SECTION=1" TEXT `, lit: boundary + newPart},
		{text: ")", last: true},
	})
	if err := res.err(); err != nil {
		t.Fatalf("CATENATE: %v", err)
	}
	if conts != 2 {
		t.Errorf("%d continuations for 2 TEXT literals", conts)
	}
	args, _ := res.code("APPENDUID")
	if len(args) != 2 || args[1] != "1" {
		t.Errorf("APPENDUID %q", args)
	}
	header := catSource[:strings.Index(catSource, "\r\n\r\n")+4]
	part1MIME := "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	part1 := "Our travel agent has sent the updated schedule."
	want := header + "--XX\r\n" + part1MIME + part1 + boundary + newPart
	if got := messageBytes(t, env, "Drafts", 1); got != want {
		t.Errorf("catenated message:\n%q\nwant\n%q", got, want)
	}

	// The whole message, a PARTIAL of it, and a mailbox name with a
	// space, percent-encoded (RFC 5092 §8), in one MULTIAPPEND.
	c.ok(`CREATE "My Drafts"`)
	res, _ = sendLiterals(c, []litPart{
		{text: `APPEND "My Drafts" CATENATE (URL "` + base + `") CATENATE (URL "/INBOX/;UID=1/;PARTIAL=6.3" TEXT `, lit: "!"},
		{text: `)`, last: true},
	})
	if err := res.err(); err != nil {
		t.Fatalf("CATENATE of whole messages: %v", err)
	}
	if args, _ := res.code("APPENDUID"); len(args) != 2 || args[1] != "1:2" {
		t.Errorf("APPENDUID %q, want 1:2", args)
	}
	if res := c.do(`APPEND "My Drafts" CATENATE (URL "/My%20Drafts/;UID=1")`); res.err() != nil {
		t.Fatalf("CATENATE from a percent-encoded name: %v", res.err())
	}
	for uid, want := range map[uint32]string{1: catSource, 2: "Bob!", 3: catSource} {
		if got := messageBytes(t, env, "My Drafts", uid); got != want {
			t.Errorf("My Drafts UID %d: %q, want %q", uid, got, want)
		}
	}
	// No catenated part sets \Seen (RFC 4469 §3).
	c.ok("EXAMINE INBOX")
	if fl := atoms(c.ok("UID FETCH 1 FLAGS").fetches(t)[1]["FLAGS"]); hasFlag(fl, `\Seen`) {
		t.Errorf("the source message became \\Seen: %v", fl)
	}
}

// TestCatenateErrors: a URL that names nothing of this session's
// mailboxes is NO [BADURL url] with the URL as given (RFC 4469 §4.1);
// a catenated message over APPENDLIMIT is NO [TOOBIG] (§4.2); in a
// MULTIAPPEND either keeps none of the messages.
func TestCatenateErrors(t *testing.T) {
	limit := int64(2*len(catSource) + 50)
	env := newEnv(t, func(cfg *Config, _ *Server) { cfg.MaxMessageBytes = limit })
	src := env.deliver(t, env.acct.ID, "INBOX", catSource)
	env.deliver(t, env.other.ID, "INBOX", catSource) // jill's: unreachable
	c := env.dial(t)
	v := src.UIDValidity
	for _, u := range []string{
		fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=2", v),   // no such message
		fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=1", v+1), // stale UIDVALIDITY
		"/Nowhere/;UID=1",                      // no such mailbox
		"/INBOX/;UID=1/;SECTION=3",             // no such part
		"/INBOX/;UID=1/;SECTION=1.BOGUS",       // bad section
		"/INBOX/;UID=0",                        // UID 0
		"/INBOX;UID=1",                         // UID without its /
		"/INBOX",                               // no UID
		"INBOX/;UID=1",                         // relative path
		"imap://jill@mx.hill.com/INBOX/;UID=1", // another user, absolute URL
		"//mx.hill.com/INBOX/;UID=1",           // network-path reference
		"/INBOX/;UID=1/;URLAUTH=anonymous",     // URLAUTH (RFC 4467)
		"/INBOX/;UID=1/;PARTIAL=x",             // bad partial range
		"/%FF/;UID=1",                          // not UTF-8
		fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=1/;SECTION=1/", v),  // trailing /
		fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=1/;SECTION=1]x", v), // "]" in the reply is encoded
	} {
		res := c.do(`APPEND Drafts CATENATE (TEXT {2+}` + "\r\nhi" + ` URL ` + quote(u) + `)`)
		wantCode := "[BADURL " + strings.ReplaceAll(u, "]", "%5D") + "] "
		if res.status != "NO" || !strings.HasPrefix(res.text, wantCode) {
			t.Errorf("URL %q: %s %s, want NO %s", u, res.status, res.text, wantCode)
		}
	}
	if n := mailboxCount(t, env, "Drafts"); n != 0 {
		t.Errorf("Drafts has %d messages after bad URLs", n)
	}

	// Twice the message fits; three times does not.
	url := quote(fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=1", v))
	if res := c.do("APPEND Drafts CATENATE (URL " + url + " URL " + url + ")"); res.err() != nil {
		t.Errorf("two URLs within APPENDLIMIT: %v", res.err())
	}
	res := c.do("APPEND Drafts CATENATE (URL " + url + ") CATENATE (URL " + url + " URL " + url + " URL " + url + ")")
	if res.status != "NO" || !strings.HasPrefix(res.text, "[TOOBIG]") {
		t.Errorf("three URLs over APPENDLIMIT: %s %s", res.status, res.text)
	}
	res = c.do("APPEND Drafts CATENATE (URL " + url + ") CATENATE (URL \"/INBOX/;UID=9\")")
	if res.status != "NO" || !strings.HasPrefix(res.text, "[BADURL /INBOX/;UID=9]") {
		t.Errorf("MULTIAPPEND with a bad second URL: %s %s", res.status, res.text)
	}
	if n := mailboxCount(t, env, "Drafts"); n != 1 {
		t.Errorf("Drafts has %d messages, want only the one that fit", n)
	}
	if files := spoolFiles(t, env); len(files) != 0 {
		t.Errorf("spool files left: %v", files)
	}
}

// FuzzMessageURL: no URL makes parseMessageURL panic, and one it accepts
// names a message (a UID) in a mailbox.
func FuzzMessageURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseMessageURL(s)
		if err == nil && (u.uid == 0 || u.mailbox == "") {
			t.Errorf("%q accepted as %+v", s, u)
		}
		badURL(s, "x")
	})
}
