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
