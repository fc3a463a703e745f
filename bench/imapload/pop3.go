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

// runPOP3 logs in as account cfg.first and downloads every message with
// RETR (no DELE), timing the whole session from connect to QUIT.
func runPOP3(cfg config) error {
	var cpu0, cpu1 float64
	var err error
	if len(cfg.cpuacct) > 0 {
		if cpu0, err = cpuSeconds(cfg.cpuacct); err != nil {
			return err
		}
	}
	start := time.Now()
	conn, err := net.Dial("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	p := &pop3Conn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriter(conn)}
	if _, err := p.cmd(""); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	user := cfg.username(0)
	if _, err := p.cmd("USER %s", user); err != nil {
		return err
	}
	if _, err := p.cmd("PASS %s", cfg.pass); err != nil {
		return err
	}
	login := time.Since(start)
	stat, err := p.cmd("STAT")
	if err != nil {
		return err
	}
	f := strings.Fields(stat)
	if len(f) < 2 {
		return fmt.Errorf("STAT: %q", stat)
	}
	count, err := strconv.Atoi(f[0])
	if err != nil {
		return fmt.Errorf("STAT: %q", stat)
	}
	total := 0
	for i := 1; i <= count; i++ {
		if _, err := p.cmd("RETR %d", i); err != nil {
			return err
		}
		n, err := p.multiline()
		if err != nil {
			return fmt.Errorf("RETR %d: %w", i, err)
		}
		total += n
	}
	if _, err := p.cmd("QUIT"); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if len(cfg.cpuacct) > 0 {
		if cpu1, err = cpuSeconds(cfg.cpuacct); err != nil {
			return err
		}
	}
	fmt.Printf("imapload: POP3 %s on %s: %d messages, %.1f MB in %.2fs (login %.0f ms): %.0f msg/s, %.1f MB/s\n",
		user, cfg.addr, count, float64(total)/1e6, secs, float64(login.Milliseconds()), float64(count)/secs, float64(total)/1e6/secs)
	result := fmt.Sprintf("RESULT messages=%d bytes=%d seconds=%.3f", count, total, secs)
	if len(cfg.cpuacct) > 0 {
		result += fmt.Sprintf(" server_cpu_s=%.3f", cpu1-cpu0)
	}
	fmt.Println(result)
	return nil
}
