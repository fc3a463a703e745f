package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"os/user"
	"strings"
	"time"

	"pail/internal/address"
	"pail/internal/config"
	"pail/internal/delivery"
	"pail/internal/maillog"
	"pail/internal/store"
)

// sendmailOptions is a parsed sendmail command line.
type sendmailOptions struct {
	from       string // -f / -r
	fromSet    bool   // -f was given ("" or "<>" is the null sender)
	fullName   string // -F, for a From: header pail adds
	extract    bool   // -t: recipients from To, Cc and Bcc
	ignoreDots bool   // -i / -oi: a line with a single dot does not end input
	listQueue  bool   // -bp: the queue, like mailq
	flushQueue bool   // -q: try the queue now
	rcpts      []string
}

// sendmailArgFlags are the sendmail options that take a value; those pail
// does not use are accepted and ignored, as Postfix does.
const sendmailArgFlags = "fFrcCNRVXBLhpO"

// parseSendmailArgs reads the classic sendmail command line (getopt style:
// "-ti", "-fADDR" and "-f ADDR" alike). config is the -c/-C file, if any.
func parseSendmailArgs(args []string) (o sendmailOptions, config string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.rcpts = append(o.rcpts, args[i+1:]...)
			return o, config, nil
		case a == "--config":
			if i+1 >= len(args) {
				return o, "", errors.New("sendmail: --config needs a file name")
			}
			i++
			config = args[i]
			continue
		case strings.HasPrefix(a, "--config="):
			config = strings.TrimPrefix(a, "--config=")
			continue
		case !strings.HasPrefix(a, "-") || a == "-":
			o.rcpts = append(o.rcpts, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			rest := a[j+1:]
			if strings.IndexByte(sendmailArgFlags, c) >= 0 || c == 'o' || c == 'b' {
				// The value is the rest of this word or the next word.
				if rest == "" && c != 'b' && c != 'q' {
					if i+1 >= len(args) {
						return o, "", fmt.Errorf("sendmail: -%c needs a value", c)
					}
					i++
					rest = args[i]
				}
				j = len(a)
			}
			switch c {
			case 't':
				o.extract = true
			case 'i':
				o.ignoreDots = true
			case 'v', 'm', 'n', 'U', 'e', 'x':
				// verbose, me-too, no aliasing, initial submission: no effect
			case 'o':
				if rest == "i" {
					o.ignoreDots = true
				}
			case 'b':
				switch rest {
				case "", "m":
				case "p":
					o.listQueue = true
				default:
					return o, "", fmt.Errorf("sendmail: -b%s is not supported (only -bm and -bp)", rest)
				}
			case 'q':
				o.flushQueue = true
				j = len(a) // -q15m and the like: the interval is ignored
			case 'f', 'r':
				o.from, o.fromSet = rest, true
			case 'F':
				o.fullName = rest
			case 'c', 'C':
				config = rest
			case 'N', 'R', 'V', 'X', 'B', 'L', 'h', 'p', 'O':
				// DSN notify/return, envelope id, log file, body type,
				// ...: accepted, no effect
			default:
				return o, "", fmt.Errorf("sendmail: unknown option -%c", c)
			}
		}
	}
	return o, config, nil
}

// cmdSendmail is the sendmail interface: it reads a message on standard
// input and stores it durably here, local recipients in their mailboxes and
// the others on the outgoing queue (which a running server delivers). It
// succeeds only once the message is safe.
func cmdSendmail(e *env, args []string) error {
	o, cfgFile, err := parseSendmailArgs(args)
	if err != nil {
		return err
	}
	if cfgFile != "" {
		e.config = cfgFile
	}
	switch {
	case o.listQueue:
		return cmdQueueList(e, nil)
	case o.flushQueue:
		return cmdQueueFlush(e, nil)
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	username := localUser()
	sender, err := envelopeSender(cfg, o, username)
	if err != nil {
		return err
	}
	raw, err := readSendmailInput(e.stdin, o.ignoreDots, cfg.Limits.MaxMessageBytes)
	if err != nil {
		return err
	}
	fromHeader := sender
	if fromHeader == "" {
		if fromHeader, err = qualify(cfg, username); err != nil {
			return fmt.Errorf("sendmail: user name %q: %w", username, err)
		}
	}
	msg, headerRcpts, err := prepareMessage(raw, o, fromHeader)
	if err != nil {
		return err
	}
	var rcpts []string
	for _, r := range append(append([]string{}, o.rcpts...), headerRcpts...) {
		addr, err := qualify(cfg, r)
		if err != nil {
			return fmt.Errorf("sendmail: recipient %q: %w", r, err)
		}
		rcpts = append(rcpts, addr)
	}
	if len(rcpts) == 0 {
		return errors.New("sendmail: no recipients: give them as arguments or use -t")
	}

	// Run as root (from cron, say), the message is written as the data
	// directory's owner, like every admin command.
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return err
	}
	st, err := store.OpenConfigured(e.ctx, cfg.DataDir, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	mailLog, closeLog, err := openMailLog(cfg)
	if err != nil {
		return err
	}
	defer closeLog()

	// Like SMTP submission, but trusted: whoever can run this can read
	// the data directory, so neither the envelope sender nor the header
	// From is checked against accounts (smtpd and delivery.Submit check both).
	router := delivery.NewRouter(st, cfg.IsLocalDomain, cfg.Postmaster)
	router.SetHostname(cfg.Hostname)
	var routed []delivery.Recipient
	for _, r := range rcpts {
		route, err := router.Resolve(e.ctx, r)
		if errors.Is(err, delivery.ErrNotLocal) {
			route, err = delivery.Route{Remote: []string{r}}, nil
		}
		if err != nil {
			return fmt.Errorf("sendmail: recipient %s: %w; nothing was sent", r, err)
		}
		routed = append(routed, delivery.Recipient{Address: r, Route: route})
	}
	d := delivery.NewDeliverer(st, q, mailLog, cfg.Hostname)
	// Nothing retries a run of pail sendmail: each is a new message, even
	// when cron sends the same text again (without Date, only its data
	// would tell them apart), so no copy is taken for a duplicate.
	d.DedupeWindow = 0
	m, err := d.NewMessage(sender, routed, delivery.Trace{Helo: "local", Proto: "LOCAL", Date: time.Now()})
	if err != nil {
		return err
	}
	// Date and Message-ID as for SMTP submission (RFC 6409 §8).
	fixer := delivery.NewHeaderFixer(m, cfg.Hostname, m.ID)
	if _, err := fixer.Write(msg); err != nil {
		m.Abort()
		return fmt.Errorf("sendmail: %w", err)
	}
	if err := fixer.Close(); err != nil {
		m.Abort()
		return fmt.Errorf("sendmail: %w", err)
	}
	if err := m.Commit(e.ctx); err != nil {
		return fmt.Errorf("sendmail: %w", err)
	}
	to := make([]string, len(rcpts))
	for i, r := range rcpts {
		to[i] = "<" + r + ">"
	}
	mailLog.Log(maillog.Received, "id", m.ID, "from", "<"+sender+">", "to", strings.Join(to, ","),
		"size", fmt.Sprint(m.Size()), "proto", "LOCAL", "user", username)
	return nil
}

// localUser names the user running the command.
func localUser() string {
	for _, v := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "nobody"
}

// envelopeSender is -f, or the local user at the first configured domain.
func envelopeSender(cfg *config.Config, o sendmailOptions, username string) (string, error) {
	if !o.fromSet {
		return qualify(cfg, username)
	}
	from := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(o.from), "<"), ">")
	if from == "" {
		return "", nil // the null sender
	}
	addr, err := qualify(cfg, from)
	if err != nil {
		return "", fmt.Errorf("sendmail: sender %q: %w", o.from, err)
	}
	return addr, nil
}

// qualify checks an address, adding the first configured domain to a bare
// user name (as Postfix's myorigin does).
func qualify(cfg *config.Config, addr string) (string, error) {
	addr = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(addr), "<"), ">")
	addr = address.TrimDomainDot(addr) // queued without the dot, as by SMTP
	if !strings.Contains(addr, "@") {
		addr += "@" + cfg.Domains[0]
	}
	if _, _, err := address.Split(addr); err != nil {
		return "", err
	}
	return addr, nil
}

// openMailLog opens the configured mail log file for appending; without
// one, this command's events are not logged (stderr is the user's).
func openMailLog(cfg *config.Config) (*maillog.Logger, func(), error) {
	if cfg.Log.MailFile == "" {
		return nil, func() {}, nil
	}
	f, err := os.OpenFile(cfg.Log.MailFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("log.mail_file: %w", err)
	}
	return maillog.New(f), func() { f.Close() }, nil
}

// readSendmailInput reads the message from r with CRLF line endings. A
// leading mbox "From " line is dropped; unless ignoreDots, a line holding
// a single dot ends the message (the sendmail convention). More than limit
// bytes is an error, and so is a bare CR (one not at the end of a line):
// as for SMTP (smtpd's copyContent), pail stores and relays no content
// whose end of data a next hop could read differently.
func readSendmailInput(r io.Reader, ignoreDots bool, limit int64) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, limit+1))
	var out bytes.Buffer
	var read int64
	first := true
	for {
		line, err := br.ReadString('\n')
		read += int64(len(line))
		if line != "" {
			text := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			switch {
			case strings.IndexByte(text, '\r') >= 0:
				return nil, errors.New("sendmail: the message has a bare CR (a carriage return inside a line); nothing was sent")
			case first && strings.HasPrefix(text, "From "):
			case !ignoreDots && text == ".":
				return out.Bytes(), nil
			default:
				out.WriteString(text + "\r\n")
			}
			first = false
		}
		if read > limit || int64(out.Len()) > limit {
			return nil, fmt.Errorf("sendmail: message larger than limits.max_message_bytes (%d)", limit)
		}
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("sendmail: reading the message: %w", err)
		}
	}
}

// headerField is one field of a header section, continuation lines and
// CRLF included.
type headerField struct {
	name string
	raw  string
}

// value returns the unfolded field body.
func (f headerField) value() string {
	_, v, _ := strings.Cut(f.raw, ":")
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(v))
}

// splitHeader splits a CRLF message into its header fields and body. The
// header section ends at the empty line, or at the first line that is not
// a field (then the message had no empty line before its body).
func splitHeader(msg []byte) ([]headerField, string) {
	s := string(msg)
	var fields []headerField
	for s != "" {
		line, rest, _ := strings.Cut(s, "\r\n")
		switch {
		case line == "":
			return fields, rest
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1].raw += line + "\r\n"
		case isFieldLine(line):
			name, _, _ := strings.Cut(line, ":")
			fields = append(fields, headerField{name: name, raw: line + "\r\n"})
		default:
			return fields, s
		}
		s = rest
	}
	return fields, ""
}

// isFieldLine reports whether line starts a header field: a name of
// printable characters other than colon, then a colon (RFC 5322 §2.2).
func isFieldLine(line string) bool {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	for _, c := range []byte(line[:i]) {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// prepareMessage applies what sendmail does to a message: with -t it takes
// the recipients from To, Cc and Bcc; it removes Bcc (so that blind copies
// stay blind) and adds From (with from and -F) when missing. It returns the
// message and the recipients found in its header.
func prepareMessage(raw []byte, o sendmailOptions, from string) ([]byte, []string, error) {
	fields, body := splitHeader(raw)
	var rcpts []string
	var out strings.Builder
	hasFrom := false
	for _, f := range fields {
		name := strings.ToLower(f.name)
		if o.extract && (name == "to" || name == "cc" || name == "bcc") && f.value() != "" {
			list, err := mail.ParseAddressList(f.value())
			if err != nil {
				return nil, nil, fmt.Errorf("sendmail: %s header: %w", f.name, err)
			}
			for _, a := range list {
				rcpts = append(rcpts, a.Address)
			}
		}
		switch name {
		case "bcc":
			continue
		case "from":
			hasFrom = true
		}
		out.WriteString(f.raw)
	}
	if !hasFrom {
		a := mail.Address{Name: o.fullName, Address: from}
		out.WriteString("From: " + a.String() + "\r\n")
	}
	out.WriteString("\r\n")
	out.WriteString(body)
	return []byte(out.String()), rcpts, nil
}
