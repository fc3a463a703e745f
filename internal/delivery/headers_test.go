package delivery

import (
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
