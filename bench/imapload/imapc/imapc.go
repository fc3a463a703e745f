// Package imapc is the small IMAP client imapload drives pail and Dovecot
// with: LOGIN, SELECT, FETCH, STORE, SEARCH, APPEND, EXPUNGE, IDLE, NOOP
// and LOGOUT, one command at a time, sent as a mail client sends them
// (RFC 9051; LITERAL+/LITERAL- as RFC 7888, IDLE as RFC 2177).
package imapc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Bounds on what the client reads and how long it waits.
const (
	// commandTimeout bounds one command's exchange; a server slower than
	// this under load has failed the benchmark.
	commandTimeout = 2 * time.Minute
	// maxLine bounds a response line (literals apart).
	maxLine = 1 << 20
	// maxLiteral bounds a literal: far above any message imapload writes.
	maxLiteral = 64 << 20
	// nonSyncMax is the largest literal sent without waiting for the
	// continuation when the server has LITERAL- (RFC 7888 §4); with
	// LITERAL+ any size may be, but go-imap's client, whose traffic the
	// benchmark keeps, also waits above this.
	nonSyncMax = 4096
)

// Error is a tagged NO or BAD: the command failed, the session goes on.
type Error struct {
	Status string // NO or BAD
	Text   string
}

func (e *Error) Error() string { return "imapc: " + e.Status + " " + e.Text }

// Client is one IMAP connection. It is not safe for concurrent use.
type Client struct {
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	n    int
	caps map[string]bool
	// Exists is the message count of the selected mailbox, as EXISTS and
	// EXPUNGE responses have told it.
	Exists uint32
}

// Response is one untagged response: its text with each literal
// replaced by its {size}, and the literals' contents.
type Response struct {
	Line     string
	Literals [][]byte
}

// Dial connects to addr without TLS and reads the greeting.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("imapc: dial: %w", err)
	}
	c := &Client{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}
	nc.SetReadDeadline(time.Now().Add(commandTimeout))
	r, err := c.read()
	if err == nil && !strings.HasPrefix(r.Line, "* OK") && !strings.HasPrefix(r.Line, "* PREAUTH") {
		err = fmt.Errorf("imapc: greeting %q", r.Line)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.noteCaps(r.Line)
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// Has reports whether the server advertised capability name, counting
// what IMAP4rev2 and LITERAL+ imply (RFC 9051 §6.1.1, RFC 7888 §4).
func (c *Client) Has(name string) bool {
	name = strings.ToUpper(name)
	switch {
	case c.caps[name]:
		return true
	case name == "UIDPLUS" && c.caps["IMAP4REV2"]:
		return true
	case name == "LITERAL-" && c.caps["LITERAL+"]:
		return true
	}
	return false
}

// noteCaps takes the capabilities from a [CAPABILITY ...] code or a
// * CAPABILITY response in line.
func (c *Client) noteCaps(line string) {
	var list string
	if i := strings.Index(line, "[CAPABILITY "); i >= 0 {
		list, _, _ = strings.Cut(line[i+len("[CAPABILITY "):], "]")
	} else if rest, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
		list = rest
	} else {
		return
	}
	c.caps = map[string]bool{}
	for _, f := range strings.Fields(list) {
		c.caps[strings.ToUpper(f)] = true
	}
}

// readLine reads one CRLF-terminated line, bounded by maxLine.
func (c *Client) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := c.br.ReadSlice('\n')
		if len(line)+len(frag) > maxLine {
			return nil, errors.New("imapc: response line too long")
		}
		line = append(line, frag...)
		if err == nil {
			return bytes.TrimRight(line, "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("imapc: read: %w", err)
		}
	}
}

// read reads one response with its literals (RFC 9051 §4.3).
func (c *Client) read() (Response, error) {
	var r Response
	var text []byte
	for {
		line, err := c.readLine()
		if err != nil {
			return r, err
		}
		text = append(text, line...)
		n, ok := literalSize(line)
		if !ok {
			break
		}
		if n > maxLiteral {
			return r, fmt.Errorf("imapc: literal of %d bytes", n)
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(c.br, lit); err != nil {
			return r, fmt.Errorf("imapc: read literal: %w", err)
		}
		r.Literals = append(r.Literals, lit)
	}
	r.Line = string(text)
	if strings.HasPrefix(r.Line, "* ") {
		c.track(r.Line)
	}
	return r, nil
}

// literalSize reports whether line ends with a literal's {n} or ~{n}.
func literalSize(line []byte) (int, bool) {
	if len(line) == 0 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(string(line[i+1:len(line)-1]), "+"))
	return n, err == nil && n >= 0
}

// track follows EXISTS and EXPUNGE (RFC 9051 §7.4.1, §7.5.1).
func (c *Client) track(line string) {
	num, rest, ok := strings.Cut(line[2:], " ")
	if !ok {
		return
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		c.noteCaps(line)
		return
	}
	switch {
	case strings.EqualFold(rest, "EXISTS"):
		c.Exists = uint32(n)
	case strings.EqualFold(rest, "EXPUNGE") && c.Exists > 0:
		c.Exists--
	}
}

// start writes a command's tag and text up to its end or its literal.
func (c *Client) start(text string) string {
	c.n++
	tag := "T" + strconv.Itoa(c.n)
	c.nc.SetDeadline(time.Now().Add(commandTimeout))
	c.bw.WriteString(tag)
	c.bw.WriteByte(' ')
	c.bw.WriteString(text)
	return tag
}

// finish reads responses up to the tagged one, passing each untagged
// response to each (nil for none).
func (c *Client) finish(tag string, each func(Response)) (string, error) {
	for {
		r, err := c.read()
		if err != nil {
			return "", err
		}
		rest, ok := strings.CutPrefix(r.Line, tag+" ")
		if !ok {
			if each != nil && strings.HasPrefix(r.Line, "* ") {
				each(r)
			}
			continue
		}
		status, text, _ := strings.Cut(rest, " ")
		if strings.EqualFold(status, "OK") {
			c.noteCaps(text)
			return text, nil
		}
		return text, &Error{Status: status, Text: text}
	}
}

// Command sends text as one command and reads its responses.
func (c *Client) Command(text string, each func(Response)) (string, error) {
	tag := c.start(text)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return "", fmt.Errorf("imapc: write: %w", err)
	}
	return c.finish(tag, each)
}

// Login logs in (RFC 9051 §6.2.3) and learns the capabilities.
func (c *Client) Login(user, pass string) error {
	c.caps = nil
	if _, err := c.Command("LOGIN "+astring(user)+" "+astring(pass), nil); err != nil {
		return err
	}
	if c.caps == nil {
		if _, err := c.Command("CAPABILITY", nil); err != nil {
			return err
		}
	}
	return nil
}

// Select opens mailbox; Exists is its message count afterwards.
func (c *Client) Select(mailbox string) error {
	c.Exists = 0
	_, err := c.Command("SELECT "+astring(mailbox), nil)
	return err
}

// Append adds msg to mailbox and returns its UID from APPENDUID (RFC 4315
// §3), 0 without one.
func (c *Client) Append(mailbox string, msg []byte) (uint32, error) {
	sync := len(msg) > nonSyncMax || !c.Has("LITERAL-")
	tag := c.start("APPEND " + astring(mailbox) + " {" + strconv.Itoa(len(msg)))
	if sync {
		c.bw.WriteString("}\r\n")
		if err := c.bw.Flush(); err != nil {
			return 0, fmt.Errorf("imapc: write: %w", err)
		}
		for {
			r, err := c.read()
			if err != nil {
				return 0, err
			}
			if strings.HasPrefix(r.Line, "+") {
				break
			}
			if rest, ok := strings.CutPrefix(r.Line, tag+" "); ok {
				return 0, &Error{Status: "NO", Text: rest}
			}
		}
	} else {
		c.bw.WriteString("+}\r\n")
	}
	c.bw.Write(msg)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return 0, fmt.Errorf("imapc: write: %w", err)
	}
	text, err := c.finish(tag, nil)
	if err != nil {
		return 0, err
	}
	if rest, ok := strings.CutPrefix(text, "[APPENDUID "); ok {
		f := strings.Fields(strings.SplitN(rest, "]", 2)[0])
		if len(f) == 2 {
			uid, _ := strconv.ParseUint(f[1], 10, 32)
			return uint32(uid), nil
		}
	}
	return 0, nil
}

// FetchUID returns the UID in a FETCH response, 0 without one.
func FetchUID(r Response) uint32 {
	i := strings.Index(strings.ToUpper(r.Line), "UID ")
	if i < 0 || !strings.Contains(r.Line, "FETCH") {
		return 0
	}
	num := r.Line[i+4:]
	if j := strings.IndexAny(num, " )"); j >= 0 {
		num = num[:j]
	}
	uid, _ := strconv.ParseUint(num, 10, 32)
	return uint32(uid)
}

// Idle starts IDLE (RFC 2177) and returns once the server is idling.
func (c *Client) Idle() (tag string, err error) {
	tag = c.start("IDLE\r\n")
	if err := c.bw.Flush(); err != nil {
		return "", fmt.Errorf("imapc: write: %w", err)
	}
	for {
		r, err := c.read()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(r.Line, "+") {
			return tag, nil
		}
		if rest, ok := strings.CutPrefix(r.Line, tag+" "); ok {
			return "", &Error{Status: "NO", Text: rest}
		}
	}
}

// Done ends the IDLE started as tag.
func (c *Client) Done(tag string) error {
	c.nc.SetDeadline(time.Now().Add(commandTimeout))
	c.bw.WriteString("DONE\r\n")
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("imapc: write: %w", err)
	}
	_, err := c.finish(tag, nil)
	return err
}

// Logout ends the session (RFC 9051 §6.1.3).
func (c *Client) Logout() error {
	_, err := c.Command("LOGOUT", nil)
	return err
}

// astring writes s as an atom when it may be one, else quoted (RFC 9051
// §4.3); imapload's names and passwords are ASCII.
func astring(s string) string {
	if s != "" && !strings.ContainsAny(s, " (){%*\"\\]\x7f") && strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0 {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// UIDSet writes uids as a sequence set, runs of consecutive UIDs as
// ranges (RFC 9051 §9 sequence-set).
func UIDSet(uids []uint32) string {
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(uids[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(uids[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}
