package remote

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// readReply parses in as one reply.
func readReply(in string) (Reply, []string, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s := &session{conn: a, r: bufio.NewReaderSize(strings.NewReader(in), maxReplyLine)}
	return s.read(time.Second)
}

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Reply
		err  bool
	}{
		{in: "250 OK\r\n", want: Reply{Code: 250, Text: "OK"}},
		{in: "250\r\n", want: Reply{Code: 250}},
		{in: "550 5.1.1 No such user\r\n", want: Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"}},
		{in: "550-5.1.1 No such\r\n550 5.1.1 user here\r\n", want: Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user here"}},
		// A class that does not match the code is text, not a status.
		{in: "250 5.1.1 odd\r\n", want: Reply{Code: 250, Text: "5.1.1 odd"}},
		{in: "421 4.3.2 bye\n", want: Reply{Code: 421, Enhanced: "4.3.2", Text: "bye"}},
		{in: "250 caf\xc3\xa9\r\n", want: Reply{Code: 250, Text: "caf?"}},
		{in: "hello\r\n", err: true},
		{in: "25\r\n", err: true},
		{in: "150 early\r\n", err: true},
		{in: "250x\r\n", err: true},
		{in: "250-a\r\n251 b\r\n", err: true},
		{in: strings.Repeat("250-x\r\n", maxReplyLines+1) + "250 x\r\n", err: true},
		{in: "250 " + strings.Repeat("x", maxReplyLine) + "\r\n", err: true},
		{in: "250-unfinished\r\n", err: true},
	} {
		got, _, err := readReply(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%q: got %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestEHLOExtensions(t *testing.T) {
	_, lines, err := readReply("250-mx.hill.test greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")
	if err != nil || len(lines) != 4 || lines[2] != "SIZE 1000" {
		t.Fatalf("lines %q, %v", lines, err)
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 OK\r\n", "550-5.1.1 a\r\n550 5.1.1 b\r\n", "220\r\n", "garbage", "250-\r\n250 \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rep, lines, err := readReply(in)
		if err != nil {
			if !errors.Is(err, errGarbled) && rep != (Reply{}) {
				t.Fatalf("error %v with a reply %+v", err, rep)
			}
			return
		}
		if rep.Code < 200 || rep.Code > 599 || len(lines) == 0 || len(lines) > maxReplyLines {
			t.Fatalf("reply %+v lines %d", rep, len(lines))
		}
		for _, c := range rep.Text {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("unclean text %q", rep.Text)
			}
		}
	})
}
