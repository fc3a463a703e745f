package smtpd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkReceive is the MX hot path end to end over loopback: one
// session sends MAIL, RCPT, DATA and a 4 KiB message per iteration and
// waits for the 250 after the data (the message committed to the store);
// "pipelined" sends the envelope and DATA in one write (RFC 2920).
func BenchmarkReceive(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 76), "\r\n"...)
	body := "Subject: bench\r\n\r\n" + strings.Repeat(string(line), 4096/len(line)) + ".\r\n"
	for _, pipelined := range []bool{false, true} {
		b.Run(fmt.Sprintf("pipelined=%v", pipelined), func(b *testing.B) {
			env := newTestEnv(b, testOpts{})
			c, err := net.Dial("tcp", env.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Minute))
			br := bufio.NewReader(c)
			expect := func(code string) {
				for {
					l, err := br.ReadString('\n')
					if err != nil || !strings.HasPrefix(l, code) {
						b.Fatalf("want %s, got %q, %v", code, l, err)
					}
					if l[3] == ' ' {
						return
					}
				}
			}
			expect("220")
			io.WriteString(c, "EHLO town.test\r\n")
			expect("250")
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if pipelined {
					io.WriteString(c, "MAIL FROM:<jack@town.test>\r\nRCPT TO:<jill@hill.test>\r\nDATA\r\n")
					expect("250")
					expect("250")
				} else {
					io.WriteString(c, "MAIL FROM:<jack@town.test>\r\n")
					expect("250")
					io.WriteString(c, "RCPT TO:<jill@hill.test>\r\n")
					expect("250")
					io.WriteString(c, "DATA\r\n")
				}
				expect("354")
				io.WriteString(c, body)
				expect("250")
			}
		})
	}
}
