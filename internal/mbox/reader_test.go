package mbox

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// readAll reads every message from r, failing the test on an error.
func readAll(t testing.TB, r *Reader) []*Message {
	t.Helper()
	var msgs []*Message
	for {
		m, err := r.Next()
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatalf("Next after %d messages: %v", len(msgs), err)
		}
		msgs = append(msgs, m)
	}
}

func TestReader(t *testing.T) {
	type msg struct{ from, body string }
	tests := []struct {
		name string
		in   string
		want []msg
	}{
		{"empty file", "", nil},
		{"one", "From a@x Mon Jan  2 15:04:05 2006\nSubject: s\n\nbody\n\n",
			[]msg{{"a@x", "Subject: s\r\n\r\nbody\r\n"}}},
		{"two", "From a@x Mon Jan  2 15:04:05 2006\none\n\nFrom b@y Mon Jan  2 15:04:05 2006\ntwo\n\n",
			[]msg{{"a@x", "one\r\n"}, {"b@y", "two\r\n"}}},
		{"crlf file", "From a@x Mon Jan  2 15:04:05 2006\r\none\r\n\r\nFrom b@y Mon Jan  2 15:04:05 2006\r\ntwo\r\n\r\n",
			[]msg{{"a@x", "one\r\n"}, {"b@y", "two\r\n"}}},
		{"mixed endings", "From a@x Mon Jan  2 15:04:05 2006\none\r\ntwo\n\r\n",
			[]msg{{"a@x", "one\r\ntwo\r\n"}}},
		{"missing final blank line", "From a@x Mon Jan  2 15:04:05 2006\none\n",
			[]msg{{"a@x", "one\r\n"}}},
		{"missing final newline", "From a@x Mon Jan  2 15:04:05 2006\none",
			[]msg{{"a@x", "one\r\n"}}},
		{"missing final lf", "From a@x Mon Jan  2 15:04:05 2006\none\r",
			[]msg{{"a@x", "one\r\n"}}},
		{"no blank line before separator", "From a@x Mon Jan  2 15:04:05 2006\none\nFrom b@y Mon Jan  2 15:04:05 2006\ntwo\n",
			[]msg{{"a@x", "one\r\n"}, {"b@y", "two\r\n"}}},
		{"only one blank line removed", "From a@x Mon Jan  2 15:04:05 2006\none\n\n\n\nFrom b@y Mon Jan  2 15:04:05 2006\n\n\n",
			[]msg{{"a@x", "one\r\n\r\n\r\n"}, {"b@y", "\r\n"}}},
		{"empty messages", "From a@x Mon Jan  2 15:04:05 2006\n\nFrom b@y Mon Jan  2 15:04:05 2006\n\nFrom c@z Mon Jan  2 15:04:05 2006\n",
			[]msg{{"a@x", ""}, {"b@y", ""}, {"c@z", ""}}},
		{"separator without newline", "From a@x Mon Jan  2 15:04:05 2006", []msg{{"a@x", ""}}},
		{"unquote", "From a@x Mon Jan  2 15:04:05 2006\n>From me\n>>From x\n>>>From y\n\n",
			[]msg{{"a@x", "From me\r\n>From x\r\n>>From y\r\n"}}},
		{"no unquote", "From a@x Mon Jan  2 15:04:05 2006\n>From\n>Fromage\n> From x\n>\n>>\n>from x\n\n",
			[]msg{{"a@x", ">From\r\n>Fromage\r\n> From x\r\n>\r\n>>\r\n>from x\r\n"}}},
		{"only quotes at end", "From a@x Mon Jan  2 15:04:05 2006\n>>", []msg{{"a@x", ">>\r\n"}}},
		{"quoted separator at end", "From a@x Mon Jan  2 15:04:05 2006\n>From ", []msg{{"a@x", "From \r\n"}}},
		{"From without space is body", "From a@x Mon Jan  2 15:04:05 2006\nFrom\nFromage\n\n",
			[]msg{{"a@x", "From\r\nFromage\r\n"}}},
		{"cr runs", "From a@x Mon Jan  2 15:04:05 2006\na\r\r\nb\rc\n\r\r\n",
			[]msg{{"a@x", "a\r\nb\rc\r\n"}}},
		{"bare cr line", "From a@x Mon Jan  2 15:04:05 2006\n\r\rx\n\n",
			[]msg{{"a@x", "\r\rx\r\n"}}},
		{"blank line then quoted", "From a@x Mon Jan  2 15:04:05 2006\na\n\n>From b\n\n",
			[]msg{{"a@x", "a\r\n\r\nFrom b\r\n"}}},
		{"empty sender", "From  Mon Jan  2 15:04:05 2006\nx\n", []msg{{"", "x\r\n"}}},
		{"tab after sender", "From a@x\tMon Jan  2 15:04:05 2006\nx\n", []msg{{"a@x", "x\r\n"}}},
		{"bare From", "From \nx\n", []msg{{"", "x\r\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := readAll(t, NewReader(strings.NewReader(tt.in)))
			var got []msg
			for _, m := range msgs {
				got = append(got, msg{m.From, string(m.Body)})
				if m.Body == nil {
					t.Errorf("message %d: Body is nil", len(got))
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("message %d: got %q, want %q", i+1, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReaderDate(t *testing.T) {
	want := time.Date(2006, time.January, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		line string
		want time.Time
	}{
		{"From a@x Mon Jan  2 15:04:05 2006", want},
		{"From a@x Mon Jan 2 15:04:05 2006", want},
		{"From a@x   Mon  Jan  2  15:04:05  2006  ", want},
		{"From a@x Mon Jan  2 15:04:05 2006 remote from y", want},
		{"From a@x Mon Jan  2 17:04:05 2006 +0200", want},
		{"From a@x Mon Jan  2 10:04:05 -0500 2006", want},
		{"From a@x Mon Jan  2 15:04:05 UTC 2006", want},
		{"From a@x Mon Jan  2 15:04 2006", want.Truncate(time.Minute)},
		{"From a@x Thu Mar 14 01:02:03 2024", time.Date(2024, 3, 14, 1, 2, 3, 0, time.UTC)},
		{"From a@x", time.Time{}},
		{"From a@x yesterday", time.Time{}},
		{"From a@x Mon Feb 30 15:04:05 2006", time.Time{}},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.line + "\n\n"))
		m, err := r.Next()
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if !m.Date.Equal(tt.want) || m.Date.Location() != time.UTC {
			t.Errorf("%q: Date = %v, want %v", tt.line, m.Date, tt.want)
		}
		if m.From != "a@x" {
			t.Errorf("%q: From = %q", tt.line, m.From)
		}
	}
}

func TestReaderNotMbox(t *testing.T) {
	for _, in := range []string{
		"Subject: x\n\nbody\n",
		"\nFrom a@x Mon Jan  2 15:04:05 2006\n",
		">From a@x Mon Jan  2 15:04:05 2006\n",
		"From",
		"from a@x Mon Jan  2 15:04:05 2006\n",
	} {
		r := NewReader(strings.NewReader(in))
		if _, err := r.Next(); !errors.Is(err, ErrNotMbox) {
			t.Errorf("%q: error = %v, want ErrNotMbox", in, err)
		}
		if _, err := r.Next(); !errors.Is(err, ErrNotMbox) {
			t.Errorf("%q: second error = %v, want ErrNotMbox again", in, err)
		}
	}
}

func TestReaderMaxMessageBytes(t *testing.T) {
	in := "From a@x Mon Jan  2 15:04:05 2006\n12345678\n\n" + // 10 bytes as CRLF
		"From b@x Mon Jan  2 15:04:05 2006\n123456789\n\n" + // 11 bytes
		"From c@x Mon Jan  2 15:04:05 2006\n" + strings.Repeat("x", 3*bufSize) + "\n\n" +
		"From d@x Mon Jan  2 15:04:05 2006\n1234\n1234\n\n" // 12 bytes
	r := NewReader(strings.NewReader(in))
	r.MaxMessageBytes = 10
	type result struct {
		from string
		num  int // of the TooLargeError, or 0
	}
	want := []result{{"a@x", 0}, {"", 2}, {"", 3}, {"", 4}}
	var got []result
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		var tl *TooLargeError
		switch {
		case errors.As(err, &tl):
			if tl.Limit != 10 {
				t.Errorf("Limit = %d", tl.Limit)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("message %d ", tl.Number)) {
				t.Errorf("error %q does not name the message", err)
			}
			got = append(got, result{"", tl.Number})
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, result{m.From, 0})
		}
		if len(got) > len(want) {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
			break
		}
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("From a@x Mon Jan  2 15:04:05 2006\none\n\nFrom b@x Mon Jan  2 15:04:05 2006\ntw"), failReader{boom}))
	if m, err := r.Next(); err != nil || string(m.Body) != "one\r\n" {
		t.Fatalf("first message: %v, %v", m, err)
	}
	_, err := r.Next()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "message 2") {
		t.Fatalf("error = %v, want %v naming message 2", err, boom)
	}
	if _, err2 := r.Next(); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
}

func TestReaderLongSeparator(t *testing.T) {
	in := "From a@x Mon Jan  2 15:04:05 2006 " + strings.Repeat("junk ", 20000) + "\nbody\n"
	msgs := readAll(t, NewReader(strings.NewReader(in)))
	if len(msgs) != 1 || msgs[0].From != "a@x" || string(msgs[0].Body) != "body\r\n" || !msgs[0].Date.Equal(testDate) {
		t.Errorf("got %+v", msgs)
	}
}
