//go:build unix

package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchMessages are the shapes BenchmarkDeliver stores: a plain 4 KiB
// message and a 64 KiB multipart with a text body and a base64 attachment.
func benchMessages() map[string][]byte {
	line := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"
	plain := "From: Jack <jack@town.test>\r\nTo: jill@hill.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nDate: Mon, 7 Dec 2026 12:00:00 +0100\r\nMessage-ID: <b@town.test>\r\n\r\n" + strings.Repeat(line, 4<<10/64)
	multi := "From: Jack <jack@town.test>\r\nTo: jill@hill.test\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Jill,\r\nthe report.\r\n--XX\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\r\n", 64<<10/66) + "--XX--\r\n"
	return map[string][]byte{"plain4KiB": []byte(plain), "multipart64KiB": []byte(multi)}
}

// BenchmarkDeliver measures DeliverBody of one message to one mailbox, from a
// written spool to durable rows, with 8 concurrent deliverers as on a busy
// MX (group commit shares the fsyncs).
func BenchmarkDeliver(b *testing.B) {
	for name, body := range benchMessages() {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a, err := s.AddAccount(ctx, "jill@hill.test", "h", false)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			cpu0 := cpuTime()
			b.ResetTimer()
			var wg sync.WaitGroup
			work := make(chan struct{})
			errs := make(chan error, 8)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						sp, err := s.newSpool()
						if err == nil {
							_, err = sp.Write(body)
						}
						if err == nil {
							_, err = s.DeliverBody(ctx, sp, []Delivery{{AccountID: a.ID}})
						}
						if err != nil {
							select {
							case errs <- fmt.Errorf("deliver: %w", err):
							default:
							}
						}
					}
				}()
			}
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			// The full-text index is built after the commit: its work is
			// part of a delivery's cost.
			waitText(b, s)
			// The process's CPU time per message says what the work costs
			// on a machine shared with other jobs, where wall time does not.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSummaryOf measures what DeliverBody now does per message to keep
// its summary: read the spool, describe it, encode the columns.
func BenchmarkSummaryOf(b *testing.B) {
	for name, body := range benchMessages() {
		b.Run(name, func(b *testing.B) {
			s, err := Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			sp, err := s.newSpool()
			if err != nil {
				b.Fatal(err)
			}
			defer sp.Discard()
			sp.Write(body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := summaryOf(sp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIndexText measures what the full-text indexer does per
// message after DeliverBody: read the file's text and insert it into the
// index, in batches of textBatch as the indexer does.
func BenchmarkIndexText(b *testing.B) {
	for name, body := range benchMessages() {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
			s.stopFill() // the benchmark indexes, not the background indexer
			<-s.textDone
			for range b.N {
				sp, _ := s.newSpool()
				sp.Write(body)
				if _, err := s.DeliverBody(ctx, sp, []Delivery{{AccountID: a.ID}}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(body)))
			cpu0 := cpuTime()
			b.ResetTimer()
			var after int64
			for {
				n, last, err := s.indexStep(ctx, 0, after)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
				after = last
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
