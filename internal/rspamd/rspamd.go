// Package rspamd is pail's client of the rspamd spam filter's HTTP
// protocol (https://rspamd.com/doc/developers/protocol.html): Check asks
// the normal worker (POST /checkv2) what to do with a message, given its
// SMTP envelope, and Judge does that for every message at the end of DATA
// (a verify.Judge); Learn trains rspamd's Bayes classifier through the
// controller worker (POST /learnspam, /learnham); Learner does that in
// the background for messages users file into or out of their Junk
// mailbox.
//
// rspamd is advice, never a gate: a timeout, a refused connection or a
// reply that cannot be read is an error that Judge logs before judging
// the message without rspamd (by pail's built-in score, or as if rspamd
// had said "no action"). Every check and learn is counted in the metrics
// (pail_rspamd_checks_total, pail_rspamd_learns_total).
package rspamd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"pail/internal/metrics"
)

// maxReplyBytes bounds rspamd's JSON reply. A check's reply lists the
// symbols that matched with their options, a few KiB; a reply past this
// is not one pail can use, and is refused unread rather than buffered.
const maxReplyBytes = 1 << 20

// maxErrorText bounds how much of an error reply is quoted in the error.
const maxErrorText = 200

// dialTimeout bounds the TCP connection to rspamd, which runs on the same
// host or network: a connection not made in this time will not be.
const dialTimeout = 2 * time.Second

// Config configures a Client.
type Config struct {
	// URL is the normal worker, e.g. "http://127.0.0.1:11333"; Check
	// posts to URL/checkv2.
	URL string
	// ControllerURL is the controller worker, e.g.
	// "http://127.0.0.1:11334"; Learn posts to ControllerURL/learnspam
	// and /learnham. Empty: Learn fails with ErrNoController.
	ControllerURL string
	// Password goes in the Password header of controller requests; empty:
	// none.
	Password string
	// Timeout bounds each request, connection to last byte of the reply.
	Timeout time.Duration
	// MTAName is the host name pail's Authentication-Results carry; rspamd
	// gets it in MTA-Name so that its own results name the same server.
	MTAName string
}

// Client talks to one rspamd. It is safe for concurrent use.
type Client struct {
	cfg       Config
	checkURL  string
	spamURL   string // empty without a controller
	hamURL    string
	http      *http.Client
	checks    map[Action]*metrics.Counter
	checkErrs *metrics.Counter
	reg       *metrics.Registry
}

// ErrNoController is returned by Learn when no controller URL is
// configured.
var ErrNoController = errors.New("rspamd: no controller URL configured")

// New returns a client for the rspamd at cfg.URL; reg receives its
// counts (nil: not counted).
func New(cfg Config, reg *metrics.Registry) (*Client, error) {
	if cfg.Timeout <= 0 {
		return nil, errors.New("rspamd: timeout must be positive")
	}
	c := &Client{cfg: cfg, reg: reg, checks: map[Action]*metrics.Counter{}}
	var err error
	if c.checkURL, err = endpoint(cfg.URL, "checkv2"); err != nil {
		return nil, err
	}
	if cfg.ControllerURL != "" {
		if c.spamURL, err = endpoint(cfg.ControllerURL, "learnspam"); err != nil {
			return nil, err
		}
		if c.hamURL, err = endpoint(cfg.ControllerURL, "learnham"); err != nil {
			return nil, err
		}
	}
	c.http = &http.Client{
		Transport: &http.Transport{
			// Never through an HTTP proxy from the environment: rspamd is
			// the host named, and the message must go nowhere else.
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       time.Minute,
			ResponseHeaderTimeout: cfg.Timeout,
			DisableCompression:    true,
		},
		Timeout: cfg.Timeout,
		// rspamd does not redirect; a redirect is not followed with the
		// message.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, a := range []Action{NoAction, Greylist, AddHeader, RewriteSubject, SoftReject, Reject} {
		c.checks[a] = reg.Counter("pail_rspamd_checks_total", "Messages checked by rspamd, by the action it returned (error: no answer).", "result", string(a))
	}
	c.checkErrs = reg.Counter("pail_rspamd_checks_total", "Messages checked by rspamd, by the action it returned (error: no answer).", "result", "error")
	return c, nil
}

// endpoint joins base and path, checking that base is an http(s) URL.
func endpoint(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("rspamd: %q is not an http:// or https:// URL", base)
	}
	return u.JoinPath(path).String(), nil
}

// Envelope is what pail knows of a message beyond its bytes; each field
// goes to rspamd in the request header its protocol names, empty ones
// not at all.
type Envelope struct {
	// From is the MAIL FROM address; empty is the null reverse-path,
	// sent as "<>".
	From string
	// Rcpts are the RCPT TO addresses, one Rcpt header each.
	Rcpts []string
	// ClientIP is the SMTP client's address (IP).
	ClientIP netip.Addr
	// Helo is the name the client gave in EHLO or HELO (Helo).
	Helo string
	// Hostname is the client's host name as verified by reverse and
	// forward DNS (Hostname); empty when it has none.
	Hostname string
	// User is the SMTP AUTH user when the client authenticated (User).
	User string
	// QueueID names the message in pail's logs (Queue-Id), so that
	// rspamd's log lines can be matched with pail's.
	QueueID string
	// TLSVersion and TLSCipher describe the SMTP session's TLS, if any
	// (TLS-Version, TLS-Cipher).
	TLSVersion, TLSCipher string
}

// header sets the request headers of rspamd's protocol for env.
func (c *Client) header(h http.Header, env Envelope) {
	from := env.From
	if from == "" {
		from = "<>" // RFC 5321 §4.5.5: the null reverse-path
	}
	h.Set("From", from)
	for _, r := range env.Rcpts {
		h.Add("Rcpt", r)
	}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	if env.ClientIP.IsValid() {
		h.Set("IP", env.ClientIP.Unmap().String())
	}
	set("Helo", env.Helo)
	set("Hostname", env.Hostname)
	set("User", env.User)
	set("Queue-Id", env.QueueID)
	set("TLS-Version", env.TLSVersion)
	set("TLS-Cipher", env.TLSCipher)
	set("MTA-Name", c.cfg.MTAName)
}

// Check asks rspamd what to do with msg, which is read to its end (it is
// the whole message as it will be stored, headers first). The error is
// set when rspamd gave no usable answer in time; the message is then to
// be delivered as with NoAction (Verdict of the zero Result), and the
// failure is already counted.
func (c *Client) Check(ctx context.Context, msg io.Reader, env Envelope) (Result, error) {
	res, err := c.check(ctx, msg, env)
	if err != nil {
		c.checkErrs.Inc()
		return Result{}, err
	}
	if n := c.checks[res.Action]; n != nil {
		n.Inc()
	} else {
		c.reg.Counter("pail_rspamd_checks_total", "Messages checked by rspamd, by the action it returned (error: no answer).", "result", string(res.Action)).Inc()
	}
	return res, nil
}

func (c *Client) check(ctx context.Context, msg io.Reader, env Envelope) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.checkURL, msg)
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: check: %w", err)
	}
	c.header(req.Header, env)
	status, body, err := c.do(req)
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: check: %w", err)
	}
	if status != http.StatusOK {
		return Result{}, fmt.Errorf("rspamd: check: HTTP %d: %s", status, errorText(body))
	}
	res, err := parseResult(body)
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: check: %w", err)
	}
	return res, nil
}

// do sends req and reads at most maxReplyBytes of the reply.
func (c *Client) do(req *http.Request) (int, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the reply: %w", err)
	}
	if len(body) > maxReplyBytes {
		return 0, nil, fmt.Errorf("reply larger than %d bytes", maxReplyBytes)
	}
	return resp.StatusCode, body, nil
}

// errorText is a printable, bounded quote of an error reply: rspamd's
// {"error": "..."} text when it is that, else the start of the body.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	s := string(body)
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		s = e.Error
	}
	return printable(s, maxErrorText)
}

// printable returns s with every byte that is not printable ASCII
// replaced by a space, cut to at most n bytes: text from rspamd that may
// end up in a log line or an SMTP reply.
func printable(s string, n int) string {
	b := []byte(strings.TrimSpace(s))
	if len(b) > n {
		b = b[:n]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = ' '
		}
	}
	return string(bytes.TrimSpace(b))
}
