package smtpserver

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
)

// mail runs MAIL FROM (RFC 5321 §4.1.1.2) with the parameters offered.
func (c *Conn) mail(arg string) bool {
	switch {
	case c.helo == "":
		return !c.refuse(errNoHello)
	case c.hasMail:
		return !c.refuse(errNestedMail)
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return !c.refuse(errMailSyntax)
	}
	from, rest, ok := parsePath(strings.TrimLeft(rest, " "), true, false)
	if !ok || (rest != "" && rest[0] != ' ') {
		return !c.refuse(errMailSyntax)
	}
	params, ok := parseParams(rest)
	if !ok {
		return !c.refuse(errBadParam)
	}
	var opts MailOptions
	for _, p := range params {
		switch p.key {
		case "SIZE": // RFC 1870 §6
			n, err := strconv.ParseUint(p.value, 10, 63)
			if err != nil {
				return !c.refuse(errBadParam)
			}
			if c.cfg.MaxMessageBytes > 0 && int64(n) > c.cfg.MaxMessageBytes {
				c.reply(ErrTooLarge.Code, ErrTooLarge.Enhanced, ErrTooLarge.Message)
				return true
			}
			opts.Size = int64(n)
		case "BODY": // RFC 6152 §2; BINARYMIME (RFC 3030) is not offered
			v := strings.ToUpper(p.value)
			if v != "7BIT" && v != "8BITMIME" {
				return !c.refuse(errUnknownParam)
			}
			opts.Body = v
		case "SMTPUTF8": // RFC 6531 §3.4: no value
			if p.value != "" {
				return !c.refuse(errBadParam)
			}
			opts.UTF8 = true
		case "AUTH": // RFC 4954 §5: the submitter, xtext; "<>" for none
			v, ok := decodeXtext(p.value)
			if !ok || v == "" {
				return !c.refuse(errBadParam)
			}
			if v != "<>" {
				opts.Auth = v
			}
		default:
			return !c.refuse(errUnknownParam)
		}
	}
	if err := c.sess.Mail(from, opts); err != nil {
		return !c.replyErr(err).Close
	}
	c.hasMail = true
	c.reply(250, "2.1.0", "Sender <"+from+"> OK")
	return true
}

// rcpt runs RCPT TO (RFC 5321 §4.1.1.3); no parameters are offered.
func (c *Conn) rcpt(arg string) bool {
	if !c.hasMail {
		return !c.refuse(errNoMail)
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return !c.refuse(errRcptSyntax)
	}
	to, rest, ok := parsePath(strings.TrimLeft(rest, " "), false, true)
	if !ok || (rest != "" && rest[0] != ' ') {
		return !c.refuse(errRcptSyntax)
	}
	params, ok := parseParams(rest)
	if !ok {
		return !c.refuse(errBadParam)
	}
	if len(params) > 0 {
		return !c.refuse(errUnknownParam)
	}
	if c.cfg.MaxRecipients > 0 && c.rcpts >= c.cfg.MaxRecipients {
		// RFC 5321 §4.5.3.1.10: 452, and the client sends the rest later.
		c.reply(errTooManyRcpts.Code, errTooManyRcpts.Enhanced, errTooManyRcpts.Message)
		return true
	}
	if err := c.sess.Rcpt(to); err != nil {
		return !c.replyErr(err).Close
	}
	c.rcpts++
	c.reply(250, "2.1.5", "Recipient <"+to+"> OK")
	return true
}

// data runs DATA (RFC 5321 §4.1.1.4): 354, the content to the end of
// data, then the Session's verdict.
func (c *Conn) data(arg string) bool {
	switch {
	case arg != "":
		return !c.refuse(errNoArgs)
	case !c.hasMail || c.rcpts == 0:
		return !c.refuse(errNoRcpt)
	}
	c.reply(354, "", "Start mail input; end with <CRLF>.<CRLF>")
	limit := int64(-1)
	if c.cfg.MaxMessageBytes > 0 {
		limit = c.cfg.MaxMessageBytes
	}
	r := newDotReader(c.br, limit)
	c.inData.Store(true)
	err := c.sess.Data(r)
	var e *Error
	if errors.As(err, &e) && e.Close {
		// The session ends at once: the content may have no end of
		// data that anyone would recognise (a bare LF instead of CRLF).
		c.inData.Store(false)
		c.reply(e.Code, e.Enhanced, e.Message)
		return false
	}
	// Whatever the verdict, the reply follows the end of data (§4.1.1.4).
	if r.err == nil || r.err == ErrTooLarge {
		r.err, r.limit = nil, -1
		io.Copy(io.Discard, r)
	}
	c.inData.Store(false)
	if r.err != io.EOF {
		c.connFailed(r.err)
		return false
	}
	defer c.reset()
	if err != nil {
		return !c.replyErr(err).Close
	}
	c.reply(250, "2.0.0", "OK: queued")
	return true
}

// connFailed answers a connection that failed mid-message: a timeout
// gets 421 4.4.2 (RFC 5321 §4.5.3.2), anything else nothing.
func (c *Conn) connFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.reply(421, "4.4.2", c.cfg.Hostname+" Timeout, closing connection")
	}
}

// discard reads and drops n bytes of a chunk that is refused: the chunk
// follows its BDAT command whatever the reply (RFC 3030 §2).
func (c *Conn) discard(n int64) error {
	c.inData.Store(true)
	defer c.inData.Store(false)
	_, err := io.CopyN(io.Discard, c.br, n)
	return err
}

// bdatCommand runs a BDAT that starts a message (RFC 3030 §2); the BDATs
// after it are read by the message's reader while Session.Data runs.
func (c *Conn) bdatCommand(arg string) bool {
	size, last, ok := parseBDAT(arg)
	if !ok {
		return !c.refuse(errBdatSyntax)
	}
	if !c.hasMail || c.rcpts == 0 {
		if c.discard(size) != nil {
			return false
		}
		return !c.refuse(errNoRcpt)
	}
	if c.cfg.MaxMessageBytes > 0 && size > c.cfg.MaxMessageBytes {
		if c.discard(size) != nil {
			return false
		}
		c.reply(ErrTooLarge.Code, ErrTooLarge.Enhanced, ErrTooLarge.Message)
		c.reset()
		return true
	}
	r := &bdatReader{c: c, left: size, last: last, total: size}
	c.inData.Store(true)
	err := c.sess.Data(r)
	switch {
	case r.left == 0 && r.last && (r.err == nil || r.err == io.EOF):
		// All read: the usual end.
	case r.err == nil || r.err == io.EOF:
		// The Session stopped early: drop the rest of this chunk and
		// refuse the message (RFC 3030 §2: the client sends no more
		// chunks after a failure; any it pipelined find no transaction).
		if c.discard(r.left) != nil {
			c.inData.Store(false)
			return false
		}
		if err == nil {
			err = errInternal
		}
	case r.err == ErrTooLarge:
		if err == nil {
			err = ErrTooLarge
		}
	case errors.Is(r.err, ErrDataReset):
		// RSET, QUIT or a greeting ended the transfer: no reply for
		// the message; the loop runs that command next.
		c.inData.Store(false)
		c.reset()
		return c.pending.verb != ""
	default:
		// The connection failed, or a guard or line limit refused a
		// command line between chunks.
		c.inData.Store(false)
		var e *Error
		if errors.As(r.err, &e) {
			c.reply(e.Code, e.Enhanced, e.Message)
		} else {
			c.connFailed(r.err)
		}
		return false
	}
	c.inData.Store(false)
	defer c.reset()
	if err != nil {
		return !c.replyErr(err).Close
	}
	c.reply(250, "2.0.0", "OK: queued")
	return true
}

// auth runs AUTH (RFC 4954 §4) with the Session's SASL server.
func (c *Conn) auth(arg string) bool {
	as, offered := c.sess.(AuthSession)
	switch {
	case c.helo == "":
		return !c.refuse(errNoHello)
	case !offered:
		return !c.refuse(errNoAuth)
	case c.authed:
		return !c.refuse(errAuthTwice)
	case c.hasMail:
		return !c.refuse(errAuthInMail)
	}
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return !c.refuse(errAuthSyntax)
	}
	var resp []byte
	if len(f) == 2 {
		var ok bool
		if resp, ok = decodeSASL(f[1]); !ok {
			return !c.refuse(errBadBase64)
		}
	}
	srv, err := as.Auth(strings.ToUpper(f[0]))
	if err != nil {
		return !c.replyErr(err).Close
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			return !c.replyErr(err).Close
		}
		if done {
			break
		}
		c.reply(334, "", base64.StdEncoding.EncodeToString(challenge))
		line, err := c.br.ReadSlice('\n')
		if err != nil || len(line) > MaxLineLength {
			if err == nil || err == bufio.ErrBufferFull {
				c.reply(errLineTooLong.Code, errLineTooLong.Enhanced, errLineTooLong.Message)
			} else {
				c.readFailed(err)
			}
			return false
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "*" { // RFC 4954 §4: the client cancels
			return !c.refuse(errAuthCancelled)
		}
		var ok bool
		if resp, ok = decodeSASL(s); !ok {
			return !c.refuse(errBadBase64)
		}
	}
	c.authed = true
	c.reply(235, "2.7.0", "Authentication successful")
	return true
}

// decodeSASL decodes a SASL response: base64, "=" for an empty one
// (RFC 4954 §4).
func decodeSASL(s string) ([]byte, bool) {
	if s == "=" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}
