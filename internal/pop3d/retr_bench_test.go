package pop3d

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
)

// BenchmarkRetr measures RETR of 100 stored messages of 16 KiB, one
// after another in one session, over loopback: the read of the body from
// the store, the byte-stuffing and the write.
func BenchmarkRetr(b *testing.B) {
	const count, size = 100, 16 << 10
	env := newTestEnv(b, testOpts{})
	msg := "Subject: bench\r\n\r\n" + linesOf(size-len("Subject: bench\r\n\r\n"))
	for range count {
		deliver(b, env.st, env.acct.ID, msg)
	}
	conn, err := net.Dial("tcp", env.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	line()
	fmt.Fprintf(conn, "USER %s\r\nPASS %s\r\n", testUser, testPassword)
	line()
	if l := line(); !strings.HasPrefix(l, "+OK") {
		b.Fatal(l)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		fmt.Fprintf(conn, "RETR %d\r\n", len(fixture)+1+i%count)
		if l := line(); !strings.HasPrefix(l, "+OK") {
			b.Fatal(l)
		}
		for line() != ".\r\n" {
		}
	}
}
