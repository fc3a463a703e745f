package rspamd

import (
	"slices"
	"strings"
	"testing"

	"pail/internal/verify"
)

// TestVerdict checks the mapping of issue 15 item 5.
func TestVerdict(t *testing.T) {
	syms := map[string]Symbol{"GTUBE": {Name: "GTUBE", Score: 0}, "BAYES_SPAM": {Score: 5.1}, "MIME_GOOD": {Score: -0.1}}
	for _, tc := range []struct {
		res      Result
		disp     Disposition
		code     int
		enhanced string
		text     string
		flag     bool
		status   string
		subject  string
	}{
		{Result{Action: Reject, Score: 15, RequiredScore: 15, Symbols: syms, SMTPMessage: "Gtube pattern"}, Refuse, 554, "5.7.1", "Gtube pattern", false, "Yes, score=15.00 required=15.00 tests=BAYES_SPAM, MIME_GOOD", ""},
		{Result{Action: Reject, SMTPMessage: "bad\r\n250 ok"}, Refuse, 554, "5.7.1", "bad  250 ok", false, "Yes, score=0.00 required=0.00", ""},
		{Result{Action: Reject}, Refuse, 554, "5.7.1", "Message refused as spam", false, "Yes, score=0.00 required=0.00", ""},
		{Result{Action: SoftReject, SMTPMessage: "Ratelimit exceeded"}, Defer, 451, "4.7.1", "Ratelimit exceeded", false, "No, score=0.00 required=0.00", ""},
		{Result{Action: Greylist, Score: 4}, Defer, 451, "4.7.1", "Greylisted, try again later", false, "No, score=4.00 required=0.00", ""},
		{Result{Action: AddHeader, Score: 7.5, RequiredScore: 15, Symbols: syms}, Junk, 0, "", "", true, "Yes, score=7.50 required=15.00 tests=BAYES_SPAM, MIME_GOOD", ""},
		{Result{Action: RewriteSubject, Score: 8, Subject: "*** SPAM *** lunch"}, Junk, 0, "", "", true, "Yes, score=8.00 required=0.00", "*** SPAM *** lunch"},
		{Result{Action: NoAction, Score: -0.1, RequiredScore: 15}, Deliver, 0, "", "", false, "No, score=-0.10 required=15.00", ""},
		{Result{Action: "discard"}, Deliver, 0, "", "", false, "No, score=0.00 required=0.00", ""},
	} {
		v := tc.res.Verdict()
		if v.Disposition != tc.disp || v.Code != tc.code || v.Enhanced != tc.enhanced || v.Text != tc.text || v.Subject != tc.subject {
			t.Errorf("%s: %+v", tc.res.Action, v)
		}
		got := map[string]string{}
		for _, h := range v.Headers {
			got[h.Name] = h.Value
		}
		if (got["X-Spam-Flag"] == "YES") != tc.flag || got["X-Spam-Status"] != tc.status || got["X-Spam-Action"] != string(tc.res.Action) || got["X-Spam-Score"] == "" {
			t.Errorf("%s: headers %q", tc.res.Action, v.Headers)
		}
		if tc.flag && v.Headers[0].Name != "X-Spam-Flag" {
			t.Errorf("%s: X-Spam-Flag not first: %q", tc.res.Action, v.Headers)
		}
	}
	if v := (Result{}).Verdict(); v.Disposition != Deliver || len(v.Headers) != 0 || v.Subject != "" {
		t.Errorf("zero Result: %+v", v)
	}
}

// edited is msg as Edit makes it, the header section given whole when it
// ends in msg (as the Judge gives it), nil when it does not.
func edited(v Verdict, msg string) string {
	var header []byte
	if i := strings.Index(msg, "\r\n\r\n"); i >= 0 {
		header = []byte(msg[:i+4])
	}
	fields, remove := v.Edit(header)
	// In order, as the Pipeline puts them.
	slices.SortFunc(remove, func(a, b verify.Span) int { return int(a.Start - b.Start) })
	var b strings.Builder
	b.WriteString(fields)
	pos := int64(0)
	for _, s := range remove {
		if s.Start < pos {
			continue // a span already left out
		}
		b.WriteString(msg[pos:s.Start])
		pos = s.End
	}
	b.WriteString(msg[pos:])
	return b.String()
}

// TestEdit: the verdict's fields go on top, forged X-Spam-* fields and
// those rspamd names are removed, the Subject is replaced, and the body
// is untouched.
func TestEdit(t *testing.T) {
	msg := "Received: from far\r\nX-Spam-Flag: NO\r\nX-Spam-Status: No,\r\n score=-100\r\nSubject: lunch\r\n" +
		"X-Spamd-Bar: old1\r\nX-Spamd-Bar: old2\r\nX-Spam: yes\r\nX-Spam: again\r\n\r\nX-Spam-Flag: NO in the body\r\n"
	res := Result{Action: RewriteSubject, Score: 9, RequiredScore: 15, Subject: "[SPAM] déjeuner",
		AddHeaders: []Header{{"X-Rspamd-Server", "mx1"}}, RemoveHeaders: map[string]int{"X-Spamd-Bar": -1, "X-Spam": 0}}
	want := "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.00 required=15.00\r\nX-Spam-Score: 9.00\r\n" +
		"X-Spam-Action: rewrite subject\r\nX-Rspamd-Server: mx1\r\nSubject: =?utf-8?q?[SPAM]_d=C3=A9jeuner?=\r\n" +
		"Received: from far\r\nX-Spamd-Bar: old1\r\n\r\nX-Spam-Flag: NO in the body\r\n"
	if got := edited(res.Verdict(), msg); got != want {
		t.Errorf("Edit:\n%s\nwant:\n%s", got, want)
	}
	// The first from the top; one past the count removes nothing.
	res = Result{Action: NoAction, RemoveHeaders: map[string]int{"X-Spamd-Bar": 1, "X-Spam": 3}}
	if got := edited(res.Verdict(), msg); !strings.Contains(got, "\r\nSubject: lunch\r\nX-Spamd-Bar: old2\r\nX-Spam: yes\r\nX-Spam: again\r\n\r\n") {
		t.Errorf("Edit removing the first X-Spamd-Bar:\n%s", got)
	}

	// Lines that are no fields stay as they are, under the new fields;
	// a header section not read whole loses nothing and keeps its
	// Subject.
	for _, m := range []string{" bad first line\r\nSubject: x\r\n\r\nbody\r\n", "Subject: x\r\nX-Spam-Flag: NO\r\n"} {
		got := edited(Result{Action: RewriteSubject, Subject: "[SPAM] x"}.Verdict(), m)
		if !strings.HasPrefix(got, "X-Spam-Flag: YES\r\n") || !strings.Contains(got, "X-Spam-Action: rewrite subject\r\n") {
			t.Errorf("Edit(%q) = %q", m, got)
		}
		if strings.Contains(m, "\r\n\r\n") != strings.Contains(got, "Subject: [SPAM] x\r\n") || !strings.Contains(got, "Subject: x\r\n") != strings.Contains(m, "\r\n\r\n") {
			t.Errorf("Edit(%q) Subject: %q", m, got)
		}
	}
	// A long X-Spam-Status is folded, never broken.
	syms := map[string]Symbol{}
	for _, n := range []string{"AAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCCC", "DDDDDDDDDDDDDDDDDD"} {
		syms[n] = Symbol{Score: 1}
	}
	got := edited(Result{Action: NoAction, Symbols: syms}.Verdict(), "Subject: x\r\n\r\n")
	for _, line := range strings.Split(got, "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d: %q", len(line), line)
		}
	}
	if !strings.Contains(got, "tests=AAAAAAAAAAAAAAAAAAAA,\r\n\tBBBBBBBBBBBBBBBBBBBBBB, CCCCCCCCCCCCCCCCCCCCCCC, DDDDDDDDDDDDDDDDDD\r\n") {
		t.Errorf("folded: %q", got)
	}
}
