package imapc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// serve answers one connection on 127.0.0.1:0 from script: each client
// line read is recorded and answered with the next reply ("" reads on).
func serve(t *testing.T, greeting string, script map[string]string) (addr string, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 100)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(nc)
		io.WriteString(nc, greeting+"\r\n")
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(got)
				return
			}
			l = strings.TrimRight(l, "\r\n")
			got <- l
			tag, cmd, _ := strings.Cut(l, " ")
			if rest, ok := strings.CutSuffix(cmd, "}"); ok && strings.Contains(rest, "{") {
				var n int
				fmt.Sscanf(rest[strings.LastIndexByte(rest, '{')+1:], "%d", &n)
				if !strings.HasSuffix(rest, "+") {
					io.WriteString(nc, "+ go on\r\n")
				}
				buf := make([]byte, n+2)
				io.ReadFull(br, buf)
				got <- fmt.Sprintf("<%d bytes>", n)
			}
			io.WriteString(nc, strings.ReplaceAll(script[cmdName(cmd)], "TAG", tag))
		}
	}()
	return ln.Addr().String(), got
}

func cmdName(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) > 1 && f[0] == "UID" {
		return "UID " + f[1]
	}
	return f[0]
}

// TestWire: the client sends the commands imapload's mix is made of as
// go-imap's client did (LITERAL+ non-synchronising up to 4 096 bytes,
// synchronising above), keeps EXISTS through EXPUNGE, reads literals in
// FETCH, takes APPENDUID, and tells NO from a broken connection.
func TestWire(t *testing.T) {
	addr, got := serve(t, "* OK ready", map[string]string{
		"LOGIN":      "TAG OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] in\r\n",
		"SELECT":     "* 3 EXISTS\r\n* OK [UIDVALIDITY 9] x\r\nTAG OK [READ-WRITE] done\r\n",
		"APPEND":     "* 4 EXISTS\r\nTAG OK [APPENDUID 9 12] done\r\n",
		"UID FETCH":  "* 2 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n* 2 EXPUNGE\r\nTAG OK done\r\n",
		"UID SEARCH": "TAG NO [CANNOT] no\r\n",
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("u1@hill.test", "pw"); err != nil || !c.Has("UIDPLUS") || !c.Has("LITERAL-") {
		t.Fatalf("LOGIN: %v, caps %v", err, c.caps)
	}
	if err := c.Select("INBOX"); err != nil || c.Exists != 3 {
		t.Fatalf("SELECT: %v, %d", err, c.Exists)
	}
	small, big := strings.Repeat("a", 4096), strings.Repeat("b", 4097)
	for _, msg := range []string{small, big} {
		if uid, err := c.Append("INBOX", []byte(msg)); err != nil || uid != 12 {
			t.Fatalf("APPEND: %d %v", uid, err)
		}
	}
	var bodies []string
	if _, err := c.Command("UID FETCH 7 (UID BODY.PEEK[])", func(r Response) {
		if FetchUID(r) == 7 && len(r.Literals) == 1 {
			bodies = append(bodies, string(r.Literals[0]))
		}
	}); err != nil || len(bodies) != 1 || bodies[0] != "hello" || c.Exists != 3 {
		t.Fatalf("FETCH: %v %q, %d messages", err, bodies, c.Exists)
	}
	var ie *Error
	if _, err := c.Command("UID SEARCH UNSEEN", nil); !errors.As(err, &ie) || ie.Status != "NO" {
		t.Fatalf("SEARCH: %v, want an *Error", err)
	}
	c.Close()
	want := []string{
		"T1 LOGIN u1@hill.test pw", "T2 SELECT INBOX",
		"T3 APPEND INBOX {4096+}", "<4096 bytes>", "T4 APPEND INBOX {4097}", "<4097 bytes>",
		"T5 UID FETCH 7 (UID BODY.PEEK[])", "T6 UID SEARCH UNSEEN",
	}
	var lines []string
	for l := range got {
		lines = append(lines, l)
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("wire:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestUIDSet(t *testing.T) {
	for in, want := range map[string]string{"": "", "5": "5", "1 2 3 5 7 8": "1:3,5,7:8"} {
		var uids []uint32
		for _, f := range strings.Fields(in) {
			var n uint32
			fmt.Sscan(f, &n)
			uids = append(uids, n)
		}
		if got := UIDSet(uids); got != want {
			t.Errorf("UIDSet(%v) = %q, want %q", uids, got, want)
		}
	}
}
