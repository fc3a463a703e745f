package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// pop3Timeout bounds every reply, so a stuck server fails the run.
const pop3Timeout = 60 * time.Second

// pop3Conn is a minimal POP3 client (RFC 1939), enough to download.
type pop3Conn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

// cmd sends a command and returns the text after "+OK".
func (p *pop3Conn) cmd(format string, args ...any) (string, error) {
	if format != "" {
		fmt.Fprintf(p.w, format+"\r\n", args...)
		if err := p.w.Flush(); err != nil {
			return "", err
		}
	}
	p.conn.SetDeadline(time.Now().Add(pop3Timeout))
	line, err := p.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "+OK") {
		verb, _, _ := strings.Cut(format, " ")
		return "", fmt.Errorf("%s: %s", verb, line)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "+OK")), nil
}

// multiline reads a dot-terminated body (RFC 1939 §3) and returns its size
// after dot-unstuffing.
func (p *pop3Conn) multiline() (int, error) {
	n := 0
	for {
		line, err := p.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			n += len(line)
			continue
		}
		if err != nil {
			return n, err
		}
		if bytes.Equal(line, []byte(".\r\n")) {
			return n, nil
		}
		if line[0] == '.' {
			line = line[1:]
		}
		n += len(line)
	}
}

// pop3Result is what one POP3 download session measured. The timed window
// starts after the login and ends before QUIT, so it holds only the
// downloads: a server that answers a login from its cache and one that
// computes the password hash do equal timed work.
type pop3Result struct {
	user     string
	count    int           // messages in the maildrop (STAT)
	passes   int           // full downloads of the maildrop in the window
	bytes    int           // bytes of all messages retrieved, dot-unstuffed
	seconds  float64       // the timed window
	login    time.Duration // connect, greeting, USER and PASS: not timed
	cpu      float64       // the server's CPU seconds in the window, with -cpuacct
	measured bool          // cpu was read
}

// runPOP3 logs in as account cfg.first and downloads every message with
// RETR (no DELE), cfg.passes times or, when cfg.duration is set, as many
// full passes as it takes to fill that long, and prints the figures.
func runPOP3(cfg config) error {
	r, err := pop3Download(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("imapload: POP3 %s on %s: %d passes over %d messages, %.1f MB in %.2fs (login %.0f ms, not timed): %.0f msg/s, %.1f MB/s\n",
		r.user, cfg.addr, r.passes, r.count, float64(r.bytes)/1e6, r.seconds, float64(r.login.Milliseconds()),
		float64(r.passes*r.count)/r.seconds, float64(r.bytes)/1e6/r.seconds)
	result := fmt.Sprintf("RESULT messages=%d passes=%d retrieved=%d bytes=%d seconds=%.3f login_s=%.3f",
		r.count, r.passes, r.passes*r.count, r.bytes, r.seconds, r.login.Seconds())
	if r.measured {
		result += fmt.Sprintf(" server_cpu_s=%.3f", r.cpu)
	}
	fmt.Println(result)
	return nil
}

// pop3Download runs one session: connect and log in (untimed), then full
// downloads of the maildrop with RETR 1..n until cfg.duration has passed
// (at least one; exactly cfg.passes when cfg.duration is zero), then QUIT.
func pop3Download(cfg config) (pop3Result, error) {
	r := pop3Result{user: cfg.username(0)}
	start := time.Now()
	conn, err := net.Dial("tcp", cfg.addr)
	if err != nil {
		return r, err
	}
	defer conn.Close()
	p := &pop3Conn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriter(conn)}
	if _, err := p.cmd(""); err != nil {
		return r, fmt.Errorf("greeting: %w", err)
	}
	if _, err := p.cmd("USER %s", r.user); err != nil {
		return r, err
	}
	if _, err := p.cmd("PASS %s", cfg.pass); err != nil {
		return r, err
	}
	r.login = time.Since(start)

	var cpu0 float64
	if len(cfg.cpuacct) > 0 {
		if cpu0, err = cpuSeconds(cfg.cpuacct); err != nil {
			return r, err
		}
	}
	t0 := time.Now()
	stat, err := p.cmd("STAT")
	if err != nil {
		return r, err
	}
	f := strings.Fields(stat)
	if len(f) < 2 {
		return r, fmt.Errorf("STAT: %q", stat)
	}
	if r.count, err = strconv.Atoi(f[0]); err != nil {
		return r, fmt.Errorf("STAT: %q", stat)
	}
	for {
		for i := 1; i <= r.count; i++ {
			if _, err := p.cmd("RETR %d", i); err != nil {
				return r, err
			}
			n, err := p.multiline()
			if err != nil {
				return r, fmt.Errorf("RETR %d: %w", i, err)
			}
			r.bytes += n
		}
		r.passes++
		if cfg.duration > 0 {
			if time.Since(t0) >= cfg.duration {
				break
			}
		} else if r.passes >= cfg.passes {
			break
		}
	}
	r.seconds = time.Since(t0).Seconds()
	if len(cfg.cpuacct) > 0 {
		cpu1, err := cpuSeconds(cfg.cpuacct)
		if err != nil {
			return r, err
		}
		r.cpu, r.measured = cpu1-cpu0, true
	}
	if _, err := p.cmd("QUIT"); err != nil {
		return r, err
	}
	return r, nil
}
