package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// newTestReader reads input with opt; the continuation requests the
// Reader asks for are recorded in *conts.
func newTestReader(input string, opt Options, conts *[]LiteralInfo) *Reader {
	if conts != nil && opt.Continue == nil {
		opt.Continue = func(l LiteralInfo) error {
			*conts = append(*conts, l)
			return nil
		}
	}
	return NewReader(bufio.NewReader(strings.NewReader(input)), opt)
}

func readOne(t *testing.T, input string) *Command {
	t.Helper()
	r := newTestReader(input, Options{}, nil)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("ReadCommand(%q): %v", input, err)
	}
	return cmd
}

func wantErr(t *testing.T, err error, class error, tag string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *Error", err, err)
	}
	if !errors.Is(err, class) {
		t.Fatalf("error %v: class %v, want %v", err, e.Class, class)
	}
	if e.Tag != tag {
		t.Fatalf("error %v: tag %q, want %q", err, e.Tag, tag)
	}
	return e
}

func TestReaderSimpleCommands(t *testing.T) {
	for _, in := range []string{"a CAPABILITY", "a noop", "a Logout", "a STARTTLS", "a CHECK",
		"a CLOSE", "a UNSELECT", "a EXPUNGE", "a IDLE", "a NAMESPACE", "a UNAUTHENTICATE"} {
		cmd := readOne(t, in+"\r\n")
		if cmd.Tag != "a" || cmd.Name != strings.ToUpper(in[2:]) || cmd.Args != nil {
			t.Errorf("%q: %+v", in, cmd)
		}
	}
}

func TestReaderLiteralContinuation(t *testing.T) {
	// RFC 9051 §6.2.3 example with literals: A001 LOGIN {11} ... {8}.
	in := "A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n"
	var conts []LiteralInfo
	r := newTestReader(in, Options{}, &conts)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	a := cmd.Args.(*LoginArgs)
	if a.User != "FRED FOOBAR" || a.Password != "fat man" {
		t.Fatalf("%+v", a)
	}
	if len(conts) != 2 || !conts[0].Sync || conts[0].Size != 11 || conts[0].Tag != "A001" || conts[0].Command != "LOGIN" {
		t.Fatalf("continuations %+v", conts)
	}
}

// blockingSource hands out its input and then blocks the test (fails) if
// the Reader asks for more: the Reader must call Continue before it reads
// a synchronizing literal's bytes, which the client has not sent.
type stopReader struct {
	data    []byte
	stopped bool
}

func (s *stopReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		s.stopped = true
		return 0, errors.New("read past what the client sent")
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestReaderContinuationBeforeData is the bug of issue 16: a literal over
// 4096 bytes on a command other than APPEND must get its continuation (or
// refusal) at once, before the Reader waits for more input.
func TestReaderContinuationBeforeData(t *testing.T) {
	for _, size := range []int{10, 5000, 70000} {
		src := &stopReader{data: []byte("x SEARCH TEXT {" + itoa(size) + "}\r\n")}
		called := false
		r := NewReader(bufio.NewReader(src), Options{Continue: func(l LiteralInfo) error {
			called = true
			if src.stopped {
				t.Errorf("size %d: Continue after a read past the line", size)
			}
			return errors.New("no thanks")
		}})
		_, err := r.ReadCommand()
		if size > defaultMaxLiteral {
			// Over the bound: refused by the Reader, no Continue.
			e := wantErr(t, err, ErrTooBig, "x")
			if called || e.Code != "TOOBIG" || e.Status != "BAD" || e.Fatal {
				t.Errorf("size %d: %+v called=%v", size, e, called)
			}
		} else {
			wantErr(t, err, ErrRefused, "x")
			if !called {
				t.Errorf("size %d: no Continue", size)
			}
		}
		if src.stopped {
			t.Errorf("size %d: the Reader read past the line", size)
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(appendInt(nil, n))) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestReaderNonSyncLiterals(t *testing.T) {
	in := "a LOGIN {3+}\r\nbob {4+}\r\npass\r\nb NOOP\r\n"
	var conts []LiteralInfo
	r := newTestReader(in, Options{}, &conts)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if a := cmd.Args.(*LoginArgs); a.User != "bob" || a.Password != "pass" {
		t.Fatalf("%+v", a)
	}
	if len(conts) != 2 || conts[0].Sync || conts[1].Sync {
		t.Fatalf("%+v", conts)
	}
	if cmd, err = r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
		t.Fatal(cmd, err)
	}
}

// RFC 7888 §5: under LITERAL- a non-synchronizing literal over 4096
// bytes is refused with BAD [TOOBIG]; its data is skipped and the next
// command is read.
func TestReaderLiteralMinus(t *testing.T) {
	big := strings.Repeat("x", 4097)
	in := "a SEARCH TEXT {4097+}\r\n" + big + " ALL\r\nb NOOP\r\n"
	r := newTestReader(in, Options{}, nil)
	_, err := r.ReadCommand()
	e := wantErr(t, err, ErrTooBig, "a")
	if e.Status != "BAD" || e.Code != "TOOBIG" || e.Fatal {
		t.Fatalf("%+v", e)
	}
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Tag != "b" {
		t.Fatalf("after resync: %v %v", cmd, err)
	}
	// With LITERAL+ the same command is taken.
	r = newTestReader(in, Options{LiteralPlus: true}, nil)
	cmd, err = r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if k := cmd.Args.(*SearchArgs).Keys; len(k) != 2 || k[0].Value != big {
		t.Fatalf("%+v", k)
	}
}

func TestReaderResync(t *testing.T) {
	tests := []struct {
		name, in string
		class    error
		tag      string
	}{
		{"syntax mid-line", "a FETCH 1:x (FLAGS)\r\n", ErrSyntax, "a"},
		{"unknown command", "a FROBNICATE 1 2 3\r\n", ErrUnknownCommand, "a"},
		{"bad tag", "+ NOOP\r\n", ErrSyntax, ""},
		{"empty line", "\r\n", ErrSyntax, ""},
		{"no command", "a\r\n", ErrSyntax, "a"},
		{"error before non-sync literal", "a FETCH x {3+}\r\nabc {2+}\r\nde\r\n", ErrSyntax, "a"},
		{"error after literal", "a LOGIN {3}\r\nbob )\r\n", ErrSyntax, "a"},
		{"sync literal not accepted", "a FROB {30}\r\n", ErrUnknownCommand, "a"},
		{"bad mailbox", "a SELECT &Jjo\r\n", ErrMailboxName, "a"},
		{"bad mailbox after literal", "a RENAME {3+}\r\nfoo &AGE-\r\n", ErrMailboxName, "a"},
		{"NUL in literal", "a LOGIN {3+}\r\nb\x00b x\r\n", ErrSyntax, "a"},
		{"junk after command", "a NOOP now\r\n", ErrSyntax, "a"},
		{"UID without command", "a UID LOGIN x y\r\n", ErrSyntax, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestReader(tt.in+"z NOOP\r\n", Options{}, nil)
			_, err := r.ReadCommand()
			e := wantErr(t, err, tt.class, tt.tag)
			if e.Fatal {
				t.Fatalf("fatal: %v", e)
			}
			cmd, err := r.ReadCommand()
			if err != nil || cmd.Tag != "z" || cmd.Name != "NOOP" {
				t.Fatalf("after the error: %+v %v", cmd, err)
			}
			if _, err := r.ReadCommand(); err != io.EOF {
				t.Fatalf("at the end: %v", err)
			}
		})
	}
}

func TestReaderBounds(t *testing.T) {
	lim := Limits{MaxLine: 100, MaxCommand: 300, MaxLiteral: 50, MaxMessage: 1000, MaxDepth: 3, MaxItems: 4, MaxDiscard: 2000}
	tests := []struct {
		name, in string
		status   string
	}{
		{"line", "a SEARCH TEXT " + strings.Repeat("x", 200) + "\r\n", "BAD"},
		{"line 2", "a SEARCH TEXT {1}\r\nx " + strings.Repeat("x", 200) + "\r\n", "BAD"},
		{"line then literal", "a SEARCH TEXT " + strings.Repeat("x", 200) + " {3+}\r\nabc\r\n", "BAD"},
		{"literal", "a LOGIN {51}\r\n", "BAD"},
		{"command", "a LOGIN {40+}\r\n" + strings.Repeat("u", 40) + " {40+}\r\n" + strings.Repeat("p", 40) + "\r\n" +
			"", "BAD"},
		{"message", "a APPEND INBOX {1001}\r\n", "NO"},
		{"depth", "a SEARCH ((((ALL))))\r\n", "BAD"},
		{"depth NOT", "a SEARCH NOT NOT NOT NOT ALL\r\n", "BAD"},
		{"items", "a STORE 1 FLAGS (a b c d e)\r\n", "BAD"},
		{"fetch items", "a FETCH 1 (UID FLAGS UID FLAGS UID)\r\n", "BAD"},
		{"tag", strings.Repeat("t", 300) + " NOOP\r\n", "BAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := lim
			if tt.name == "command" {
				lim.MaxCommand = 80
			}
			if tt.name == "tag" {
				lim.MaxLine = 1000
			}
			r := newTestReader(tt.in+"z NOOP\r\n", Options{Limits: lim, LiteralPlus: true}, nil)
			_, err := r.ReadCommand()
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrTooBig) || e.Status != tt.status || e.Fatal {
				t.Fatalf("got %v (%+v)", err, e)
			}
			if tt.name != "tag" && e.Tag != "a" {
				t.Errorf("tag %q", e.Tag)
			}
			cmd, err := r.ReadCommand()
			if err != nil || cmd.Tag != "z" {
				t.Fatalf("after the error: %+v %v", cmd, err)
			}
		})
	}
}

func TestReaderDiscardBoundIsFatal(t *testing.T) {
	r := newTestReader("a FROB {5000+}\r\n"+strings.Repeat("x", 5000)+"\r\n", Options{LiteralPlus: true, Limits: Limits{MaxDiscard: 100}}, nil)
	_, err := r.ReadCommand()
	e := wantErr(t, err, ErrUnknownCommand, "a")
	if !e.Fatal {
		t.Fatalf("not fatal: %+v", e)
	}
}

// TestReaderLongLineBound: a line over MaxLine is skipped to its end up to
// MaxDiscard bytes (the session goes on), and past that the error is
// fatal, so an endless line (or a deflate bomb) costs bounded work.
func TestReaderLongLineBound(t *testing.T) {
	lim := Limits{MaxLine: 100, MaxDiscard: 1000}
	r := newTestReader("a NOOP "+strings.Repeat("x", 900)+"\r\nb NOOP\r\n", Options{Limits: lim}, nil)
	_, err := r.ReadCommand()
	if e := wantErr(t, err, ErrTooBig, "a"); e.Fatal {
		t.Fatalf("a line within the discard bound is fatal: %+v", e)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Fatalf("after the long line: %+v %v", cmd, err)
	}
	r = newTestReader("a NOOP "+strings.Repeat("x", 100000)+"\r\n", Options{Limits: lim}, nil)
	_, err = r.ReadCommand()
	if e := wantErr(t, err, ErrTooBig, "a"); !e.Fatal {
		t.Fatalf("a line past the discard bound is not fatal: %+v", e)
	}
}

func TestReaderIOErrors(t *testing.T) {
	r := newTestReader("a LOGIN {10}\r\nabc", Options{}, nil)
	_, err := r.ReadCommand()
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("want a connection error, got %v", err)
	}
	r = newTestReader("", Options{}, nil)
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("EOF: %v", err)
	}
	r = newTestReader("a NOOP", Options{}, nil)
	if _, err := r.ReadCommand(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("partial line: %v", err)
	}
}

func TestReaderBareLF(t *testing.T) {
	r := newTestReader("a NOOP\nb LOGIN {1}\nx y\n", Options{}, nil)
	for _, tag := range []string{"a", "b"} {
		cmd, err := r.ReadCommand()
		if err != nil || cmd.Tag != tag {
			t.Fatal(cmd, err)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := newTestReader("a IDLE\r\nDONE\r\na AUTHENTICATE PLAIN\r\nAGJvYgBwdw==\r\n*\r\n", Options{}, nil)
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "IDLE" {
		t.Fatal(cmd, err)
	}
	if l, err := r.ReadLine(); err != nil || !bytes.EqualFold(l, []byte("done")) {
		t.Fatal(string(l), err)
	}
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Args.(*AuthenticateArgs).Mechanism != "PLAIN" || cmd.Args.(*AuthenticateArgs).InitialResponse != nil {
		t.Fatal(cmd, err)
	}
	l, _ := r.ReadLine()
	if resp, cancel, err := DecodeSASL(l); err != nil || cancel || string(resp) != "\x00bob\x00pw" {
		t.Fatal(resp, cancel, err)
	}
	l, _ = r.ReadLine()
	if _, cancel, _ := DecodeSASL(l); !cancel {
		t.Fatal("no cancel")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n+len(p) > 5 {
		return 0, errors.New("disk full")
	}
	f.n += len(p)
	return len(p), nil
}

func TestReaderAppendSink(t *testing.T) {
	msg := "From: a@b\r\n\r\nhi\r\n"
	in := "a APPEND Drafts (\\Seen $X) \" 7-Feb-1994 21:52:25 -0800\" {" + itoa(len(msg)) + "}\r\n" + msg +
		" ~{5}\r\nab\x00cd CATENATE (URL \"/INBOX;UID=20/;section=1.2\" TEXT {2}\r\nhi URL /x)\r\n" +
		"b APPEND INBOX {10}\r\n0123456789\r\nz NOOP\r\n"
	var infos []LiteralInfo
	var conts []LiteralInfo
	n := 0
	r := newTestReader(in, Options{Sink: func(l LiteralInfo) (io.Writer, error) {
		infos = append(infos, l)
		n++
		if n == 4 {
			return &failWriter{}, nil
		}
		return new(bytes.Buffer), nil
	}}, &conts)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	a := cmd.Args.(*AppendArgs)
	if a.Mailbox != "Drafts" || len(a.Messages) != 3 {
		t.Fatalf("%+v", a)
	}
	m := a.Messages[0]
	if m.Body.(*bytes.Buffer).String() != msg || len(m.Flags) != 2 || m.Flags[0] != FlagSeen || !m.HasDate ||
		m.Date.Format(DateTimeLayout) != " 7-Feb-1994 21:52:25 -0800" {
		t.Fatalf("%+v", m)
	}
	if m := a.Messages[1]; !m.Binary || m.Body.(*bytes.Buffer).String() != "ab\x00cd" {
		t.Fatalf("%+v", m)
	}
	if p := a.Messages[2].Parts; len(p) != 3 || p[0].URL != "/INBOX;UID=20/;section=1.2" || p[1].Text.(*bytes.Buffer).String() != "hi" || p[2].URL != "/x" {
		t.Fatalf("%+v", p)
	}
	if len(infos) != 3 || !infos[0].Message || !infos[1].Binary {
		t.Fatalf("%+v", infos)
	}
	// The sink fails mid-message: NO, the rest skipped, next command read.
	_, err = r.ReadCommand()
	e := wantErr(t, err, ErrRefused, "b")
	if e.Status != "NO" || e.Fatal || e.Err.Error() != "disk full" {
		t.Fatalf("%+v", e)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "z" {
		t.Fatal(cmd, err)
	}
}

// A synchronizing APPEND over the message bound is refused with NO
// [TOOBIG] before the client sends it, and the session goes on.
func TestReaderAppendTooBig(t *testing.T) {
	r := newTestReader("a APPEND INBOX {2000}\r\nz NOOP\r\n", Options{Limits: Limits{MaxMessage: 1000}}, nil)
	_, err := r.ReadCommand()
	e := wantErr(t, err, ErrTooBig, "a")
	if e.Status != "NO" || e.Code != "TOOBIG" {
		t.Fatalf("%+v", e)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "z" {
		t.Fatal(cmd, err)
	}
}

// Large buffers of one command are not kept for the next: an idle
// connection holds little.
func TestReaderDropsLargeBuffers(t *testing.T) {
	big := strings.Repeat("x", 10000)
	r := newTestReader("a LOGIN {10000+}\r\n"+big+" "+big+"\r\nb NOOP\r\n", Options{LiteralPlus: true}, nil)
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if cap(r.lit) < 10000 || cap(r.line) < 10000 {
		t.Fatalf("buffers %d %d", cap(r.lit), cap(r.line))
	}
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if cap(r.lit) != 0 || cap(r.line) > keepLine {
		t.Fatalf("buffers kept: %d %d", cap(r.lit), cap(r.line))
	}
}
