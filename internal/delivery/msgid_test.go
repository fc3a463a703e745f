package delivery

import "testing"

func TestMessageIDScanner(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n", "<a@b>"},
		{"message-id:   <a@b>  \r\n\r\n", "<a@b>"},
		{"Message-ID:\r\n <folded@b>\r\n\r\n", "<folded@b>"},
		{"Subject: x\r\n\r\nMessage-ID: <in@body>\r\n", ""},
		{"Message-ID: not-an-id\r\n\r\n", ""},
		{"X-Message-ID: <a@b>\r\n\r\n", ""},
		{"Message-ID: <first@b>\r\nMessage-ID: <second@b>\r\n\r\n", "<first@b>"},
	} {
		var s messageIDScanner
		for i := 0; i < len(tc.in); i += 2 {
			s.scan([]byte(tc.in[i:min(i+2, len(tc.in))]))
		}
		if got := s.id(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
