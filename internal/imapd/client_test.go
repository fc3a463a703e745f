package imapd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bounds of the test client's reads.
const (
	clientReadTimeout = 5 * time.Second // a reply slower than this is a failure
	clientMaxLiteral  = 16 << 20        // larger than any message a test sends
)

// client is a raw-protocol IMAP client for tests: it sends tagged
// commands (with literals), reads every response up to the tagged one,
// and parses only what the tests check. It keeps what a mail client
// keeps of unilateral data: EXISTS, EXPUNGE and FETCH FLAGS.
type client struct {
	t     testing.TB
	fail  func(format string, args ...any) // t.Fatalf unless set otherwise
	c     net.Conn
	br    *bufio.Reader
	n     int
	count uint32 // messages in the selected mailbox, as the server has told

	existsSeen []uint32            // every EXISTS count received
	expunged   []uint32            // every EXPUNGE sequence number received
	flags      map[uint32][]string // the last FLAGS of each message
}

// resp is one server response with its literals inlined.
type resp struct {
	tag string // "*", "+" or the command's tag
	raw string
}

// result is a command's untagged responses and its tagged status.
type result struct {
	untagged []resp
	status   string // OK, NO or BAD
	text     string // after the status
}

// err is nil for OK, else the tagged line.
func (r *result) err() error {
	if r.status == "OK" {
		return nil
	}
	return fmt.Errorf("%s %s", r.status, r.text)
}

func dialClient(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, fail: t.Fatalf, c: nc, br: bufio.NewReader(nc), flags: map[uint32][]string{}}
	if g := c.read(clientReadTimeout); !strings.HasPrefix(g.raw, "* OK") {
		c.fail("greeting %q", g.raw)
	}
	return c
}

// line reads one CRLF-terminated line before the deadline.
func (c *client) line(deadline time.Time) (string, error) {
	c.c.SetReadDeadline(deadline)
	l, err := c.br.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// tryRead reads one response, inlining literals (RFC 9051 §4.3).
func (c *client) tryRead(d time.Duration) (resp, error) {
	deadline := time.Now().Add(d)
	var b strings.Builder
	for {
		l, err := c.line(deadline)
		if err != nil {
			return resp{}, fmt.Errorf("read: %w", err)
		}
		b.WriteString(l)
		n, ok := literalSize(l)
		if !ok {
			break
		}
		if n > clientMaxLiteral {
			return resp{}, fmt.Errorf("literal of %d bytes", n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			return resp{}, fmt.Errorf("read literal: %w", err)
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
	r := resp{raw: b.String()}
	r.tag, _, _ = strings.Cut(r.raw, " ")
	if r.tag == "*" {
		c.track(r)
	}
	return r, nil
}

func (c *client) read(d time.Duration) resp {
	r, err := c.tryRead(d)
	if err != nil {
		c.fail("%v", err)
	}
	return r
}

// literalSize reports whether line ends with a literal's {n} or ~{n}.
func literalSize(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[i+1:len(line)-1], "+"))
	return n, err == nil && n >= 0
}

// track records unilateral data as a client's mailbox view would.
func (c *client) track(r resp) {
	f := strings.Fields(r.raw)
	if len(f) < 3 {
		return
	}
	n, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return
	}
	num := uint32(n)
	switch strings.ToUpper(f[2]) {
	case "EXISTS":
		c.count = num
		c.existsSeen = append(c.existsSeen, num)
	case "EXPUNGE":
		c.count--
		c.expunged = append(c.expunged, num)
		delete(c.flags, num)
	case "FETCH":
		if _, m := fetchData(c.t, r); m["FLAGS"] != nil {
			c.flags[num] = atoms(m["FLAGS"])
		}
	}
}

// send writes a tagged command and returns its tag.
func (c *client) send(cmd string) string {
	c.n++
	tag := fmt.Sprintf("c%d", c.n)
	c.c.SetWriteDeadline(time.Now().Add(clientReadTimeout))
	if _, err := fmt.Fprintf(c.c, "%s %s\r\n", tag, cmd); err != nil {
		c.fail("write: %v", err)
	}
	return tag
}

// finish reads the responses of the command tag up to its tagged one.
func (c *client) finish(tag string) *result {
	res := &result{}
	for {
		r := c.read(clientReadTimeout)
		if r.tag != tag {
			res.untagged = append(res.untagged, r)
			continue
		}
		rest := strings.TrimPrefix(r.raw, tag+" ")
		res.status, res.text, _ = strings.Cut(rest, " ")
		return res
	}
}

// do runs one command without literals.
func (c *client) do(cmd string) *result {
	c.t.Helper()
	return c.finish(c.send(cmd))
}

// ok runs cmd and fails the test unless it is answered OK.
func (c *client) ok(cmd string) *result {
	c.t.Helper()
	res := c.do(cmd)
	if err := res.err(); err != nil {
		c.fail("%s: %v", cmd, err)
	}
	return res
}

// doLiteral runs prefix {len(lit)} lit: a synchronising literal, sent
// after the server's continuation (RFC 9051 §7.5).
func (c *client) doLiteral(prefix, lit string) *result {
	c.t.Helper()
	tag := c.send(fmt.Sprintf("%s {%d}", prefix, len(lit)))
	for {
		r := c.read(clientReadTimeout)
		if r.tag == "+" {
			break
		}
		if r.tag == tag {
			res := &result{}
			res.status, res.text, _ = strings.Cut(strings.TrimPrefix(r.raw, tag+" "), " ")
			return res
		}
	}
	if _, err := io.WriteString(c.c, lit+"\r\n"); err != nil {
		c.fail("write literal: %v", err)
	}
	return c.finish(tag)
}

// idle starts IDLE (RFC 2177) and returns its tag once the server is idling.
func (c *client) idle() string {
	tag := c.send("IDLE")
	for {
		r := c.read(clientReadTimeout)
		if r.tag == "+" {
			return tag
		}
		if r.tag == tag {
			c.fail("IDLE: %s", r.raw)
		}
	}
}

// done ends IDLE.
func (c *client) done(tag string) *result {
	if _, err := io.WriteString(c.c, "DONE\r\n"); err != nil {
		c.fail("write: %v", err)
	}
	return c.finish(tag)
}

// waitFor reads unilateral responses until cond holds, failing after d.
func (c *client) waitFor(d time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			c.fail("condition not met within %v", d)
			return
		}
		if _, err := c.tryRead(left); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() || strings.Contains(err.Error(), "timeout") {
				c.fail("condition not met within %v", d)
				return
			}
			c.fail("%v", err)
			return
		}
	}
}

// login logs in as user.
func (c *client) login(user, pass string) {
	c.t.Helper()
	c.ok("LOGIN " + quote(user) + " " + quote(pass))
}

// quote writes s as an IMAP quoted string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// code returns the arguments of response code name ("COPYUID") in the
// tagged reply or an untagged OK, and whether it was there.
func (r *result) code(name string) ([]string, bool) {
	texts := []string{r.text}
	for _, u := range r.untagged {
		texts = append(texts, strings.TrimPrefix(u.raw, "* OK "))
	}
	for _, t := range texts {
		if !strings.HasPrefix(t, "["+name) {
			continue
		}
		end := strings.IndexByte(t, ']')
		if end < 0 {
			continue
		}
		return strings.Fields(t[1:end])[1:], true
	}
	return nil, false
}

// searched returns the numbers of the command's * SEARCH responses.
func (r *result) searched(t testing.TB) []uint32 {
	t.Helper()
	var out []uint32
	for _, u := range r.untagged {
		rest, ok := strings.CutPrefix(u.raw, "* SEARCH")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				t.Fatalf("SEARCH response %q", u.raw)
			}
			out = append(out, uint32(n))
		}
	}
	return out
}

// expunges returns the sequence numbers of the command's * N EXPUNGE.
func (r *result) expunges() []uint32 {
	var out []uint32
	for _, u := range r.untagged {
		f := strings.Fields(u.raw)
		if len(f) == 3 && strings.EqualFold(f[2], "EXPUNGE") {
			n, _ := strconv.ParseUint(f[1], 10, 32)
			out = append(out, uint32(n))
		}
	}
	return out
}

// fetches returns the command's FETCH responses by sequence number.
func (r *result) fetches(t testing.TB) map[uint32]map[string]any {
	out := map[uint32]map[string]any{}
	for _, u := range r.untagged {
		if f := strings.Fields(u.raw); len(f) > 2 && strings.EqualFold(f[2], "FETCH") {
			seq, m := fetchData(t, u)
			out[seq] = m
		}
	}
	return out
}

// listed returns the attributes of each mailbox in * LIST responses.
func (r *result) listed(t testing.TB) map[string][]string {
	out := map[string][]string{}
	for _, u := range r.untagged {
		rest, ok := strings.CutPrefix(u.raw, "* LIST ")
		if !ok {
			continue
		}
		v := parseValues(t, rest)
		if len(v) < 3 {
			t.Fatalf("LIST response %q", u.raw)
		}
		out[str(v[2])] = atoms(v[0])
	}
	return out
}

// statusItems returns the items of a * STATUS response.
func (r *result) statusItems(t testing.TB) map[string]uint64 {
	out := map[string]uint64{}
	for _, u := range r.untagged {
		rest, ok := strings.CutPrefix(u.raw, "* STATUS ")
		if !ok {
			continue
		}
		v := parseValues(t, rest)
		items, _ := v[len(v)-1].([]any)
		for i := 0; i+1 < len(items); i += 2 {
			n, _ := strconv.ParseUint(str(items[i+1]), 10, 64)
			out[strings.ToUpper(str(items[i]))] = n
		}
	}
	return out
}

// fetchData parses "* N FETCH (item value ...)" into N and item → value.
func fetchData(t testing.TB, r resp) (uint32, map[string]any) {
	f := strings.SplitN(r.raw, " ", 4)
	n, _ := strconv.ParseUint(f[1], 10, 32)
	m := map[string]any{}
	v := parseValues(t, f[3])
	if len(v) != 1 {
		t.Errorf("FETCH response %q", r.raw)
		return uint32(n), m
	}
	items, _ := v[0].([]any)
	for i := 0; i+1 < len(items); i += 2 {
		m[strings.ToUpper(str(items[i]))] = items[i+1]
	}
	return uint32(n), m
}

// atom is an IMAP atom (a flag, a number, a FETCH item name); quoted
// strings and literals are plain strings, NIL is nil, lists are []any.
type atom string

// str is the text of an atom or string value.
func str(v any) string {
	switch v := v.(type) {
	case atom:
		return string(v)
	case string:
		return v
	}
	return ""
}

// atoms returns a list value's members as strings.
func atoms(v any) []string {
	l, _ := v.([]any)
	out := []string{}
	for _, x := range l {
		out = append(out, str(x))
	}
	return out
}

// parseValues parses a sequence of IMAP values (RFC 9051 §4): atoms
// (with a [section] and <partial> kept inside), quoted strings, literals,
// NIL and parenthesised lists.
func parseValues(t testing.TB, s string) []any {
	p := &valueParser{s: s}
	var out []any
	for p.skipSpace() {
		v, err := p.value()
		if err != nil {
			t.Errorf("parse %q at %d: %v", s, p.i, err)
			return out
		}
		out = append(out, v)
	}
	return out
}

type valueParser struct {
	s string
	i int
}

func (p *valueParser) skipSpace() bool {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
	return p.i < len(p.s)
}

func (p *valueParser) value() (any, error) {
	switch c := p.s[p.i]; {
	case c == '(':
		p.i++
		var l []any
		for {
			if !p.skipSpace() {
				return nil, fmt.Errorf("unclosed list")
			}
			if p.s[p.i] == ')' {
				p.i++
				return l, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
	case c == '"':
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			switch p.s[p.i] {
			case '\\':
				p.i++
				if p.i < len(p.s) {
					b.WriteByte(p.s[p.i])
				}
			case '"':
				p.i++
				return b.String(), nil
			default:
				b.WriteByte(p.s[p.i])
			}
		}
		return nil, fmt.Errorf("unclosed quoted string")
	case c == '{' || c == '~':
		end := strings.Index(p.s[p.i:], "}\r\n")
		if end < 0 {
			return nil, fmt.Errorf("bad literal")
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimLeft(p.s[p.i:p.i+end], "~{"), "+"))
		start := p.i + end + 3
		if err != nil || start+n > len(p.s) {
			return nil, fmt.Errorf("bad literal")
		}
		p.i = start + n
		return p.s[start : start+n], nil
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(" ()", rune(p.s[p.i])) {
		if p.s[p.i] == '[' {
			end := strings.IndexByte(p.s[p.i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			p.i += end
		}
		p.i++
	}
	a := p.s[start:p.i]
	if strings.EqualFold(a, "NIL") {
		return nil, nil
	}
	return atom(a), nil
}

// hasFlag reports whether flags holds f, ignoring case (RFC 9051 §2.3.2).
func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) })
}
