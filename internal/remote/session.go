package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"pail/internal/tlsrpt"
)

// quitTimeout bounds the wait for the reply to QUIT: the mail is settled by
// then, so a slow server must not hold the queue worker.
const quitTimeout = 10 * time.Second

// errTLSHandshake means STARTTLS was accepted but the handshake failed;
// the host is tried again without TLS.
var errTLSHandshake = errors.New("TLS handshake failed")

// errPolicyTLS means TLS that a policy requires could not be had; the
// host is not tried in the clear.
var errPolicyTLS = errors.New("TLS required by policy failed")

// outcome is a session's result for one recipient.
type outcome struct {
	Result
	// tryElsewhere: the failure was the host's, not the recipient's, so
	// another host of the domain may do better.
	tryElsewhere bool
}

// attempt delivers to the recipients idx of m through one address of h,
// under the TLS policy pol. When the STARTTLS handshake fails it connects
// once more without TLS (opportunistic TLS, RFC 7435 §6: better in clear
// than not at all), unless credentials are to be sent or pol requires
// TLS (DANE, MTA-STS enforce).
func (c *Client) attempt(ctx context.Context, h hop, addr string, m Message, eight bool, idx []int, pol tlsPolicy) []outcome {
	rcpts := make([]string, len(idx))
	for j, i := range idx {
		rcpts[j] = m.Rcpts[i]
	}
	out, err := c.session(ctx, h, addr, m, eight, rcpts, pol, true)
	if errors.Is(err, errTLSHandshake) && !c.authenticates(h) && !pol.required && ctx.Err() == nil {
		c.log.Info("STARTTLS handshake failed; retrying without TLS", "id", m.ID, "host", h.name, "addr", addr)
		out, _ = c.session(ctx, h, addr, m, eight, rcpts, pol, false)
	}
	return out
}

// authenticates reports whether sessions to h send credentials.
func (c *Client) authenticates(h hop) bool {
	return h.smarthost && c.cfg.SmarthostUsername != ""
}

// session is one SMTP client connection.
type session struct {
	c       *Client
	h       hop
	addr    string
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration // write timeout of the current step
	ext     map[string]string
	tls     bool
}

// session runs one SMTP dialogue with addr and returns an outcome per
// recipient. The error is errTLSHandshake when that is why it failed.
func (c *Client) session(ctx context.Context, h hop, addr string, m Message, eight bool, rcpts []string, pol tlsPolicy, useTLS bool) ([]outcome, error) {
	out := make([]outcome, len(rcpts))
	for i, r := range rcpts {
		out[i].Rcpt = r
	}
	fail := func(st Status, rep Reply, elsewhere bool) []outcome {
		for i := range out {
			if out[i].Status == 0 {
				out[i] = outcome{Result{Rcpt: rcpts[i], Status: st, Reply: rep, RemoteMTA: h.name, Addr: addr}, elsewhere}
			}
		}
		return out
	}
	t := c.cfg.Timeouts

	nc, err := c.dial(ctx, "tcp", addr)
	if err != nil {
		return fail(Deferred, Reply{Enhanced: "4.4.1", Text: fmt.Sprintf("connect to %s (%s): %v", h.name, addr, unwrapNet(err))}, true), nil
	}
	defer nc.Close()
	// Cancelling ctx cuts the connection, which ends any blocked read or
	// write at once.
	defer context.AfterFunc(ctx, func() { nc.Close() })()
	s := &session{c: c, h: h, addr: addr}
	s.setConn(nc)

	lost := func(stage string, err error) []outcome {
		if errors.Is(err, errGarbled) {
			return fail(Deferred, Reply{Enhanced: "4.5.0", Text: fmt.Sprintf("protocol error from %s (%s) %s: %v", h.name, addr, stage, err)}, true)
		}
		return fail(Deferred, Reply{Enhanced: "4.4.2", Text: fmt.Sprintf("lost connection with %s (%s) %s: %v", h.name, addr, stage, unwrapNet(err))}, true)
	}
	refused := func(rep Reply) []outcome {
		s.quit()
		return fail(Deferred, rep, true)
	}

	// RFC 5321 §3.1: the server speaks first. A 554 greeting refuses
	// service from this host only; the next host is tried (like Postfix's
	// smtp_skip_5xx_greeting).
	rep, _, err := s.read(t.Greeting)
	if err != nil {
		return lost("while waiting for the greeting", err), nil
	}
	if rep.Code != 220 {
		return refused(rep), nil
	}
	if rep, err := s.hello(); err != nil {
		return lost("after EHLO", err), nil
	} else if rep.Code != 250 {
		return refused(rep), nil
	}

	// RFC 3207: STARTTLS whenever offered; a policy that requires TLS
	// defers the message when it is not (RFC 7672 §2.2, RFC 8461 §5).
	helo, _, _ := strings.Cut(rep.Text, " ")
	noTLS := func(why string) []outcome {
		c.report(ctx, pol, s.conn, h.name, tlsrpt.ResultSTARTTLSNotSupported, helo)
		s.quit()
		return fail(Deferred, Reply{Enhanced: "4.7.4", Text: fmt.Sprintf("%s requires TLS, but %s (%s) %s", pol.what, h.name, addr, why)}, true)
	}
	_, offered := s.ext["STARTTLS"]
	switch {
	case !offered && pol.required:
		return noTLS("does not offer STARTTLS"), nil
	case !offered && pol.kind != "" && useTLS:
		c.report(ctx, pol, s.conn, h.name, tlsrpt.ResultSTARTTLSNotSupported, helo)
	case offered && useTLS:
		rep, err := s.cmd(t.Command, "STARTTLS")
		if err != nil {
			return lost("after STARTTLS", err), nil
		}
		if rep.Code == 220 {
			// Bytes that arrived with the 220 would be read as if
			// they came over TLS: a response injection attack.
			if s.r.Buffered() > 0 {
				return lost("after STARTTLS", fmt.Errorf("%w: data pipelined after the 220 reply", errGarbled)), nil
			}
			cfg, verified := c.tlsConfigFor(h, pol)
			if err := s.startTLS(ctx, cfg); err != nil {
				verr := verified()
				failure := tlsrpt.ResultValidationFailure
				if verr != nil && pol.failure != nil {
					failure = pol.failure(verr)
					err = verr
				}
				c.report(ctx, pol, s.conn, h.name, failure, helo)
				if pol.required {
					return fail(Deferred, Reply{Enhanced: "4.7.5", Text: fmt.Sprintf("TLS with %s (%s) does not satisfy %s: %v", h.name, addr, pol.what, err)}, true), errPolicyTLS
				}
				return fail(Deferred, Reply{Enhanced: "4.7.5", Text: fmt.Sprintf("TLS handshake with %s (%s) failed: %v", h.name, addr, err)}, true), errTLSHandshake
			}
			if verr := verified(); verr != nil && pol.failure != nil {
				// Only reported (MTA-STS testing): the session goes on.
				c.log.Info("TLS certificate does not satisfy the policy (testing mode: delivering)", "host", h.name, "policy", pol.what, "err", verr)
				c.report(ctx, pol, s.conn, h.name, pol.failure(verr), helo)
			} else {
				c.report(ctx, pol, s.conn, h.name, pol.mismatch, helo)
			}
			// RFC 3207 §4.2: forget what was learnt before TLS.
			if rep, err := s.hello(); err != nil {
				return lost("after EHLO", err), nil
			} else if rep.Code != 250 {
				return refused(rep), nil
			}
		} else if pol.required {
			return noTLS("refused STARTTLS: " + rep.String()), nil
		}
		// Otherwise (454 TLS not available) RFC 3207 §4 lets the
		// client go on in the clear.
	}

	if c.authenticates(h) {
		if o := s.auth(); o != nil {
			s.quit()
			return fail(Deferred, *o, true), nil
		}
	}

	// The transaction (RFC 5321 §3.3).
	mail := "MAIL FROM:<" + m.From + ">"
	if eight {
		// RFC 6152. Without 8BITMIME the message goes as it is, as
		// most MTAs do, rather than being converted.
		if _, ok := s.ext["8BITMIME"]; ok {
			mail += " BODY=8BITMIME"
		}
	}
	if v, ok := s.ext["SIZE"]; ok {
		// RFC 1870 §6: do not send what the server declared too big.
		if max, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && max > 0 && m.Size > max {
			s.quit()
			return fail(Failed, Reply{Enhanced: "5.3.4", Text: fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes of %s", m.Size, max, h.name)}, false), nil
		}
		mail += " SIZE=" + strconv.FormatInt(m.Size, 10)
	}
	if !isASCII(m.From) || !allASCII(rcpts) {
		// RFC 6531 §3.2: mail with UTF-8 addresses needs SMTPUTF8.
		if _, ok := s.ext["SMTPUTF8"]; !ok {
			s.quit()
			return fail(Failed, Reply{Enhanced: "5.6.7", Text: h.name + " does not support SMTPUTF8, needed for non-ASCII addresses"}, false), nil
		}
		mail += " SMTPUTF8"
	}
	_, pipelining := s.ext["PIPELINING"]
	var mailRep, dataRep Reply
	accepted := 0
	// rcpt settles one recipient from its RCPT reply, unless it was
	// accepted: then DATA decides. 421 closes the session; other 4xx
	// replies are about the recipient (mailbox full, greylisting) and
	// stand for this attempt.
	rcpt := func(i int, rep Reply) {
		if rep.Code == 250 || rep.Code == 251 {
			accepted++
			return
		}
		st := Deferred
		if rep.Code/100 == 5 {
			st = Failed
		}
		out[i] = outcome{Result{Rcpt: rcpts[i], Status: st, Reply: rep, RemoteMTA: h.name, Addr: addr},
			st == Deferred && (rep.Code == 421 || rep.Code/100 != 4)}
	}
	if pipelining {
		// RFC 2920 §3.1: MAIL, every RCPT and DATA in one group; the
		// replies come back in order.
		s.writeLine(mail)
		for _, r := range rcpts {
			s.writeLine("RCPT TO:<" + r + ">")
		}
		s.writeLine("DATA")
		if err := s.flush(t.Mail); err != nil {
			return lost("while sending MAIL FROM", err), nil
		}
		if mailRep, _, err = s.read(t.Mail); err != nil {
			return lost("after MAIL FROM", err), nil
		}
		for i := range rcpts {
			rep, _, err := s.read(t.Rcpt)
			if err != nil {
				return lost("after RCPT TO", err), nil
			}
			if mailRep.Code == 250 {
				rcpt(i, rep)
			}
		}
		if dataRep, _, err = s.read(t.DataInit); err != nil {
			return lost("after DATA", err), nil
		}
	} else {
		if mailRep, err = s.cmd(t.Mail, mail); err != nil {
			return lost("after MAIL FROM", err), nil
		}
		for i, r := range rcpts {
			if mailRep.Code != 250 {
				break
			}
			rep, err := s.cmd(t.Rcpt, "RCPT TO:<"+r+">")
			if err != nil {
				return lost("after RCPT TO", err), nil
			}
			rcpt(i, rep)
			if rep.Code == 421 {
				return fail(Deferred, rep, true), nil
			}
		}
		if accepted > 0 {
			if dataRep, err = s.cmd(t.DataInit, "DATA"); err != nil {
				return lost("after DATA", err), nil
			}
		}
	}

	if mailRep.Code != 250 {
		if pipelining && dataRep.Code == 354 {
			s.abortData()
		}
		s.quit()
		if mailRep.Code/100 == 5 {
			return fail(Failed, mailRep, false), nil
		}
		return fail(Deferred, mailRep, true), nil
	}
	if accepted == 0 {
		if pipelining && dataRep.Code == 354 {
			s.abortData()
		}
		s.quit()
		return out, nil
	}
	if dataRep.Code != 354 {
		s.quit()
		if dataRep.Code/100 == 5 {
			return fail(Failed, dataRep, false), nil
		}
		return fail(Deferred, dataRep, true), nil
	}

	// RFC 5321 §4.5.3.2.5: each block of data within 3 minutes.
	s.timeout = t.DataBlock
	dw := textproto.NewWriter(s.w).DotWriter()
	if _, err := io.Copy(dw, io.NewSectionReader(m.Body, 0, m.Size)); err != nil {
		return lost("while sending the message", err), nil
	}
	if err := dw.Close(); err != nil {
		return lost("while sending the message", err), nil
	}
	// A crash or a lost connection from here until the reply is recorded
	// may deliver the message twice (RFC 1047): the queue is at least
	// once, never at most once.
	final, _, err := s.read(t.DataTerm)
	if err != nil {
		return lost("while waiting for the reply to the message (it may have been delivered)", err), nil
	}
	s.quit()
	switch final.Code / 100 {
	case 2:
		return fail(Delivered, final, false), nil
	case 5:
		return fail(Failed, final, false), nil
	}
	return fail(Deferred, final, true), nil
}

// setConn switches the session to a (new) connection.
func (s *session) setConn(nc net.Conn) {
	s.conn = nc
	// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; allow
	// more, but not without bound.
	s.r = bufio.NewReaderSize(nc, maxReplyLine)
	s.w = bufio.NewWriterSize(deadlineWriter{s}, 32<<10)
}

// startTLS performs the TLS handshake after a 220 reply to STARTTLS.
func (s *session) startTLS(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(s.conn, cfg)
	s.conn.SetDeadline(time.Now().Add(s.c.cfg.Timeouts.Connect))
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	s.conn.SetDeadline(time.Time{})
	s.setConn(tc)
	s.tls = true
	return nil
}

// tlsConfig returns the TLS client configuration for h.
func (c *Client) tlsConfig(h hop) *tls.Config {
	var cfg *tls.Config
	if c.cfg.TLS != nil {
		cfg = c.cfg.TLS.Clone()
	} else {
		// RFC 7435: opportunistic TLS; MX certificates are not checked,
		// as is usual for port 25 without DANE or MTA-STS.
		cfg = &tls.Config{InsecureSkipVerify: true}
	}
	if cfg.ServerName == "" && !strings.HasPrefix(h.name, "[") && net.ParseIP(h.name) == nil {
		cfg.ServerName = h.name
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// hello sends EHLO, falling back to HELO when EHLO is not understood
// (RFC 5321 §3.2), and records the extensions offered.
func (s *session) hello() (Reply, error) {
	s.ext = map[string]string{}
	rep, lines, err := s.cmdLines(s.c.cfg.Timeouts.Command, "EHLO "+s.c.cfg.EHLOName)
	if err != nil {
		return rep, err
	}
	if rep.Code == 250 {
		for _, l := range lines[1:] {
			kw, params, _ := strings.Cut(l, " ")
			s.ext[strings.ToUpper(kw)] = params
		}
		return rep, nil
	}
	if rep.Code/100 != 5 {
		return rep, nil
	}
	return s.cmd(s.c.cfg.Timeouts.Command, "HELO "+s.c.cfg.EHLOName)
}

// auth authenticates to the smarthost with AUTH PLAIN (RFC 4954, RFC
// 4616). It returns the reply to report when that is impossible or fails.
func (s *session) auth() *Reply {
	if !s.tls && !isLoopback(s.conn.RemoteAddr()) {
		return &Reply{Enhanced: "4.7.10", Text: "smarthost " + s.h.name + " offers no STARTTLS; credentials are not sent in the clear"}
	}
	if !strings.Contains(" "+strings.ToUpper(s.ext["AUTH"])+" ", " PLAIN ") {
		return &Reply{Enhanced: "4.7.8", Text: "smarthost " + s.h.name + " does not offer AUTH PLAIN"}
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + s.c.cfg.SmarthostUsername + "\x00" + s.c.cfg.SmarthostPassword))
	rep, err := s.cmd(s.c.cfg.Timeouts.Command, "AUTH PLAIN "+cred)
	if err != nil {
		return &Reply{Enhanced: "4.4.2", Text: fmt.Sprintf("lost connection with %s during AUTH: %v", s.h.name, unwrapNet(err))}
	}
	if rep.Code != 235 {
		rep.Text = "smarthost refused our credentials: " + rep.Text
		return &rep
	}
	return nil
}

// abortData ends a DATA that was accepted although no recipient was (RFC
// 2920 §3.1): an empty message the server must then refuse.
func (s *session) abortData() {
	s.writeLine(".")
	if s.flush(s.c.cfg.Timeouts.Command) == nil {
		s.read(s.c.cfg.Timeouts.DataTerm)
	}
}

// quit ends the session politely (RFC 5321 §4.1.1.10), without waiting
// long for the answer.
func (s *session) quit() {
	s.cmd(quitTimeout, "QUIT")
}

// writeLine buffers one command line.
func (s *session) writeLine(line string) {
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
}

// flush sends the buffered commands, each write within timeout.
func (s *session) flush(timeout time.Duration) error {
	s.timeout = timeout
	return s.w.Flush()
}

// cmd sends one command and reads its reply within timeout.
func (s *session) cmd(timeout time.Duration, line string) (Reply, error) {
	rep, _, err := s.cmdLines(timeout, line)
	return rep, err
}

func (s *session) cmdLines(timeout time.Duration, line string) (Reply, []string, error) {
	s.writeLine(line)
	if err := s.flush(timeout); err != nil {
		return Reply{}, nil, err
	}
	return s.read(timeout)
}

// deadlineWriter writes to the session's connection, giving each write the
// session's current timeout.
type deadlineWriter struct{ s *session }

// Write writes p within the session's current timeout.
func (w deadlineWriter) Write(p []byte) (int, error) {
	w.s.conn.SetWriteDeadline(time.Now().Add(w.s.timeout))
	return w.s.conn.Write(p)
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// unwrapNet shortens a network error to its cause, for replies.
func unwrapNet(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
