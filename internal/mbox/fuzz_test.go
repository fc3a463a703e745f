package mbox

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// minBufSize is the smallest buffer bufio allows. Fuzzing with it reaches
// the handling of lines, '>' runs and '\r' runs longer than a buffer with
// inputs small enough to mutate and minimize quickly.
const minBufSize = 16

// checkBody fails unless body is in the form pail stores: lines ending in
// CRLF with no '\r' right before one, the last line included.
func checkBody(t *testing.T, body []byte) {
	t.Helper()
	if body == nil {
		t.Fatal("nil Body")
	}
	if !canonical(body) {
		t.Fatalf("Body not canonical CRLF text: %q", body)
	}
}

// FuzzReader reads arbitrary input, checks the messages' form and the
// size limit, and checks that writing them out and reading them back
// changes nothing.
func FuzzReader(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("From a@x Mon Jan  2 15:04:05 2006\nSubject: s\n\n>From x\n>>From y\n\nFrom b@y Mon Jan  2 15:04:05 2006\r\nb\r\n\r\n"))
	f.Add([]byte("From a@x Mon Jan  2 15:04:05 2006\n\n\n\nFrom  \n>>\r\r"))
	f.Add([]byte("not an mbox\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var msgs []*Message
		r := NewReader(bytes.NewReader(data))
		for {
			m, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if len(data) >= 5 && string(data[:5]) == separatorPrefix {
					t.Fatalf("error on mbox input: %v", err)
				}
				if !errors.Is(err, ErrNotMbox) {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			checkBody(t, m.Body)
			msgs = append(msgs, m)
			if len(msgs) > len(data) {
				t.Fatal("more messages than input bytes")
			}
		}

		// A small buffer makes no difference.
		small := newReaderSize(bytes.NewReader(data), minBufSize)
		for i := 0; ; i++ {
			m, err := small.Next()
			if err == io.EOF {
				if i != len(msgs) {
					t.Fatalf("small buffer: %d messages, want %d", i, len(msgs))
				}
				break
			}
			if err != nil {
				t.Fatalf("small buffer: %v", err)
			}
			if i >= len(msgs) || m.From != msgs[i].From || !m.Date.Equal(msgs[i].Date) || !bytes.Equal(m.Body, msgs[i].Body) {
				t.Fatalf("small buffer: message %d differs", i+1)
			}
		}

		// With a limit, the same messages come out, or a TooLargeError
		// in their place.
		const limit = 20
		r = newReaderSize(bytes.NewReader(data), minBufSize)
		r.MaxMessageBytes = limit
		for i := 0; ; i++ {
			m, err := r.Next()
			if err == io.EOF {
				if i != len(msgs) {
					t.Fatalf("with limit: %d messages, want %d", i, len(msgs))
				}
				break
			}
			if i >= len(msgs) {
				t.Fatalf("with limit: more than %d messages", len(msgs))
			}
			var tl *TooLargeError
			if errors.As(err, &tl) {
				if len(msgs[i].Body) <= limit || tl.Number != i+1 {
					t.Fatalf("message %d of %d bytes: %v", i+1, len(msgs[i].Body), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("with limit: %v", err)
			}
			if !bytes.Equal(m.Body, msgs[i].Body) {
				t.Fatalf("with limit: message %d differs", i+1)
			}
		}

		// What Reader returns survives a round trip unchanged.
		var in []envelope
		for _, m := range msgs {
			in = append(in, envelope{m.From, m.Date, m.Body})
		}
		_, got := roundTrip(t, minBufSize, in)
		if len(got) != len(msgs) {
			t.Fatalf("round trip: %d messages, want %d", len(got), len(msgs))
		}
		for i, m := range msgs {
			if !bytes.Equal(got[i].Body, m.Body) {
				t.Fatalf("round trip: message %d body %q, want %q", i+1, got[i].Body, m.Body)
			}
			if want := separatorSender(m.From); got[i].From != want {
				t.Fatalf("round trip: message %d From %q, want %q", i+1, got[i].From, want)
			}
			if y := m.Date.Year(); y >= 1 && y <= 9999 && !got[i].Date.Equal(m.Date) {
				t.Fatalf("round trip: message %d Date %v, want %v", i+1, got[i].Date, m.Date)
			}
		}
	})
}

// FuzzRoundTrip writes the messages in data (separated by NUL bytes) and
// reads them back: each must come back normalized to CRLF lines, and
// exactly as written when it already was.
func FuzzRoundTrip(f *testing.F) {
	f.Add("a@example.org", int64(1136214245), []byte("Subject: x\r\n\r\nFrom me\r\n>From x\r\n>>From y\r\n"))
	f.Add("", int64(0), []byte("\x00\x00no newline\x00\r\n\r\n"))
	f.Add("a b\r\n", int64(-1), []byte("From \r\r\n\r>>From\x00>From "))
	f.Fuzz(func(t *testing.T, from string, sec int64, data []byte) {
		// Keep the date within years 1 to 9999, which asctime can show.
		const first, span = -62135596800, 315537897600
		sec = first + (sec%span+span)%span
		date := time.Unix(sec, 0).UTC()

		var msgs []envelope
		for b := range bytes.SplitSeq(data, []byte{0}) {
			msgs = append(msgs, envelope{from, date, b})
		}
		_, got := roundTrip(t, minBufSize, msgs)
		if len(got) != len(msgs) {
			t.Fatalf("read %d messages, wrote %d", len(got), len(msgs))
		}
		for i, m := range msgs {
			want := normalize(m.body)
			if !bytes.Equal(got[i].Body, want) {
				t.Fatalf("message %d: got %q, want %q", i+1, got[i].Body, want)
			}
			if canonical(m.body) && !bytes.Equal(got[i].Body, m.body) {
				t.Fatalf("message %d: canonical message changed", i+1)
			}
			if want := separatorSender(from); got[i].From != want {
				t.Fatalf("message %d: From %q, want %q", i+1, got[i].From, want)
			}
			if !got[i].Date.Equal(date) {
				t.Fatalf("message %d: Date %v, want %v", i+1, got[i].Date, date)
			}
		}
	})
}
