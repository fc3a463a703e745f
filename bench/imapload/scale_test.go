package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/mbox"
)

// TestCorpusShape checks that the scale corpus is what bench/scale.sh
// says it is: messages that parse, 2–8 KiB, about 15% multipart, encoded
// and raw UTF-8 subjects that decode, arrival dates within the span, and
// the rare sender and word exactly where the counts say, nowhere else; and
// that its mbox reads back, message for message, with pail's reader.
func TestCorpusShape(t *testing.T) {
	const n = 6000
	c := corpus{n: n, seed: 1}
	dec := mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(cs, "iso-8859-1") { // each byte is its code point
			b, err := io.ReadAll(r)
			var u []rune
			for _, c := range b {
				u = append(u, rune(c))
			}
			return strings.NewReader(string(u)), err
		}
		return nil, fmt.Errorf("charset %s", cs)
	}}
	multipart, encoded, raw, zoe, rare := 0, 0, 0, 0, 0
	for i := 1; i <= n; i++ {
		at, m := c.message(i)
		if len(m) < corpusMinSize || len(m) > corpusMaxSize {
			t.Errorf("message %d: %d bytes, want 2–8 KiB", i, len(m))
		}
		if at.Before(corpusStart) || at.After(corpusEnd.Add(time.Hour)) {
			t.Errorf("message %d: arrival %v outside the span", i, at)
		}
		for _, line := range bytes.Split(m, []byte("\n")) {
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				t.Fatalf("message %d: line %q would need mbox quoting", i, line)
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if strings.HasPrefix(msg.Header.Get("Content-Type"), "multipart/") {
			multipart++
		}
		subj := msg.Header.Get("Subject")
		if strings.Contains(subj, "=?") {
			encoded++
		} else if strings.IndexFunc(subj, func(r rune) bool { return r > 0x7f }) >= 0 {
			raw++
		}
		if d, err := dec.DecodeHeader(subj); err != nil || strings.Contains(d, "=?") {
			t.Errorf("message %d: subject %q decodes to %q, %v", i, subj, d, err)
		}
		from := strings.ToLower(msg.Header.Get("From"))
		if strings.Contains(from, "zoe") != c.zoe(i) {
			t.Errorf("message %d: From %q, zoe(i) = %v", i, from, c.zoe(i))
		}
		if c.zoe(i) {
			zoe++
		}
		if bytes.Contains(bytes.ToLower(m), []byte("zanzibar")) != c.zanzibar(i) {
			t.Errorf("message %d: has zanzibar = %v, want %v", i, !c.zanzibar(i), c.zanzibar(i))
		}
		if c.zanzibar(i) {
			rare++
		}
	}
	if p := multipart * 100 / n; p < multipartPercent-3 || p > multipartPercent+3 {
		t.Errorf("%d%% multipart, want about %d%%", p, multipartPercent)
	}
	if encoded < n/20 || raw == 0 {
		t.Errorf("%d encoded-word and %d raw UTF-8 subjects of %d", encoded, raw, n)
	}
	if zoe != 1+n/zoeEvery || rare != 2 {
		t.Errorf("%d from zoe, %d with zanzibar; want %d and 2", zoe, rare, 1+n/zoeEvery)
	}

	path := filepath.Join(t.TempDir(), "corpus.mbox")
	if err := writeMbox(path, 300, c.message); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := mbox.NewReader(bufio.NewReader(f))
	for i := 1; ; i++ {
		got, err := r.Next()
		if err == io.EOF {
			if i != 301 {
				t.Errorf("mbox read back %d messages, want 300", i-1)
			}
			break
		}
		if err != nil {
			t.Fatalf("mbox message %d: %v", i, err)
		}
		at, m := c.message(i)
		want := bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
		if !bytes.Equal(got.Body, want) || !got.Date.Equal(at.Truncate(time.Second)) {
			t.Fatalf("mbox message %d differs (date %v, want %v)", i, got.Date, at)
		}
	}
}

// TestTimeCmdsReadsWholeResponse runs -time-cmds against a scripted
// server that holds back the end of a FETCH literal: the command's time
// must include the wait, and the counts must be the responses' and the
// SEARCH's.
func TestTimeCmdsReadsWholeResponse(t *testing.T) {
	const hold = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(nc)
		io.WriteString(nc, "* OK [CAPABILITY IMAP4rev1] ready\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			switch {
			case strings.HasPrefix(cmd, "LOGIN"):
			case cmd == "CAPABILITY":
				io.WriteString(nc, "* CAPABILITY IMAP4rev1\r\n")
			case strings.HasPrefix(cmd, "SELECT"):
				io.WriteString(nc, "* 2 EXISTS\r\n")
			case cmd == "FETCH 1:* (UID FLAGS)":
				io.WriteString(nc, "* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\n")
			case cmd == "FETCH 1:* (ENVELOPE)":
				io.WriteString(nc, "* 1 FETCH (ENVELOPE (NIL {10}\r\nhello")
				time.Sleep(hold)
				io.WriteString(nc, " you NIL NIL NIL NIL NIL NIL NIL NIL))\r\n* 2 FETCH (ENVELOPE (NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n")
			case cmd == `UID SEARCH FROM "zoe"`:
				io.WriteString(nc, "* SEARCH 1 2\r\n")
			case cmd == "LOGOUT":
				io.WriteString(nc, "* BYE\r\n"+tag+" OK bye\r\n")
				done <- nil
				return
			default:
				io.WriteString(nc, tag+" BAD unexpected\r\n")
				continue
			}
			io.WriteString(nc, tag+" OK done\r\n")
		}
	}()
	ts, err := timeCmds(config{addr: ln.Addr().String(), user: "u", pass: "pw", users: 1, mailbox: "INBOX",
		timeCmds: `FETCH 1:* (ENVELOPE); UID SEARCH FROM "zoe"`})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if len(ts) != 2 {
		t.Fatalf("%d timings, want 2", len(ts))
	}
	if ts[0].elapsed < hold || ts[0].untagged != 2 || ts[0].hits != 0 {
		t.Errorf("FETCH: %+v, want at least %s and 2 untagged responses", ts[0], hold)
	}
	if ts[1].cmd != `UID SEARCH FROM "zoe"` || ts[1].untagged != 1 || ts[1].hits != 2 || ts[1].elapsed >= hold {
		t.Errorf("SEARCH: %+v, want 1 untagged response with 2 hits, quick", ts[1])
	}
}
