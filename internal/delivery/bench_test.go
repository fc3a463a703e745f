package delivery

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"pail/internal/store"
)

// BenchmarkReceive measures what receiving costs per message on the SMTP
// hot path before the commit: the trace headers, and writing the content
// (with what Write computes on the way: the dedupe digest) in the 32 KiB
// pieces smtpd copies with. The AR variants add what the inbound checks
// make Commit do first: the stored copy written anew with the
// Authentication-Results field prepended (rewrite), the content copied in
// the kernel.
func BenchmarkReceive(b *testing.B) {
	benchReceive(b, "")
	benchReceive(b, "AR/")
}

func benchReceive(b *testing.B, variant string) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%s%dKiB", variant, size>>10), func(b *testing.B) {
			st, err := store.Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			d := NewDeliverer(st, nil, nil, "mx.hill.test")
			body := append([]byte("From: jack@town.test\r\nMessage-ID: <b@town.test>\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), size/64)...)
			rcpts := []Recipient{{Address: "jill@hill.test", Route: Route{Accounts: []Target{{ID: 1, Address: "jill@hill.test"}}}}}
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for range b.N {
				m, err := d.NewMessage("jack@town.test", rcpts, Trace{Helo: "town.test", Proto: "ESMTP"})
				if err != nil {
					b.Fatal(err)
				}
				for p := body; len(p) > 0; {
					n := min(len(p), 32<<10)
					if _, err := m.Write(p[:n]); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
				if variant != "" {
					m.Prepend("Authentication-Results: mx.hill.test;\r\n\tspf=pass smtp.mailfrom=jack@town.test;\r\n\tdkim=none;\r\n\tdmarc=pass header.from=town.test;\r\n\tiprev=pass policy.iprev=192.0.2.1\r\n")
					if err := m.rewrite(); err != nil {
						b.Fatal(err)
					}
				}
				m.Abort()
			}
		})
	}
}
