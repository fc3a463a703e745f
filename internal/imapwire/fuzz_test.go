package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// countingReader counts what the Reader consumed, to check that every
// failed command still moves the stream on.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzCommand reads a stream of commands with small bounds: it must never
// panic, each *Error must be answerable (status, class, no CR/LF in the
// text) and a non-fatal one must have consumed input, so that a server's
// read loop always ends.
func FuzzCommand(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &countingReader{r: bytes.NewReader(data)}
		br := bufio.NewReaderSize(src, 16)
		r := NewReader(br, Options{
			Limits: Limits{MaxLine: 200, MaxCommand: 1000, MaxLiteral: 100, MaxMessage: 300, MaxDepth: 8, MaxItems: 16, MaxDiscard: 500},
			Continue: func(l LiteralInfo) error {
				if l.Size%7 == 3 {
					return errors.New("refused")
				}
				return nil
			},
			UTF8:        len(data)%2 == 0,
			LiteralPlus: len(data)%3 == 0,
		})
		consumed := func() int { return src.n - br.Buffered() }
		for i := 0; i <= len(data); i++ {
			before := consumed()
			cmd, err := r.ReadCommand()
			if err == nil {
				if cmd.Tag == "" || cmd.Name == "" {
					t.Fatalf("command without tag or name: %+v", cmd)
				}
				if a, ok := cmd.Args.(*SearchArgs); ok {
					checkSearchRoundTrip(t, a.Keys)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				return // the end of the input
			}
			if (e.Status != "BAD" && e.Status != "NO") || e.Class == nil || strings.ContainsAny(e.Msg, "\r\n") {
				t.Fatalf("unanswerable error %+v", e)
			}
			if e.Fatal {
				return
			}
			if consumed() == before {
				t.Fatalf("error %v consumed nothing", e)
			}
		}
		t.Fatalf("more commands than input bytes")
	})
}

// checkSearchRoundTrip: keys written by AppendSearchKeys read back equal.
func checkSearchRoundTrip(t *testing.T, keys []SearchKey) {
	t.Helper()
	line := "a SEARCH " + string(AppendSearchKeys(nil, keys)) + "\r\n"
	r := NewReader(bufio.NewReader(strings.NewReader(line)), Options{LiteralPlus: true, UTF8: true})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("%q does not read back: %v", line, err)
	}
	if got := cmd.Args.(*SearchArgs).Keys; !reflect.DeepEqual(got, keys) {
		t.Fatalf("%q reads back as %+v, was %+v", line, got, keys)
	}
}

// FuzzSequenceSet: a set that parses formats to a canonical form that
// parses to the same set.
func FuzzSequenceSet(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseSeqSet(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooBig) {
				t.Fatalf("%q: error of no class: %v", s, err)
			}
			return
		}
		again, err := ParseSeqSet(set.String())
		if err != nil || !reflect.DeepEqual(again, set) {
			t.Fatalf("%q → %q → %+v, %v", s, set, again, err)
		}
		for _, r := range set.Ranges {
			if r.Start == 0 && r.Stop != 0 || r.Stop != 0 && r.Start > r.Stop {
				t.Fatalf("%q: range not normalized: %+v", s, r)
			}
			if r.Start != 0 && !set.Contains(r.Start, 1<<31) {
				t.Fatalf("%q: %d not contained", s, r.Start)
			}
		}
	})
}

// FuzzSearchKey reads SEARCH with the input as its program; what parses
// must round-trip through AppendSearchKeys.
func FuzzSearchKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r := NewReader(bufio.NewReader(strings.NewReader("a SEARCH "+s+"\r\n")), Options{LiteralPlus: true, UTF8: true,
			Limits: Limits{MaxDepth: 10, MaxItems: 50}})
		cmd, err := r.ReadCommand()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		checkSearchRoundTrip(t, cmd.Args.(*SearchArgs).Keys)
	})
}

// FuzzUTF7: a name that decodes encodes back to the same bytes; a UTF-8
// name without NUL survives encoding and decoding.
func FuzzUTF7(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := DecodeUTF7(s); err == nil {
			if !utf8.ValidString(d) {
				t.Fatalf("%q decodes to invalid UTF-8 %q", s, d)
			}
			if e := EncodeUTF7(d); e != s {
				t.Fatalf("%q → %q → %q", s, d, e)
			}
		}
		if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
			e := EncodeUTF7(s)
			d, err := DecodeUTF7(e)
			if err != nil || d != s {
				t.Fatalf("%q → %q → %q, %v", s, e, d, err)
			}
		}
	})
}
