package mtasts

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRecordFrom: the one v=STSv1 record among the TXT records, by RFC
// 8461 §3.1's grammar; none, several or a malformed one is no policy.
func TestRecordFrom(t *testing.T) {
	for _, tc := range []struct {
		txts []string
		id   string
		err  error
	}{
		{[]string{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z", nil},
		{[]string{"v=STSv1; id=abc"}, "abc", nil},
		{[]string{"v=STSv1;id=abc"}, "abc", nil},
		{[]string{"v=STSv1 ; id=abc ;"}, "abc", nil},
		{[]string{"v=spf1 -all", "v=STSv1; id=abc", "google-site-verification=x"}, "abc", nil},
		{[]string{"v=STSv1; ext.x-1=val; id=Z9"}, "Z9", nil},
		{[]string{"v=STSv1; id=" + strings.Repeat("a", 32)}, strings.Repeat("a", 32), nil},
		{nil, "", ErrNoRecord},
		{[]string{"v=spf1 -all"}, "", ErrNoRecord},
		{[]string{"v=STSv10; id=abc"}, "", ErrNoRecord},
		{[]string{"V=STSv1; id=abc"}, "", ErrNoRecord},
		{[]string{"v=STSv1; id=abc", "v=STSv1; id=abd"}, "", ErrMultipleRecords},
		{[]string{"v=STSv1; id=abc", "v=STSv1; id=abc"}, "", ErrMultipleRecords},
		{[]string{"v=STSv1"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1;"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id="}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=ab-c"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=" + strings.Repeat("a", 33)}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=a; id=b"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=a;; x=y"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=a; x"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=a; _x=y"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; id=a; x=y z"}, "", ErrRecordSyntax},
		{[]string{"v=STSv1; ID=a"}, "", ErrRecordSyntax},
	} {
		r, err := RecordFrom(tc.txts)
		if !errors.Is(err, tc.err) || (tc.err == nil && r.ID != tc.id) {
			t.Errorf("%q: %+v, %v; want id %q, %v", tc.txts, r, err, tc.id, tc.err)
		}
	}
}

// TestParsePolicy: RFC 8461 §3.2 policies with CRLF or LF lines,
// unknown keys ignored, and bad input refused with ErrPolicySyntax.
func TestParsePolicy(t *testing.T) {
	good := []struct {
		text string
		want Policy
	}{
		{"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
			Policy{ModeEnforce, []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, 604800 * time.Second}},
		{"version: STSv1\nmode: testing\nmx: MX.Example.COM\nmax_age: 86400",
			Policy{ModeTesting, []string{"mx.example.com"}, 86400 * time.Second}},
		{"max_age:31557600 \nmx:\tmx.a.test\nversion: STSv1\nfuture_key: some value here\nmode: enforce\n\n",
			Policy{ModeEnforce, []string{"mx.a.test"}, MaxMaxAge}},
		{"version: STSv1\r\nmode: none\r\nmax_age: 0\r\n", Policy{ModeNone, nil, 0}},
	}
	for _, tc := range good {
		p, err := ParsePolicy([]byte(tc.text))
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if p.Mode != tc.want.Mode || p.MaxAge != tc.want.MaxAge || strings.Join(p.MX, ",") != strings.Join(tc.want.MX, ",") {
			t.Errorf("%q: %+v, want %+v", tc.text, *p, tc.want)
		}
	}
	base := map[string]string{"version": "STSv1", "mode": "enforce", "mx": "mx.a.test", "max_age": "86400"}
	with := func(k, v string) string {
		var b strings.Builder
		for _, key := range []string{"version", "mode", "mx", "max_age"} {
			val := base[key]
			if key == k {
				if v == "-" {
					continue
				}
				val = v
			}
			b.WriteString(key + ": " + val + "\r\n")
		}
		return b.String()
	}
	bad := []string{
		with("version", "-"), with("version", "STSv2"), with("version", "stsv1"),
		with("mode", "-"), with("mode", "Enforce"), with("mode", "report"),
		with("max_age", "-"), with("max_age", "31557601"), with("max_age", "12345678901"),
		with("max_age", "-1"), with("max_age", "1e6"), with("max_age", "86400s"),
		with("mx", "-"), with("mx", "mx..a.test"), with("mx", "*.*.a.test"), with("mx", "mx.a.test."),
		with("mx", "-mx.a.test"), with("mx", "mx_1.a.test"), with("mx", "mx.a.test, mx.b.test"), with("mx", "*"),
		with("mx", "ünicode.test"), with("mx", "mx.a.test\x00"),
		with("version", "STSv1") + "version: STSv1\r\n",
		with("mode", "enforce") + "mode: testing\r\n",
		with("max_age", "1") + "max_age: 1\r\n",
		with("mx", "mx.a.test") + "no colon here\r\n",
		with("mx", "mx.a.test") + "bad key!: x\r\n",
		with("mx", "mx.a.test") + ": empty key\r\n",
		with("mx", "mx.a.test") + "ext: \x01\r\n",
		"\xff\xfe" + with("mx", "mx.a.test"),
		with("mx", "mx.a.test") + "pad: " + strings.Repeat("x", MaxPolicyBytes) + "\r\n",
		"",
	}
	for _, text := range bad {
		if p, err := ParsePolicy([]byte(text)); !errors.Is(err, ErrPolicySyntax) {
			t.Errorf("%.80q: %+v, %v; want ErrPolicySyntax", text, p, err)
		}
	}
}

// TestMatches: exact names match but for case and a trailing dot; a
// wildcard stands for exactly one label (RFC 8461 §4.1).
func TestMatches(t *testing.T) {
	p := &Policy{Mode: ModeEnforce, MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com":      true,
		"MAIL.Example.Com.":     true,
		"mx1.example.net":       true,
		"MX1.EXAMPLE.NET.":      true,
		"example.net":           false,
		"a.b.example.net":       false,
		".example.net":          false,
		"mail.example.com.evil": false,
		"xmail.example.com":     false,
		"example.com":           false,
		"mx1.example.net.evil":  false,
		"":                      false,
		"*.example.net":         true, // a literal label "*": one label below
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestServedPolicyRoundTrip: what String serves parses back to the same
// policy, and ID changes exactly when the policy does.
func TestServedPolicyRoundTrip(t *testing.T) {
	p := &Policy{Mode: ModeTesting, MX: []string{"mx.hill.test"}, MaxAge: 604800 * time.Second}
	back, err := ParsePolicy([]byte(p.String()))
	if err != nil || back.String() != p.String() {
		t.Fatalf("%q parses to %+v, %v", p.String(), back, err)
	}
	if !strings.Contains(p.String(), "\r\nmx: mx.hill.test\r\n") || !strings.HasPrefix(p.String(), "version: STSv1\r\n") {
		t.Errorf("policy text %q", p.String())
	}
	id := p.ID()
	if r, err := ParseRecord(p.TXT()); err != nil || r.ID != id || len(id) != idLen {
		t.Errorf("TXT %q: %+v, %v", p.TXT(), r, err)
	}
	same := &Policy{Mode: ModeTesting, MX: []string{"mx.hill.test"}, MaxAge: 604800 * time.Second}
	if same.ID() != id {
		t.Errorf("equal policies, ids %s and %s", id, same.ID())
	}
	for _, q := range []*Policy{
		{Mode: ModeEnforce, MX: p.MX, MaxAge: p.MaxAge},
		{Mode: p.Mode, MX: []string{"mx2.hill.test"}, MaxAge: p.MaxAge},
		{Mode: p.Mode, MX: p.MX, MaxAge: p.MaxAge + time.Second},
	} {
		if q.ID() == id {
			t.Errorf("%+v has the id of %+v", *q, *p)
		}
	}
}
