// Package verify judges inbound mail: it checks who really sent a message
// received on the MX port (SPF, RFC 7208; DKIM, RFC 6376; DMARC, RFC 7489;
// iprev, RFC 8601 §3), writes what it found as one Authentication-Results
// field (RFC 8601) with pail's host name as authserv-id, and combines its
// own verdict with those of any other Judges (the DMARC policy, a built-in
// spam score counting DNSBL listings too, or rspamd in its place) into
// one Decision: deliver to
// the INBOX, file in Junk, refuse for now, or refuse.
//
// Every DNS lookup goes through pail's one resolver (package resolve) and
// all of one message's lookups share one budget, so a dead resolver delays
// a message by a few seconds at most; a lookup that fails is a temperror
// in the results, never a reason to lose or refuse the message.
package verify

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"pail/internal/resolve"
)

// DefaultBudget bounds all of one message's lookups together (SPF with its
// up to 10 DNS-querying terms, RFC 7208 §4.6.4; DKIM keys; the DMARC
// records; iprev): they run in parallel, and a dead resolver costs this
// much, not the sum of their timeouts.
const DefaultBudget = 5 * time.Second

// MaxSignatures bounds the DKIM signatures verified per message: each
// costs a key lookup and a pass over the body (RFC 6376 §6.1 lets a
// verifier limit them). Signatures after these are not looked at.
const MaxSignatures = 5

// MaxHeaderBytes bounds the header section read for the checks; a longer
// one is not DKIM-verified (permerror) and its From is not looked for.
const MaxHeaderBytes = 256 << 10

// Resolver is what the checks look names up with (*resolve.Resolver).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupNetMX(ctx context.Context, domain string) ([]*net.MX, error)
}

var _ Resolver = (*resolve.Resolver)(nil)

// Checker runs the authentication checks. It is safe for concurrent use.
type Checker struct {
	// Hostname is pail's name: the authserv-id of the results.
	Hostname string
	// Resolver answers every lookup.
	Resolver Resolver
	// Budget bounds one message's lookups; zero means DefaultBudget.
	Budget time.Duration
	// Percent returns a number in [0, 100) for DMARC's pct sampling
	// (RFC 7489 §6.6.4); nil means a random one. A test hook.
	Percent func() int
}

// Message is a received message as the checks and the judges see it.
type Message struct {
	ClientIP netip.Addr // the SMTP client's address
	Helo     string     // its HELO/EHLO argument
	MailFrom string     // the envelope sender; "" for the null sender
	Rcpts    []string   // the accepted recipients
	// User is the authenticated submission account; "" on the MX port.
	User string
	// ID is pail's name for the message in its logs (the queue ID), which
	// a filter may log beside its own.
	ID string
	// Header is the content's header section (with its final empty
	// line), at most MaxHeaderBytes; HeaderComplete is false when the
	// section was longer and Header holds only its start.
	Header         []byte
	HeaderComplete bool
	// Content is the whole message as the client sent it, Size bytes.
	Content io.ReaderAt
	Size    int64
	// Listed names the DNS blocklists (RFC 5782) that list the client,
	// when inbound.dnsbl_action is "score"; ScoreJudge counts them.
	Listed []string
	// Early, when set, holds the envelope checks started before DATA
	// (Checker.Start); Check waits for them instead of looking up again.
	Early *Early
	// Earlier are verdicts reached before the end of DATA (a DNSBL that
	// scored the client at connect time, say); the Pipeline counts them
	// with its judges'.
	Earlier []Verdict
	// Results are the authentication results; the Pipeline fills them in
	// before it asks its judges.
	Results *Results
}

// headerChunk is how much of the content ReadHeader reads at a time:
// most header sections end within it.
const headerChunk = 8 << 10

// ReadHeader reads the header section of content (size bytes), at most
// MaxHeaderBytes of it; complete is false when it did not end in that
// many bytes.
func ReadHeader(content io.ReaderAt, size int64) (header []byte, complete bool, err error) {
	limit := int(min(size, MaxHeaderBytes))
	var buf []byte
	for len(buf) < limit {
		prev := len(buf)
		buf = append(buf, make([]byte, min(headerChunk, limit-prev))...)
		got, err := content.ReadAt(buf[prev:], int64(prev))
		buf = buf[:prev+got]
		if end := headerEnd(buf, max(0, prev-3)); end >= 0 {
			return buf[:end], true, nil
		}
		if err == io.EOF || got == 0 {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	// A message that is all header ends without an empty line.
	return buf, int64(len(buf)) == size, nil
}

// headerEnd returns the length of the header section of b with the empty
// line that ends it, or -1 if it does not end in b; the empty line is
// looked for from offset from on (the part before was searched already,
// but for the 3 bytes an empty line can straddle).
func headerEnd(b []byte, from int) int {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return 2 // no header fields at all
	}
	if i := bytes.Index(b[from:], []byte("\r\n\r\n")); i >= 0 {
		return from + i + 4
	}
	return -1
}

// Check runs SPF, DKIM, iprev and DMARC for m, within the budget, and
// returns what they found.
func (c *Checker) Check(ctx context.Context, m *Message) *Results {
	res := &Results{AuthServID: c.Hostname}
	if m.User != "" {
		// RFC 8601 §2.7.4: the submission server authenticated the user;
		// the sender checks are for mail from elsewhere.
		res.User = m.User
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, c.budget())
	defer cancel()
	from := parseFrom(m.Header, m.HeaderComplete)
	res.From = from
	var wg sync.WaitGroup
	var rec dmarcLookup
	wg.Go(func() {
		// The envelope checks started at RCPT have had the whole
		// transaction to finish; what they did not find in their budget
		// is a temperror there, not looked up again.
		var ok bool
		if res.SPF, res.IPRev, ok = m.Early.results(ctx, m); ok {
			return
		}
		var ewg sync.WaitGroup
		ewg.Go(func() { res.SPF = c.checkSPF(ctx, m) })
		ewg.Go(func() { res.IPRev = c.checkIPRev(ctx, m.ClientIP) })
		ewg.Wait()
	})
	wg.Go(func() { res.DKIM = c.checkDKIM(ctx, m) })
	if from.Domain != "" {
		wg.Go(func() { rec = c.lookupDMARC(ctx, from.Domain) })
	}
	wg.Wait()
	res.DMARC = c.evaluateDMARC(from, rec, res.SPF, res.DKIM)
	return res
}
