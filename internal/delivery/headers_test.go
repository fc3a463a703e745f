package delivery

import (
	"errors"
	"strings"
	"testing"
)

func TestHeaderFixer(t *testing.T) {
	for _, tc := range []struct {
		in      string
		addDate bool
		addID   bool
	}{
		{"Subject: x\r\n\r\nbody\r\n", true, true},
		{"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id: <a@b>\r\n\r\nbody\r\n", false, false},
		{"DATE: x\r\n\r\n", false, true},
		{"Subject: all header\r\n", true, true},
		{"\r\nno header\r\n", true, true},
		{"X-Date: x\r\nSubject: Message-ID: no\r\n\r\n", true, true},
		// Obsolete syntax (RFC 5322 §4.5): WSP before the colon; bare-LF
		// lines are read like CRLF ones.
		{"Date : x\r\nMessage-ID\t: <a@b>\r\n\r\n", false, false},
		{"date: x\nmessage-id : <a@b>\n\r\n", false, false},
		{"Date x: y\r\nMessage ID: z\r\n\r\n", true, true},
	} {
		var out strings.Builder
		h := NewHeaderFixer(&out, "mx.test", "abc")
		// Feed in small pieces, as the network would.
		for i := 0; i < len(tc.in); i += 3 {
			h.Write([]byte(tc.in[i:min(i+3, len(tc.in))]))
		}
		h.Close()
		got := out.String()
		if !strings.HasSuffix(got, tc.in) {
			t.Errorf("%q: original not kept: %q", tc.in, got)
		}
		added := got[:len(got)-len(tc.in)]
		if strings.HasPrefix(added, "Date: ") != tc.addDate || strings.Contains(added, "Message-ID: <abc@mx.test>\r\n") != tc.addID {
			t.Errorf("%q: added %q", tc.in, added)
		}
	}
}

func TestHeaderFixerAuthors(t *testing.T) {
	mine := func(a string) (bool, error) { return a == "jill@hill.com", nil }
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"From: Jill <jill@hill.com>\r\nSubject: x\r\n\r\nbody\r\n", nil},
		{"Subject: no from\r\n\r\nbody\r\n", nil},
		{"From: Bob <bob@hill.com>\r\n\r\n", ErrAuthorNotOwned},
		{"from: jill@hill.com,\r\n\tbob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		{"From: jill@hill.com\r\nSENDER: bob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		{"From: jill@hill.com\r\nX: y\r\nFrom: bob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		{"From: not an address\r\n\r\n", ErrAuthorUnreadable},
		{"From: undisclosed:;\r\n\r\n", ErrAuthorUnreadable},
		// Obsolete syntax: WSP between the name and the colon is still a
		// From (RFC 5322 §4.5.2), names in any case.
		{"From : bob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		{"From\t: Bob <bob@hill.com>\r\n\r\n", ErrAuthorNotOwned},
		{"FROM:bob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		{"From \t : jill@hill.com\r\nSender : bob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		{"From : Jill\r\n <jill@hill.com>\r\n\r\n", nil},
		{"From: jill@hill.com\r\nFrom : bob@hill.com\r\n\r\n", ErrAuthorNotOwned},
		// Several From fields (RFC 5322 §3.6 allows one) pass only when
		// every address of every one is the account's.
		{"From: jill@hill.com\r\nFrom: Jill <jill@hill.com>\r\n\r\n", nil},
		// A group (not allowed in From, §3.6.2) is held to the rule by
		// its members; an empty one has no author (see undisclosed above).
		{"From: team: bob@hill.com;\r\n\r\n", ErrAuthorNotOwned},
		{"From : team: jill@hill.com, bob@hill.com;\r\n\r\n", ErrAuthorNotOwned},
		// An encoded word in the display name is decoded after parsing, so
		// a '<' or '@' in it never becomes the address.
		{"From: =?utf-8?q?Jill_=3Cjill=40hill=2Ecom=3E?= <bob@hill.com>\r\n\r\n", ErrAuthorNotOwned},
		{"From: =?utf-8?q?jill@hill.com?= <bob@hill.com>\r\n\r\n", ErrAuthorUnreadable},
		{"From x: bob@hill.com\r\n\r\n", nil}, // no From: the name has a space
		{"X-Big: " + strings.Repeat("x", 2*maxHeaderScan) + "\r\nFrom: bob@hill.com\r\n\r\n", ErrHeaderTooLarge},
	} {
		var out strings.Builder
		h := NewHeaderFixer(&out, "mx.test", "abc")
		h.MayAuthor = mine
		var err error
		for i := 0; i < len(tc.in) && err == nil; i += 1000 {
			_, err = h.Write([]byte(tc.in[i:min(i+1000, len(tc.in))]))
		}
		if err == nil {
			err = h.Close()
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%.60q: %v, want %v", tc.in, err, tc.want)
		}
		if tc.want != nil && out.Len() != 0 {
			t.Errorf("%.60q: refused but wrote %d bytes", tc.in, out.Len())
		}
	}
}
