// Package remote delivers mail to other servers over SMTP (RFC 5321). For
// one message and one recipient domain it finds the next hops (a
// smarthost, a static route, or the domain's MX hosts through DNS with the
// A/AAAA fallback and the null MX of RFC 7505), tries every host and each
// of its addresses until one takes the message, uses STARTTLS whenever it
// is offered and PIPELINING (RFC 2920) when it is offered, carries all the
// domain's recipients over one connection, and reports one result per
// recipient from the server's replies.
//
// The client is written for this job instead of using go-smtp's Client,
// which cannot say EHLO with our name before STARTTLS (it says
// "localhost"), does not pipeline, and has one timeout for every command
// and none for data blocks. Here every step has the timeout RFC 5321
// §4.5.3.2 recommends, and a server that drops the connection, answers
// garbage or stalls yields a temporary failure, never a hang.
package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"pail/internal/mtasts"
	"pail/internal/resolve"
	"pail/internal/tlsrpt"
)

// Timeouts bound each step of an SMTP client session. The defaults are
// those of RFC 5321 §4.5.3.2.
type Timeouts struct {
	Connect   time.Duration // TCP connect (and TLS handshake)
	Greeting  time.Duration // §4.5.3.2.1: initial 220 message, 5 minutes
	Command   time.Duration // EHLO, STARTTLS, AUTH, QUIT
	Mail      time.Duration // §4.5.3.2.2: MAIL, 5 minutes
	Rcpt      time.Duration // §4.5.3.2.3: RCPT, 5 minutes
	DataInit  time.Duration // §4.5.3.2.4: DATA initiation, 2 minutes
	DataBlock time.Duration // §4.5.3.2.5: each data block, 3 minutes
	DataTerm  time.Duration // §4.5.3.2.6: DATA termination, 10 minutes
	DNS       time.Duration // one DNS query to one server
}

// DefaultTimeouts returns the RFC 5321 §4.5.3.2 timeouts, with 30 seconds
// to connect (Postfix's smtp_connect_timeout) and resolve.DefaultTimeout per DNS query.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Connect:   30 * time.Second,
		Greeting:  5 * time.Minute,
		Command:   5 * time.Minute,
		Mail:      5 * time.Minute,
		Rcpt:      5 * time.Minute,
		DataInit:  2 * time.Minute,
		DataBlock: 3 * time.Minute,
		DataTerm:  10 * time.Minute,
		DNS:       resolve.DefaultTimeout,
	}
}

// Config configures a Client.
type Config struct {
	// Hostname is our name: in EHLO unless EHLOName is set, and the MX
	// host name that, found in a domain's MX records, means the mail
	// would come back to us.
	Hostname string
	// EHLOName, when set, is the name in EHLO instead of Hostname: the
	// host name whose address is Source.
	EHLOName string
	// Source, when valid, is the local address outgoing connections are
	// made from (outbound.source); only next-hop addresses of its family
	// are tried.
	Source netip.Addr
	// Port is the port MX hosts are contacted on (25).
	Port int
	// Smarthost ("host:port"), when set, receives all mail.
	Smarthost string
	// SmarthostUsername and SmarthostPassword, when set, are sent with
	// AUTH PLAIN; the session must then be encrypted unless the smarthost
	// is on a loopback address.
	SmarthostUsername string
	SmarthostPassword string
	// Routes maps a domain (lower case) to a static next hop "host:port".
	Routes map[string]string
	// DNS is the resolver for MX, address and TLSA lookups; nil means one
	// asking Resolver.
	DNS *resolve.Resolver
	// Resolver ("host:port") is the DNS server asked when DNS is nil;
	// empty means the name servers of /etc/resolv.conf.
	Resolver string
	// STS, when set, gives recipient domains' MTA-STS policies (RFC
	// 8461): under an enforce policy mail goes only to the MX hosts it
	// names, over TLS with a certificate valid for the host (checked
	// against RootCAs); under a testing policy failures are reported.
	STS *mtasts.Fetcher
	// NoDANE turns DANE (RFC 7672) off: TLSA records are not looked up.
	NoDANE bool
	// RootCAs verify MX certificates under MTA-STS; nil means the
	// system's roots (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
	RootCAs *x509.CertPool
	// Reports, when set, receives the outcome of every TLS session with
	// an MX host (RFC 8460).
	Reports tlsrpt.Recording
	// Timeouts bound each step; zero fields take DefaultTimeouts.
	Timeouts Timeouts
	// TLS is the base client TLS configuration; nil means the default
	// for MX delivery: opportunistic, certificates not verified (RFC 7435).
	TLS *tls.Config
	// Log receives debugging output; nil discards it.
	Log *slog.Logger
}

// Status is the outcome class of one recipient.
type Status int

// The statuses.
const (
	// Delivered: the remote server accepted responsibility (2xx).
	Delivered Status = iota + 1
	// Deferred: a temporary failure; try again later.
	Deferred
	// Failed: a permanent failure; do not try again.
	Failed
)

// String names the status as the mail log does.
func (s Status) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case Deferred:
		return "deferred"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Reply is an SMTP reply, or a failure with no reply (Code 0) described
// in the same terms.
type Reply struct {
	Code     int    // reply code; 0 when no reply was received
	Enhanced string // RFC 3463 status code "x.y.z", or ""
	Text     string // the text, multi-line replies joined with spaces
}

// String formats the reply as it appeared on the wire: "550 5.1.1 No such
// user"; without a code, just the enhanced code and text.
func (r Reply) String() string {
	var parts []string
	if r.Code != 0 {
		parts = append(parts, fmt.Sprint(r.Code))
	}
	if r.Enhanced != "" {
		parts = append(parts, r.Enhanced)
	}
	if r.Text != "" {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, " ")
}

// Result is the outcome for one recipient.
type Result struct {
	Rcpt   string
	Status Status
	Reply  Reply
	// RemoteMTA is the host name of the server that gave Reply (or that
	// the connection to failed); empty when no server was reached.
	RemoteMTA string
	// Addr is the address ("ip:port") of that server, for the mail log.
	Addr string
}

// Message is one message to deliver to recipients at one domain.
type Message struct {
	ID    string      // queue id, for logs
	From  string      // envelope sender; "" is the null sender
	Rcpts []string    // recipients, all at the same domain
	Body  io.ReaderAt // the message, CRLF line endings
	Size  int64       // bytes of Body
}

// Client delivers messages to remote servers. It is safe for concurrent
// use.
type Client struct {
	cfg Config
	dns *resolve.Resolver
	log *slog.Logger
	// dial opens TCP connections; tests replace it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns a Client.
func New(cfg Config) *Client {
	def := DefaultTimeouts()
	t := &cfg.Timeouts
	for _, p := range []struct{ v, d *time.Duration }{
		{&t.Connect, &def.Connect}, {&t.Greeting, &def.Greeting}, {&t.Command, &def.Command},
		{&t.Mail, &def.Mail}, {&t.Rcpt, &def.Rcpt}, {&t.DataInit, &def.DataInit},
		{&t.DataBlock, &def.DataBlock}, {&t.DataTerm, &def.DataTerm}, {&t.DNS, &def.DNS},
	} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	if cfg.Port == 0 {
		cfg.Port = 25
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.EHLOName == "" {
		cfg.EHLOName = cfg.Hostname
	}
	d := &net.Dialer{Timeout: cfg.Timeouts.Connect}
	if cfg.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: cfg.Source.AsSlice()}
	}
	r := cfg.DNS
	if r == nil {
		r = resolve.New(cfg.Resolver, cfg.Timeouts.DNS)
	}
	return &Client{cfg: cfg, dns: r, log: log, dial: d.DialContext}
}

// Deliver sends m to its recipients at domain and returns one result per
// recipient, in the order of m.Rcpts. It tries every next hop, and every
// address of each, until none is left or every recipient has a result that
// another server would not change. It never blocks past the timeouts, and
// returns early (with Deferred results) when ctx ends.
func (c *Client) Deliver(ctx context.Context, domain string, m Message) []Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	results := make([]Result, len(m.Rcpts))
	pending := make([]int, len(m.Rcpts))
	for i, r := range m.Rcpts {
		results[i] = Result{Rcpt: r, Status: Deferred, Reply: Reply{Enhanced: "4.4.0", Text: "no delivery attempt was made"}}
		pending[i] = i
	}
	setAll := func(idx []int, st Status, rep Reply, mta string) {
		for _, i := range idx {
			results[i] = Result{Rcpt: m.Rcpts[i], Status: st, Reply: rep, RemoteMTA: mta}
		}
	}
	// All of the message's lookups share one budget, so a dead resolver
	// defers it after seconds (resolve.DefaultBudget), however many hosts
	// the domain names; the SMTP sessions have their own timeouts.
	dnsCtx, cancel := c.dns.Budget(ctx)
	defer cancel()
	hops, mxSecure, st, rep := c.nextHops(dnsCtx, domain)
	if st != 0 {
		setAll(pending, st, rep, "")
		return results
	}
	var sts *stsState
	if len(hops) > 0 && !hops[0].direct && len(hops[0].addrs) == 0 {
		// MTA-STS is a property of MX delivery (RFC 8461 §4); its own
		// fetch has its own deadlines.
		sts = c.lookupSTS(ctx, domain)
	}
	eight, err := hasEightBit(m.Body, m.Size)
	if err != nil {
		setAll(pending, Deferred, Reply{Enhanced: "4.3.0", Text: "reading the queued message: " + err.Error()}, "")
		return results
	}
	tries := 0
	for _, h := range hops {
		pol, skip := c.hostPolicy(dnsCtx, domain, h, mxSecure, sts)
		if skip != nil {
			c.log.Info("MX host not used", "id", m.ID, "host", h.name, "why", skip.Text)
			if tries == 0 {
				setAll(pending, Deferred, *skip, h.name)
			}
			continue
		}
		addrs, st, rep := c.addresses(dnsCtx, h)
		if st != 0 {
			// A session's reply says more than a later host's DNS
			// trouble, so it is kept.
			if tries == 0 {
				setAll(pending, st, rep, "")
			}
			continue
		}
		for _, addr := range addrs {
			if tries >= maxConnections || ctx.Err() != nil {
				return results
			}
			tries++
			out := c.attempt(ctx, h, addr, m, eight, pending, pol)
			var again []int
			for j, i := range pending {
				results[i] = out[j].Result
				if out[j].tryElsewhere {
					again = append(again, i)
				}
			}
			pending = again
			if len(pending) == 0 {
				return results
			}
		}
	}
	return results
}

// maxConnections bounds the connections one Deliver call opens, however
// many MX hosts and addresses the domain lists (RFC 5321 §5.1 asks for a
// configurable limit).
const maxConnections = 12

// hasEightBit reports whether the message has bytes above 127, so that
// MAIL carries BODY=8BITMIME (RFC 6152).
func hasEightBit(r io.ReaderAt, size int64) (bool, error) {
	buf := make([]byte, 32<<10)
	sr := io.NewSectionReader(r, 0, size)
	for {
		n, err := sr.Read(buf)
		for _, b := range buf[:n] {
			if b >= 0x80 {
				return true, nil
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
