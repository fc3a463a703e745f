package mbox

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

var testDate = time.Date(2006, time.January, 2, 15, 4, 5, 0, time.UTC)

func TestWriteMessage(t *testing.T) {
	const sep = "From a@example.org Mon Jan  2 15:04:05 2006\n"
	tests := []struct {
		name string
		from string
		date time.Time
		msg  string
		want string
	}{
		{"crlf", "a@example.org", testDate, "Subject: x\r\n\r\nhi\r\n", sep + "Subject: x\n\nhi\n\n"},
		{"lf", "a@example.org", testDate, "a\nb\n", sep + "a\nb\n\n"},
		{"empty", "a@example.org", testDate, "", sep + "\n"},
		{"no final newline", "a@example.org", testDate, "a\r\nb", sep + "a\nb\n\n"},
		{"quote From", "a@example.org", testDate, "From me\r\n", sep + ">From me\n\n"},
		{"quote >From", "a@example.org", testDate, ">From x\r\n>>From y\r\n", sep + ">>From x\n>>>From y\n\n"},
		{"quote last line", "a@example.org", testDate, "x\r\nFrom ", sep + "x\n>From \n\n"},
		{"no quote", "a@example.org", testDate, "From\r\nFROM x\r\n>From\r\n x From y\r\nfrom z\r\n",
			sep + "From\nFROM x\n>From\n x From y\nfrom z\n\n"},
		{"only quotes", "a@example.org", testDate, ">>", sep + ">>\n\n"},
		{"bare cr kept", "a@example.org", testDate, "a\rb\r\n\r", sep + "a\rb\n\r\n\n"},
		{"cr before crlf", "a@example.org", testDate, "a\r\r\n", sep + "a\r\n\n"},
		{"null sender", "", testDate, "x\r\n", "From MAILER-DAEMON Mon Jan  2 15:04:05 2006\nx\n\n"},
		{"sender with space", "\"a b\"@example.org", testDate, "",
			"From \"a_b\"@example.org Mon Jan  2 15:04:05 2006\n\n"},
		{"sender with newline", "a\r\nFrom b", testDate, "",
			"From a__From_b Mon Jan  2 15:04:05 2006\n\n"},
		{"date to utc", "a@example.org", time.Date(2024, 12, 31, 23, 30, 0, 0, time.FixedZone("", -2*3600)), "",
			"From a@example.org Wed Jan  1 01:30:00 2025\n\n"},
		{"two digit day", "a@example.org", time.Date(2024, 3, 14, 1, 2, 3, 0, time.UTC), "",
			"From a@example.org Thu Mar 14 01:02:03 2024\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out)
			if err := w.WriteMessage(tt.from, tt.date, strings.NewReader(tt.msg)); err != nil {
				t.Fatalf("WriteMessage: %v", err)
			}
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWriteMessageLongLines checks quoting and CRLF handling where a line,
// a run of '>' or a run of '\r' is longer than the buffer.
func TestWriteMessageLongLines(t *testing.T) {
	long := strings.Repeat("x", 3*bufSize+7)
	quotes := strings.Repeat(">", 2*bufSize+3)
	crs := strings.Repeat("\r", bufSize+1)
	tests := []struct {
		name, msg, want string
	}{
		{"long line", long + "\r\n" + long, long + "\n" + long + "\n"},
		{"long quote run", quotes + "From x\r\n", ">" + quotes + "From x\n"},
		{"long quote run no From", quotes + "Frm x\r\n", quotes + "Frm x\n"},
		{"crlf at buffer edge", strings.Repeat("y", bufSize-1) + "\r\nz\r\n", strings.Repeat("y", bufSize-1) + "\nz\n"},
		{"long cr run", "a" + crs + "\nb" + crs + "c\r\n", "a" + crs[1:] + "\nb" + crs + "c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out)
			if err := w.WriteMessage("a@example.org", testDate, strings.NewReader(tt.msg)); err != nil {
				t.Fatalf("WriteMessage: %v", err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimPrefix(out.String(), "From a@example.org Mon Jan  2 15:04:05 2006\n")
			if got != tt.want+"\n" {
				t.Errorf("got %d bytes, want %d; first difference at %d", len(got), len(tt.want)+1, firstDiff(got, tt.want+"\n"))
			}
		})
	}
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// patternReader yields n bytes cycling through pattern, without holding them.
type patternReader struct {
	pattern []byte
	n, off  int
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	k := 0
	for k < len(b) && p.n > 0 {
		c := copy(b[k:min(len(b), k+p.n)], p.pattern[p.off:])
		k += c
		p.n -= c
		p.off = (p.off + c) % len(p.pattern)
	}
	return k, nil
}

// TestWriteMessageStreams checks that memory use does not grow with the
// size of the message or of its lines.
func TestWriteMessageStreams(t *testing.T) {
	const size = 16 << 20
	w := NewWriter(io.Discard)
	// Warm up so the buffers exist before measuring.
	if err := w.WriteMessage("a@example.org", testDate, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// One 64 MiB line, then many short lines.
	if err := w.WriteMessage("a@example.org", testDate, &patternReader{pattern: []byte("x"), n: size}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage("a@example.org", testDate, &patternReader{pattern: []byte(">From x\r\n"), n: size}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("writing 2×16 MiB allocated %d bytes", grew)
	}
}

type failReader struct{ err error }

func (f failReader) Read([]byte) (int, error) { return 0, f.err }

// TestWriteMessageReadError checks that a failing message is still
// terminated, so the file stays readable, and that the error is returned.
func TestWriteMessageReadError(t *testing.T) {
	boom := errors.New("boom")
	var out bytes.Buffer
	w := NewWriter(&out)
	err := w.WriteMessage("a@example.org", testDate, io.MultiReader(strings.NewReader("Subject: x\r\n\r\npart"), failReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("WriteMessage error = %v, want %v", err, boom)
	}
	if err := w.WriteMessage("b@example.org", testDate, strings.NewReader("next\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	msgs := readAll(t, NewReader(&out))
	if len(msgs) != 2 {
		t.Fatalf("read back %d messages, want 2", len(msgs))
	}
	if string(msgs[0].Body) != "Subject: x\r\n\r\npart\r\n" || string(msgs[1].Body) != "next\r\n" {
		for _, m := range msgs {
			t.Errorf("read back %q", m.Body)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriteMessageWriteError(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(failWriter{boom})
	err := w.WriteMessage("a@example.org", testDate, &patternReader{pattern: []byte("line\r\n"), n: 10 * bufSize})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteMessage error = %v, want %v", err, boom)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush error = %v, want %v", err, boom)
	}
}
