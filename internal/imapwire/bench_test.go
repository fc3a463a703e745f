package imapwire

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// benchRead reads the same command b.N times through one Reader, as a
// connection does.
func benchRead(b *testing.B, cmd string, opt Options) {
	src := bytes.NewReader(nil)
	br := bufio.NewReader(src)
	r := NewReader(br, opt)
	data := []byte(cmd)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(data)
		br.Reset(src)
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFetch(b *testing.B) {
	benchRead(b, "a12 FETCH 1:50 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)\r\n", Options{})
}

func BenchmarkReadUIDFetch(b *testing.B) {
	benchRead(b, "a13 UID FETCH 1200:* (UID FLAGS MODSEQ BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)]) (CHANGEDSINCE 123456)\r\n", Options{})
}

func BenchmarkReadSearch(b *testing.B) {
	benchRead(b, "a14 UID SEARCH RETURN (ALL COUNT) CHARSET UTF-8 UNDELETED OR FROM \"alice\" SUBJECT report SINCE 1-Feb-2024\r\n", Options{})
}

func BenchmarkReadAppend(b *testing.B) {
	msg := "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n" + strings.Repeat("body line\r\n", 200)
	sink := func(LiteralInfo) (io.Writer, error) { return io.Discard, nil }
	benchRead(b, "a15 APPEND Sent (\\Seen) \" 7-Feb-2024 21:52:25 +0100\" {"+itoa(len(msg))+"+}\r\n"+msg+"\r\n",
		Options{LiteralPlus: true, Sink: sink})
}

func BenchmarkWriteFetch(b *testing.B) {
	w := NewWriter(bufio.NewWriter(io.Discard))
	flags := []string{FlagSeen, "$Forwarded"}
	b.ReportAllocs()
	for b.Loop() {
		for i := uint32(1); i <= 50; i++ {
			w.BeginFetch(i)
			w.FetchNumber("UID", uint64(i+1000))
			w.FetchFlags(flags)
			w.FetchNumber("MODSEQ", 123456)
			w.EndFetch()
		}
		w.Status("a", OK, nil, "FETCH completed")
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
