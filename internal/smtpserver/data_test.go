package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// dotCases are DATA streams (after the 354) with the content they carry
// and what follows the end of data.
var dotCases = []struct {
	in, content, after string
}{
	{".\r\n", "", ""},
	{"a\r\n.\r\nQUIT\r\n", "a\r\n", "QUIT\r\n"},
	{"..\r\n.\r\n", ".\r\n", ""},                // RFC 5321 §4.5.2
	{"..x\r\n...\r\n.\r\n", ".x\r\n..\r\n", ""}, // only the first period goes
	{"x.\r\n.x\r\n.\r\n", "x.\r\nx\r\n", ""},    // a period mid-line stays
	{"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", ""},     // bare LF starts no line
	{"a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", ""},  // ".\r" unstuffed to a bare CR
	{"a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n", ""},    // likewise
	{"a\r\r\n.\r\n", "a\r\r\n", ""},             // CR CR LF: the LF ends a line
	{"\r\n.\r\n", "\r\n", ""},                   // an empty line
	{"a\r\n\r\n..\r\n\r\n.\r\nx", "a\r\n\r\n.\r\n\r\n", "x"},
}

func readDot(t *testing.T, br *bufio.Reader, limit int64) (string, error) {
	t.Helper()
	r := newDotReader(br, limit)
	var out bytes.Buffer
	_, err := io.Copy(&out, r)
	return out.String(), err
}

func TestDotReader(t *testing.T) {
	for _, tc := range dotCases {
		br := bufio.NewReader(strings.NewReader(tc.in))
		got, err := readDot(t, br, -1)
		rest, _ := io.ReadAll(br)
		if err != nil || got != tc.content || string(rest) != tc.after {
			t.Errorf("%q: content %q, after %q, %v; want %q, %q", tc.in, got, rest, err, tc.content, tc.after)
		}
	}
}

// TestDotReaderSplit: the same streams one byte per read, so that every
// state meets the end of the buffer.
func TestDotReaderSplit(t *testing.T) {
	for _, tc := range dotCases {
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.in)), 16)
		got, err := readDot(t, br, -1)
		rest, _ := io.ReadAll(br)
		if err != nil || got != tc.content || string(rest) != tc.after {
			t.Errorf("%q split: content %q, after %q, %v; want %q, %q", tc.in, got, rest, err, tc.content, tc.after)
		}
	}
}

func TestDotReaderLimitAndEOF(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("0123456789\r\n.\r\nNOOP\r\n"))
	if _, err := readDot(t, br, 11); err != ErrTooLarge {
		t.Errorf("over the limit: %v", err)
	}
	br = bufio.NewReader(strings.NewReader("0123456789\r\n.\r\n"))
	if got, err := readDot(t, br, 12); err != nil || got != "0123456789\r\n" {
		t.Errorf("at the limit: %q, %v", got, err)
	}
	br = bufio.NewReader(strings.NewReader("abc\r\n"))
	if _, err := readDot(t, br, -1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("no end of data: %v", err)
	}
}

// BenchmarkDotReader is the engine's cost per byte of DATA content, 4 KiB
// messages of 78-byte lines through the connection's buffer.
func BenchmarkDotReader(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 76), "\r\n"...)
	msg := append(bytes.Repeat(line, 4096/len(line)), ".\r\n"...)
	b.SetBytes(int64(len(msg)))
	src := bytes.NewReader(msg)
	br := bufio.NewReaderSize(src, readBufferSize)
	buf := make([]byte, 32<<10)
	for b.Loop() {
		src.Reset(msg)
		br.Reset(src)
		r := newDotReader(br, -1)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	}
}
