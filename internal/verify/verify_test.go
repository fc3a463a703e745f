package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

var client = netip.MustParseAddr("127.0.0.1")

// zone is what the test name server answers: SPF records of every kind,
// DMARC records of every policy, a DKIM key, reverse DNS for 127.0.0.1.
func zone(dkimKey string) []string {
	return []string{
		`pass.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`fail.test. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`soft.test. TXT "v=spf1 ip4:192.0.2.1 ~all"`,
		`none.test. A 192.0.2.1`,
		`perm.test. TXT "v=spf1 bogus:x -all"`,
		`helo.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		// DMARC domains; their SPF lets 127.0.0.1 send only where named.
		`town.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.town.test. TXT "v=DMARC1; p=reject"`,
		`sel._domainkey.town.test. TXT "v=DKIM1; k=ed25519; p=` + dkimKey + `"`,
		`bounce.town.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`strict.test. TXT "v=spf1 -all"`,
		`_dmarc.strict.test. TXT "v=DMARC1; p=reject; aspf=s; adkim=s"`,
		`mail.strict.test. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`quar.test. TXT "v=spf1 -all"`,
		`_dmarc.quar.test. TXT "v=DMARC1; p=quarantine"`,
		`half.test. TXT "v=spf1 -all"`,
		`_dmarc.half.test. TXT "v=DMARC1; p=reject; pct=50"`,
		`org.test. TXT "v=spf1 -all"`,
		`_dmarc.org.test. TXT "v=DMARC1; p=reject; sp=quarantine"`,
		`sub.org.test. TXT "v=spf1 -all"`,
		`nodmarc.test. TXT "v=spf1 -all"`,
		`1.0.0.127.in-addr.arpa. PTR mx.town.test.`,
		`mx.town.test. A 127.0.0.1`,
	}
}

// newKey returns an ed25519 key and its DKIM record's p= value.
func newKey(t *testing.T) (ed25519.PrivateKey, string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, base64.StdEncoding.EncodeToString(pub)
}

func newChecker(t *testing.T, records []string, servfail ...string) *Checker {
	srv := resolvetest.Start(t, records, servfail...)
	return &Checker{Hostname: "mx.hill.test", Resolver: resolve.New(srv.Addr, time.Second), Percent: func() int { return 0 }}
}

// msg builds a Message from raw content.
func msg(from, helo string, content []byte) *Message {
	m := &Message{ClientIP: client, Helo: helo, MailFrom: from, Rcpts: []string{"jill@hill.test"},
		Content: bytes.NewReader(content), Size: int64(len(content))}
	m.Header, m.HeaderComplete, _ = ReadHeader(m.Content, m.Size)
	return m
}

func plain(from string) []byte {
	return []byte("From: Jack <" + from + ">\r\nTo: jill@hill.test\r\nSubject: hello\r\nMessage-ID: <1@town.test>\r\n\r\nHello, Jill.\r\n")
}

func sign(t *testing.T, key ed25519.PrivateKey, domain string, content []byte) []byte {
	var b bytes.Buffer
	if err := dkim.Sign(&b, bytes.NewReader(content), &dkim.SignOptions{Domain: domain, Selector: "sel", Signer: key}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSPF(t *testing.T) {
	c := newChecker(t, zone("x"), "temp.test")
	for _, tc := range []struct{ from, helo, want string }{
		{"jack@pass.test", "mx.town.test", "pass"},
		{"jack@fail.test", "mx.town.test", "fail"},
		{"jack@soft.test", "mx.town.test", "softfail"},
		{"jack@none.test", "mx.town.test", "none"},
		{"jack@temp.test", "mx.town.test", "temperror"},
		{"jack@perm.test", "mx.town.test", "permerror"},
		{"", "helo.test", "pass"}, // null sender: the HELO identity
		{"", "[127.0.0.1]", "none"},
	} {
		got := c.checkSPF(context.Background(), msg(tc.from, tc.helo, plain("a@b.test")))
		if got.Value != tc.want {
			t.Errorf("SPF %q helo %q = %s (%s), want %s", tc.from, tc.helo, got.Value, got.Reason, tc.want)
		}
	}
}

func TestDKIM(t *testing.T) {
	key, pub := newKey(t)
	c := newChecker(t, zone(pub))
	signed := sign(t, key, "town.test", plain("jack@town.test"))
	res := c.checkDKIM(context.Background(), msg("jack@town.test", "mx.town.test", signed))
	if len(res) != 1 || res[0].Value != "pass" || res[0].Domain != "town.test" || res[0].Selector != "sel" || res[0].Algorithm != "ed25519-sha256" || len(res[0].B) != headerBPrefix {
		t.Fatalf("signed: %+v", res)
	}
	changed := bytes.Replace(signed, []byte("Hello, Jill."), []byte("Hello, Jilt."), 1)
	res = c.checkDKIM(context.Background(), msg("jack@town.test", "mx.town.test", changed))
	if len(res) != 1 || res[0].Value != "fail" {
		t.Fatalf("one changed byte: %+v", res)
	}
	res = c.checkDKIM(context.Background(), msg("jack@town.test", "mx.town.test", plain("jack@town.test")))
	if len(res) != 1 || res[0].Value != "none" {
		t.Fatalf("unsigned: %+v", res)
	}
	// Many signatures: only MaxSignatures are looked at.
	many := signed
	for range 2 * MaxSignatures {
		many = sign(t, key, "town.test", many)
	}
	res = c.checkDKIM(context.Background(), msg("jack@town.test", "mx.town.test", many))
	if len(res) != MaxSignatures || res[0].Value != "pass" {
		t.Fatalf("many signatures: %d results, first %+v", len(res), res[0])
	}
	// A bad base64 key and a bad signature are permerrors or failures,
	// not a crash.
	bad := bytes.Replace(signed, []byte("b="), []byte("b=!!!"), 1)
	res = c.checkDKIM(context.Background(), msg("jack@town.test", "mx.town.test", bad))
	if len(res) != 1 || res[0].Value == "pass" {
		t.Fatalf("bad base64: %+v", res)
	}
}

func TestDMARC(t *testing.T) {
	key, pub := newKey(t)
	c := newChecker(t, zone(pub), "_dmarc.tempd.test", "tempd.test")
	for _, tc := range []struct {
		name, mailFrom, from string
		signDomain           string
		want, policy         string
	}{
		{"spf aligned pass", "jack@town.test", "jack@town.test", "", "pass", ""},
		{"spf relaxed: subdomain of From", "jack@bounce.town.test", "jack@town.test", "", "pass", ""},
		{"dkim aligned pass", "jack@fail.test", "jack@town.test", "town.test", "pass", ""},
		{"reject", "jack@fail.test", "jack@town.test", "", "fail", "reject"},
		{"dkim unaligned", "jack@fail.test", "jack@town.test", "pass.test", "fail", "reject"},
		{"strict spf: subdomain does not align", "jack@mail.strict.test", "jack@strict.test", "", "fail", "reject"},
		{"quarantine", "jack@fail.test", "jack@quar.test", "", "fail", "quarantine"},
		{"sp for a subdomain", "jack@fail.test", "jack@sub.org.test", "", "fail", "quarantine"},
		{"p for the org domain", "jack@fail.test", "jack@org.test", "", "fail", "reject"},
		{"no record", "jack@fail.test", "jack@nodmarc.test", "", "none", ""},
		{"temperror", "jack@fail.test", "jack@tempd.test", "", "temperror", ""},
	} {
		content := plain(tc.from)
		if tc.signDomain != "" {
			// The key is published for town.test only; another d= fails.
			content = sign(t, key, tc.signDomain, content)
		}
		m := msg(tc.mailFrom, "mx.town.test", content)
		r := c.Check(context.Background(), m)
		if r.DMARC.Value != tc.want || r.DMARC.Policy != tc.policy {
			t.Errorf("%s: DMARC %+v (spf %s dkim %+v), want %s policy %q", tc.name, r.DMARC, r.SPF.Value, r.DKIM, tc.want, tc.policy)
		}
	}
}

// TestDMARCNullSender: a bounce (MAIL FROM:<>) is SPF-checked for its HELO
// name (RFC 7208 §2.4), and that is the SPF identifier DMARC aligns with
// the From domain (RFC 7489 §4.1): a DSN from a server of a p=reject
// domain, unsigned as most are, passes when its HELO name does.
func TestDMARCNullSender(t *testing.T) {
	c := newChecker(t, append(zone("x"), `mx.town.test. TXT "v=spf1 ip4:127.0.0.1 -all"`))
	for _, tc := range []struct{ helo, from, want, policy string }{
		{"mx.town.test", "MAILER-DAEMON@mx.town.test", "pass", ""},
		{"mx.town.test", "postmaster@town.test", "pass", ""},
		// SPF passes for a HELO of another organisation: not aligned.
		{"pass.test", "MAILER-DAEMON@town.test", "fail", "reject"},
		// An address literal is no identity at all.
		{"[127.0.0.1]", "MAILER-DAEMON@town.test", "fail", "reject"},
	} {
		r := c.Check(context.Background(), msg("", tc.helo, plain(tc.from)))
		if r.DMARC.Value != tc.want || r.DMARC.Policy != tc.policy {
			t.Errorf("null sender, HELO %s, From %s: DMARC %+v (spf %+v), want %s policy %q", tc.helo, tc.from, r.DMARC, r.SPF, tc.want, tc.policy)
		}
	}
}

// TestDMARCReportFields gives aggregate reports what they need: where
// the record was found and what it said, and which identifiers aligned
// and passed, both of them when both did.
func TestDMARCReportFields(t *testing.T) {
	key, pub := newKey(t)
	c := newChecker(t, zone(pub))
	r := c.Check(context.Background(), msg("jack@town.test", "mx.town.test", sign(t, key, "town.test", plain("jack@town.test"))))
	want := PublishedPolicy{Domain: "town.test", P: "reject", Pct: 100, ADKIM: "r", ASPF: "r", FO: "0"}
	if r.DMARC.Value != "pass" || !r.DMARC.SPFAligned || !r.DMARC.DKIMAligned || r.DMARC.Published == nil || *r.DMARC.Published != want {
		t.Errorf("both aligned: %+v %+v, want pass, both aligned, %+v", r.DMARC, r.DMARC.Published, want)
	}
	r = c.Check(context.Background(), msg("jack@fail.test", "mx.town.test", plain("jack@sub.org.test")))
	want = PublishedPolicy{Domain: "org.test", P: "reject", SP: "quarantine", Pct: 100, ADKIM: "r", ASPF: "r", FO: "0"}
	if r.DMARC.Value != "fail" || r.DMARC.SPFAligned || r.DMARC.DKIMAligned || r.DMARC.Published == nil || *r.DMARC.Published != want {
		t.Errorf("subdomain: %+v %+v, want fail at org.test %+v", r.DMARC, r.DMARC.Published, want)
	}
	c.Percent = func() int { return 70 }
	r = c.Check(context.Background(), msg("jack@fail.test", "mx.town.test", plain("jack@half.test")))
	if !r.DMARC.SampledOut || r.DMARC.Published.Pct != 50 {
		t.Errorf("pct=50 sample 70: %+v %+v, want sampled out at pct 50", r.DMARC, r.DMARC.Published)
	}
	r = c.Check(context.Background(), msg("jack@fail.test", "mx.town.test", plain("jack@nodmarc.test")))
	if r.DMARC.Published != nil {
		t.Errorf("no record: published %+v", r.DMARC.Published)
	}
}

func TestDMARCPercent(t *testing.T) {
	c := newChecker(t, zone("x"))
	for pick, want := range map[int]string{10: "reject", 49: "reject", 50: "quarantine", 99: "quarantine"} {
		c.Percent = func() int { return pick }
		r := c.Check(context.Background(), msg("jack@fail.test", "mx.town.test", plain("jack@half.test")))
		if r.DMARC.Value != "fail" || r.DMARC.Policy != want {
			t.Errorf("pct=50, sample %d: %+v, want policy %s", pick, r.DMARC, want)
		}
	}
}

func TestIPRev(t *testing.T) {
	c := newChecker(t, append(zone("x"), `2.0.0.127.in-addr.arpa. PTR elsewhere.test.`, `elsewhere.test. A 192.0.2.9`), "3.0.0.127.in-addr.arpa.")
	for ip, want := range map[string]string{"127.0.0.1": "pass", "127.0.0.2": "fail", "127.0.0.3": "temperror", "127.0.0.4": "fail"} {
		if got := c.checkIPRev(context.Background(), netip.MustParseAddr(ip)); got.Value != want {
			t.Errorf("iprev %s = %+v, want %s", ip, got, want)
		}
	}
}

// TestAuthenticationResults: the field pail writes is what a third-party
// parser reads back.
func TestAuthenticationResults(t *testing.T) {
	key, pub := newKey(t)
	c := newChecker(t, zone(pub))
	r := c.Check(context.Background(), msg("jack@town.test", "mx.town.test", sign(t, key, "town.test", plain("jack@town.test"))))
	f := r.Field()
	if !strings.HasPrefix(f, "Authentication-Results: mx.hill.test;\r\n\t") || !strings.HasSuffix(f, "\r\n") {
		t.Fatalf("field %q", f)
	}
	for _, line := range strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line too long: %q", line)
		}
	}
	value := strings.ReplaceAll(strings.TrimPrefix(strings.TrimSuffix(f, "\r\n"), "Authentication-Results:"), "\r\n", "")
	id, results, err := authres.Parse(value)
	if err != nil || id != "mx.hill.test" {
		t.Fatalf("parse %q: id %q, %v", value, id, err)
	}
	var seen []string
	for _, res := range results {
		switch res := res.(type) {
		case *authres.SPFResult:
			if res.Value != authres.ResultPass || res.From != "jack@town.test" || res.Helo != "mx.town.test" {
				t.Errorf("spf %+v", res)
			}
			seen = append(seen, "spf")
		case *authres.DKIMResult:
			if res.Value != authres.ResultPass || res.Domain != "town.test" {
				t.Errorf("dkim %+v", res)
			}
			seen = append(seen, "dkim")
		case *authres.DMARCResult:
			if res.Value != authres.ResultPass || res.From != "town.test" {
				t.Errorf("dmarc %+v", res)
			}
			seen = append(seen, "dmarc")
		case *authres.IPRevResult:
			if res.Value != authres.ResultPass || res.IP != "127.0.0.1" {
				t.Errorf("iprev %+v", res)
			}
			seen = append(seen, "iprev")
		}
	}
	if strings.Join(seen, ",") != "spf,dkim,dmarc,iprev" {
		t.Errorf("results %v in %q", seen, f)
	}
	if !strings.Contains(f, "header.s=sel") || !strings.Contains(f, "header.a=ed25519-sha256") {
		t.Errorf("dkim result lacks header.s or header.a: %q", f)
	}

	// Submission: auth=pass with the user.
	sub := (&Checker{Hostname: "mx.hill.test"}).Check(context.Background(), &Message{User: "jill@hill.test"}).Field()
	_, results, err = authres.Parse(strings.ReplaceAll(strings.TrimPrefix(strings.TrimSuffix(sub, "\r\n"), "Authentication-Results:"), "\r\n", ""))
	if a, ok := results[0].(*authres.AuthResult); err != nil || len(results) != 1 || !ok || a.Value != authres.ResultPass || a.Auth != "jill@hill.test" {
		t.Fatalf("submission field %q: %v", sub, err)
	}
}

func TestOwnResults(t *testing.T) {
	header := "Received: from x\r\n" +
		"Authentication-Results: MX.Hill.Test; dkim=pass header.d=bank.test\r\n" +
		"Authentication-Results: mx.town.test; spf=pass\r\n" +
		"Authentication-Results: (comment) \"mx.hill.test\"\r\n\t; dmarc=pass\r\n" +
		"authentication-results:mx.hill.test;none\r\n" +
		"Authentication-Results: mx.hill.test.evil; spf=pass\r\n" +
		"Subject: x\r\n\r\n"
	var kept strings.Builder
	last := int64(0)
	for _, s := range OwnResults([]byte(header), "mx.hill.test") {
		kept.WriteString(header[last:s.Start])
		last = s.End
	}
	kept.WriteString(header[last:])
	want := "Received: from x\r\nAuthentication-Results: mx.town.test; spf=pass\r\nAuthentication-Results: mx.hill.test.evil; spf=pass\r\nSubject: x\r\n\r\n"
	if kept.String() != want {
		t.Fatalf("kept\n%q\nwant\n%q", kept.String(), want)
	}
}

// TestDeadResolver: a resolver that never answers costs the budget, and
// the checks come back as temperrors.
func TestDeadResolver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := &Checker{Hostname: "mx.hill.test", Resolver: resolve.New(pc.LocalAddr().String(), 10*time.Second), Budget: 500 * time.Millisecond}
	start := time.Now()
	r := c.Check(context.Background(), msg("jack@town.test", "mx.town.test", plain("jack@town.test")))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("checks took %s with a 500ms budget", d)
	}
	if r.SPF.Value != "temperror" || r.DMARC.Value != "temperror" || r.IPRev.Value != "temperror" {
		t.Fatalf("dead resolver: spf %s dmarc %s iprev %s", r.SPF.Value, r.DMARC.Value, r.IPRev.Value)
	}
	d := (&Pipeline{Checker: c, Judges: []Judge{&PolicyJudge{}, &ScoreJudge{}}}).Decide(context.Background(), msg("jack@town.test", "mx.town.test", plain("jack@town.test")))
	if d.Action != Deliver {
		t.Fatalf("dead resolver: %v %s", d.Action, d.Reason)
	}
}

func TestReadHeader(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", headerChunk-10) + "\r\n\r\nbody"
	for _, tc := range []struct {
		in, want string
		complete bool
	}{
		{"A: b\r\n\r\nbody\r\n", "A: b\r\n\r\n", true},
		{"\r\nbody", "\r\n", true},
		{"A: b\r\n", "A: b\r\n", true},   // all header
		{long, long[:len(long)-4], true}, // the empty line across chunks
		{"A: " + strings.Repeat("b", MaxHeaderBytes), "A: " + strings.Repeat("b", MaxHeaderBytes-3), false},
	} {
		h, complete, err := ReadHeader(strings.NewReader(tc.in), int64(len(tc.in)))
		if err != nil || string(h) != tc.want || complete != tc.complete {
			t.Errorf("ReadHeader(%.40q): %.40q %v %v, want %.40q %v", tc.in, h, complete, err, tc.want, tc.complete)
		}
	}
}
