// Command submitload is the load client behind bench/submission.sh. It
// sends N messages of SIZE bytes to a submission port over S parallel
// sessions: each session connects, says EHLO, upgrades with STARTTLS
// (RFC 3207; the certificate is not verified, for a loopback server with a
// self-signed one), logs in with AUTH PLAIN (RFC 4616) and then sends its
// share of the messages on that one connection (MAIL, RCPT, DATA, RSET),
// and QUITs. A message counts as sent only once the server has answered
// 250 to its final dot.
//
// It prints the messages sent, the seconds taken and the rate, then a
// machine-readable line "RESULT sent=... refused=... seconds=... rate=...".
// It exits non-zero if any message was refused or a session failed.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Deadlines of the network steps. Generous for a loaded loopback server,
// short enough that a stuck server ends the run instead of hanging it.
const (
	dialTimeout    = 10 * time.Second // TCP connect
	setupTimeout   = 30 * time.Second // greeting, EHLO, STARTTLS, AUTH together
	commandTimeout = 30 * time.Second // each reply to MAIL, RCPT, DATA, RSET, QUIT
	messageTimeout = 60 * time.Second // one whole transaction, data and final reply included
)

// minSize is the smallest -size: room for the header the messages carry.
const minSize = 512

// config holds the command line.
type config struct {
	addr     string
	user     string
	pass     string
	from     string
	to       string
	count    int
	sessions int
	size     int
	verbose  bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:2587", "submission server `host:port` (STARTTLS)")
	flag.StringVar(&cfg.user, "user", "ann@hill.test", "AUTH PLAIN user name")
	flag.StringVar(&cfg.pass, "pass", "pw", "AUTH PLAIN password")
	flag.StringVar(&cfg.from, "from", "", "envelope and header From `address` (default: -user)")
	flag.StringVar(&cfg.to, "to", "someone@far.test", "recipient `address`")
	flag.IntVar(&cfg.count, "n", 1000, "messages to send in all")
	flag.IntVar(&cfg.sessions, "s", 10, "parallel sessions")
	flag.IntVar(&cfg.size, "size", 4096, "size in bytes of each message")
	flag.BoolVar(&cfg.verbose, "v", false, "print every refusal")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "submitload: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	if cfg.count < 1 || cfg.sessions < 1 || cfg.size < minSize {
		fmt.Fprintf(os.Stderr, "submitload: -n and -s must be positive, -size at least %d\n", minSize)
		os.Exit(2)
	}
	if cfg.from == "" {
		cfg.from = cfg.user
	}
	res, err := run(context.Background(), cfg)
	fmt.Printf("%d messages sent, %d refused, %.2f s, %.0f msg/s\n", res.sent, res.refused, res.seconds, float64(res.sent)/res.seconds)
	fmt.Printf("RESULT sent=%d refused=%d seconds=%.3f rate=%.1f\n", res.sent, res.refused, res.seconds, float64(res.sent)/res.seconds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "submitload:", err)
		os.Exit(1)
	}
	if res.refused > 0 || res.sent != int64(cfg.count) {
		fmt.Fprintf(os.Stderr, "submitload: %d of %d messages not accepted\n", int64(cfg.count)-res.sent, cfg.count)
		os.Exit(1)
	}
}

// result is what a run did.
type result struct {
	sent, refused int64
	seconds       float64
}

// run sends cfg.count messages over cfg.sessions sessions and returns the
// counts and the time from the first connection to the last QUIT; the
// error is the first session's failure, if any.
func run(ctx context.Context, cfg config) (result, error) {
	var (
		next, sent, refused atomic.Int64
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		first               error
	)
	sessions := min(cfg.sessions, cfg.count)
	start := time.Now()
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := session(ctx, cfg, i, &next, &sent, &refused)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("session %d: %w", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return result{sent: sent.Load(), refused: refused.Load(), seconds: time.Since(start).Seconds()}, first
}

// session is one connection: set-up, then messages numbered from the
// shared counter next until cfg.count are taken, then QUIT.
func session(ctx context.Context, cfg config, id int, next, sent, refused *atomic.Int64) error {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(setupTimeout)); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	// The server is on loopback with a self-signed certificate: the
	// benchmark measures TLS's cost, not its trust.
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return fmt.Errorf("EHLO/STARTTLS: %w", err)
	}
	defer c.Close()
	c.CommandTimeout = commandTimeout
	c.SubmissionTimeout = commandTimeout
	if err := c.Auth(sasl.NewPlainClient("", cfg.user, cfg.pass)); err != nil {
		return fmt.Errorf("AUTH PLAIN: %w", err)
	}
	for {
		n := next.Add(1) - 1
		if n >= int64(cfg.count) {
			break
		}
		if err := conn.SetDeadline(time.Now().Add(messageTimeout)); err != nil {
			return fmt.Errorf("deadline: %w", err)
		}
		err := send(c, cfg, message(cfg, id, n))
		var serr *smtp.SMTPError
		switch {
		case err == nil:
			sent.Add(1)
		case errors.As(err, &serr):
			refused.Add(1)
			if cfg.verbose {
				fmt.Fprintf(os.Stderr, "submitload: message %d refused: %v\n", n, err)
			}
		default:
			return fmt.Errorf("message %d: %w", n, err)
		}
		// RSET after every transaction, as a mail client that keeps its
		// connection does (RFC 5321 §4.1.1.5).
		if err := c.Reset(); err != nil {
			return fmt.Errorf("RSET: %w", err)
		}
	}
	if err := conn.SetDeadline(time.Now().Add(commandTimeout)); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	return nil
}

// send is one transaction: MAIL, RCPT, DATA, the message and its final
// reply, which must be 250.
func send(c *smtp.Client, cfg config, msg []byte) error {
	if err := c.Mail(cfg.from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(cfg.to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// message returns message n of session id: an RFC 5322 header with the
// fields a mail client writes, then lines of text up to cfg.size bytes.
func message(cfg config, id int, n int64) []byte {
	b := make([]byte, 0, cfg.size)
	b = fmt.Appendf(b, "From: Bench <%s>\r\nTo: <%s>\r\nSubject: submission benchmark %d\r\n"+
		"Date: %s\r\nMessage-ID: <bench.%d.%d@submitload>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n",
		cfg.from, cfg.to, n, time.Now().Format(time.RFC1123Z), id, n)
	const line = "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	for len(b)+len(line) <= cfg.size-2 {
		b = append(b, line...)
	}
	for len(b) < cfg.size-2 {
		b = append(b, 'x')
	}
	return append(b, "\r\n"...)
}
