package mbox

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// normalize returns what a message becomes after Write then Read: every
// line, including an unterminated last one, ends in exactly one CRLF, and
// '\r' just before a line ending is taken as part of it.
func normalize(msg []byte) []byte {
	out := []byte{}
	for len(msg) > 0 {
		line, rest, _ := bytes.Cut(msg, []byte("\n"))
		out = append(out, bytes.TrimRight(line, "\r")...)
		out = append(out, '\r', '\n')
		msg = rest
	}
	return out
}

// canonical reports whether msg is a message pail stores, for which the
// round trip is exact: every line ends in CRLF, with no other '\r' right
// before it.
func canonical(msg []byte) bool {
	return bytes.Equal(normalize(msg), msg)
}

type envelope struct {
	from string
	date time.Time
	body []byte
}

// roundTrip writes msgs to an mbox file and reads it back, with buffers of
// the given size.
func roundTrip(t testing.TB, size int, msgs []envelope) (file []byte, got []*Message) {
	t.Helper()
	var buf bytes.Buffer
	w := newWriterSize(&buf, size)
	for _, m := range msgs {
		if err := w.WriteMessage(m.from, m.date, bytes.NewReader(m.body)); err != nil {
			t.Fatalf("WriteMessage: %v", err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	file = bytes.Clone(buf.Bytes())
	return file, readAll(t, newReaderSize(&buf, size))
}

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 110<<10/16) // 110 KiB
	bodies := []string{
		"",
		"\r\n",
		"\r\n\r\n\r\n",
		"Subject: hello\r\n\r\nbody\r\n",
		"From me\r\n",
		">From x\r\n",
		">>From y\r\n",
		"Subject: quoting\r\n\r\nFrom me\r\n>From x\r\n>>From y\r\n>>>From z\r\nFrom\r\n>From\r\n\r\nFrom \r\n",
		"From ",
		"ends without newline",
		"ends without crlf\n",
		"ends with cr\r",
		"bare\rcr\r\n",
		"trailing blank lines\r\n\r\n\r\n",
		"\r\n\r\nleading blank lines\r\n",
		long + "\r\n" + long + long + "\r\n",
		"long quoted " + strings.Repeat(">", 2*bufSize) + "From x\r\n" + strings.Repeat(">", 2*bufSize) + "From y\r\n",
		strings.Repeat(">", 2*bufSize) + "From x\r\n",
		strings.Repeat("y", bufSize-1) + "\r\n" + strings.Repeat("z", bufSize-2) + "\r\n",
		"a\rFrom x\r\n",
		"\x00\xff binary\r\n",
	}
	var msgs []envelope
	for i, b := range bodies {
		from := []string{"a@example.org", "", "b@example.net"}[i%3]
		date := time.Date(2000+i, time.Month(1+i%12), 1+i, i, 2*i, 3*i, 0, time.UTC)
		msgs = append(msgs, envelope{from, date, []byte(b)})
	}
	file, got := roundTrip(t, bufSize, msgs)
	if !bytes.Contains(file, []byte("\n>From me\n>>From x\n>>>From y\n>>>>From z\nFrom\n>From\n\n>From \n")) {
		t.Errorf("quoting not applied in file")
	}
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, wrote %d", len(got), len(msgs))
	}
	for i, m := range msgs {
		want := normalize(m.body)
		if canonical(m.body) && !bytes.Equal(want, m.body) {
			t.Fatalf("normalize changed canonical message %d", i)
		}
		if !bytes.Equal(got[i].Body, want) {
			t.Errorf("message %d: body %.60q (%d bytes), want %.60q (%d bytes)", i, got[i].Body, len(got[i].Body), want, len(want))
		}
		wantFrom := m.from
		if wantFrom == "" {
			wantFrom = "MAILER-DAEMON"
		}
		if got[i].From != wantFrom {
			t.Errorf("message %d: From %q, want %q", i, got[i].From, wantFrom)
		}
		if !got[i].Date.Equal(m.date) {
			t.Errorf("message %d: Date %v, want %v", i, got[i].Date, m.date)
		}
	}
}

// TestRoundTripExact checks the promise pail relies on: a stored message,
// with CRLF line endings, comes back byte for byte.
func TestRoundTripExact(t *testing.T) {
	for _, b := range []string{
		"",
		"\r\n",
		"From me\r\n>From x\r\n>>From y\r\n",
		"Subject: x\r\n\r\n\r\n\r\n",
		strings.Repeat("x", 200<<10) + "\r\n",
	} {
		_, got := roundTrip(t, bufSize, []envelope{{"a@example.org", testDate, []byte(b)}, {"b@example.org", testDate, []byte(b)}})
		for i, m := range got {
			if string(m.Body) != b {
				t.Errorf("message %d: got %.40q, want %.40q", i, m.Body, b)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a\r\n"},
		{"a\n", "a\r\n"},
		{"a\r\n", "a\r\n"},
		{"a\r\r\n", "a\r\n"},
		{"a\r", "a\r\n"},
		{"\n\n", "\r\n\r\n"},
		{"a\rb", "a\rb\r\n"},
	}
	for _, tt := range tests {
		if got := string(normalize([]byte(tt.in))); got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
