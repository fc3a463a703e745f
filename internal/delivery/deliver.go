package delivery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"strings"
	"time"

	"pail/internal/maillog"
	"pail/internal/sieve"
	"pail/internal/store"
)

// Store is the part of the store delivery writes to: it hands out the
// writer a message being received goes into (written once, where the
// store keeps bodies) and stores it in mailboxes.
type Store interface {
	NewBody() (store.BodyWriter, error)
	// DeliverBody stores a body from NewBody in every mailbox of ds, all
	// or nothing, durably when it returns nil (store.Store.DeliverBody).
	DeliverBody(ctx context.Context, w store.BodyWriter, ds []store.Delivery) ([]store.Delivered, error)
}

// Queue takes messages for remote recipients. Enqueue must make the message
// durable before it returns nil; it reads the message from body (all of
// it) and must not keep a reference to it afterwards. sign says that the
// message comes from an authenticated or trusted source
// (Trace.Authenticated), so that the queue may DKIM-sign it for its From
// domain.
type Queue interface {
	Enqueue(ctx context.Context, id, from string, rcpts []string, body *io.SectionReader, sign bool) error
}

// ErrNoQueue is returned when remote recipients exist but no outgoing
// queue is configured.
var ErrNoQueue = errors.New("delivery: no outgoing queue for remote recipients")

// DefaultDedupeWindow is how long a message delivered to an account
// suppresses another copy of the same message from the same sender to the
// same recipient (a sender that retries after a crash redelivers what we
// already have: its queue is at-least-once, the mailbox gets it once).
const DefaultDedupeWindow = 24 * time.Hour

// Deliverer stores incoming messages.
type Deliverer struct {
	store    Store
	queue    Queue
	log      *maillog.Logger
	hostname string
	// DedupeWindow is the duplicate window; 0 turns the check off.
	DedupeWindow time.Duration
	taps         []Tap  // see local mail they want before it is stored (SetTap, AddTap)
	sieve        *Sieve // runs users' scripts before their copies are stored (SetSieve)
}

// NewDeliverer returns a Deliverer. queue may be nil when remote delivery is
// not available.
func NewDeliverer(st Store, queue Queue, log *maillog.Logger, hostname string) *Deliverer {
	return &Deliverer{store: st, queue: queue, log: log, hostname: hostname, DedupeWindow: DefaultDedupeWindow}
}

// Recipient is one accepted RCPT and where it goes.
type Recipient struct {
	Address string
	Route   Route
}

// Trace describes how a message arrived, for its Received header
// (RFC 5321 §4.4).
type Trace struct {
	Helo     string     // the client's HELO/EHLO argument
	ClientIP netip.Addr // the client's address
	Proto    string     // "SMTP", "ESMTP", "ESMTPS", "ESMTPSA" (RFC 3848) or "LOCAL"
	TLS      string     // a comment such as "TLS1.3 TLS_AES_128_GCM_SHA256", or ""
	Date     time.Time
	// DNSBL names the DNS blocklists that list the client (RFC 5782;
	// smtpd, MX role), for the inbound verdict: with dnsbl_action
	// "score" a listed client's mail is accepted and judged on this.
	DNSBL []string
}

// Authenticated reports whether the message comes from a user pail knows:
// SMTP after AUTH (ESMTPA, ESMTPSA: RFC 3848), webmail (HTTP, HTTPS: a
// logged-in session) or pail sendmail (LOCAL). Only such mail is
// DKIM-signed: a message that arrives on the MX port and is forwarded
// (an alias with a remote target) is not, whatever its From says, so
// that pail never lends its domains' signatures to mail it did not
// authenticate.
func (t Trace) Authenticated() bool {
	switch t.Proto {
	case "ESMTPA", "ESMTPSA", "HTTP", "HTTPS", "LOCAL":
		return true
	}
	return false
}

// Message is a message being received. Write its content, then Commit.
type Message struct {
	d          *Deliverer
	ID         string
	from       string
	rcpts      []Recipient
	sp         store.BodyWriter
	returnPath int64 // bytes of the Return-Path line at the start of the spool
	headerEnd  int64 // bytes of trace headers
	// data digests the content given to Write, the data exactly as the
	// client sent it, for duplicate suppression; nil when no recipient is
	// local. What pail adds (trace headers, and the Date and Message-ID
	// that HeaderFixer supplies through WriteAdded) is left out, so that a
	// client's retry of the same data has the same digest.
	data hash.Hash
	// completed: pail added fields the client's message lacked (WriteAdded).
	completed bool
	// sign: the queued copy may be DKIM-signed (Trace.Authenticated).
	sign bool
	// added are fields pail prepends once the content is in (Prepend);
	// omit are spans of the content left out of the stored copy (Omit).
	added string
	omit  [][2]int64
	// specialUse is the mailbox local copies go to, by its attribute
	// (FileIn); "" means INBOX.
	specialUse string
	// verdict is the spam verdict for the scripts' spamtest (SetVerdict).
	verdict sieve.Verdict
}

// Junk is the special-use attribute of the Junk mailbox (RFC 6154 §2),
// for FileIn.
const Junk = `\Junk`

// completedDedupeWindow bounds the duplicate window of a message that came
// without its own Date or Message-ID (pail added them): its data is then
// all that tells a retry from a new message, and a script that sends the
// same text again an hour later means a new one. A client that retries
// after our 451 does so within minutes; a queue's first retry (Postfix's
// minimal_backoff_time) is 5 minutes.
const completedDedupeWindow = 10 * time.Minute

// NewMessage starts receiving a message for rcpts and writes its trace
// headers: Return-Path when some recipient is local (RFC 5321 §4.4: added
// at final delivery) and Received.
func (d *Deliverer) NewMessage(from string, rcpts []Recipient, tr Trace) (*Message, error) {
	sp, err := d.store.NewBody()
	if err != nil {
		return nil, err
	}
	m := &Message{d: d, ID: NewID(), from: from, rcpts: rcpts, sp: sp, sign: tr.Authenticated()}
	var hdr strings.Builder
	for _, r := range rcpts {
		if len(r.Route.Accounts) > 0 {
			fmt.Fprintf(&hdr, "Return-Path: <%s>\r\n", from)
			m.returnPath = int64(hdr.Len())
			if d.DedupeWindow > 0 {
				m.data = sha256.New()
			}
			break
		}
	}
	writeReceived(&hdr, d.hostname, m.ID, rcpts, tr)
	if _, err := sp.Write([]byte(hdr.String())); err != nil {
		sp.Discard()
		return nil, fmt.Errorf("delivery: spool: %w", err)
	}
	m.headerEnd = sp.Size()
	return m, nil
}

// Write appends message content as the client sent it.
func (m *Message) Write(p []byte) (int, error) {
	if m.data != nil {
		m.data.Write(p)
	}
	return m.sp.Write(p)
}

// WriteAdded appends content that pail adds to the client's (the fields
// HeaderFixer supplies): stored like Write's, but left out of the duplicate
// digest, so that a retry of the same data after a 451 is still known for
// one (RFC 1047) though pail gives it a new Message-ID.
func (m *Message) WriteAdded(p []byte) (int, error) {
	m.completed = true
	return m.sp.Write(p)
}

// Content reads the content written so far, as the client sent it, for
// the checks made before Commit.
func (m *Message) Content() *io.SectionReader {
	return io.NewSectionReader(m.sp, m.headerEnd, m.Size())
}

// Prepend adds header fields that pail writes once the content is in (the
// Authentication-Results field, a filter's headers), each ending in CRLF.
// The stored copy has them at its top (RFC 8601 §4: above the Received
// field of this hop, below Return-Path), before the content. They are not
// part of the duplicate digest, which stays that of the client's data.
func (m *Message) Prepend(fields string) { m.added += fields }

// Omit leaves bytes [start, end) of the content out of the stored copy: a
// header field that must not be passed on (an Authentication-Results field
// that claims pail's authserv-id, RFC 8601 §5). Spans must come in order
// and not overlap. The duplicate digest is unchanged: it is of the data as
// the client sent it.
func (m *Message) Omit(start, end int64) {
	size := m.Size()
	start, end = max(0, min(start, size)), max(0, min(end, size))
	if n := len(m.omit); end <= start || (n > 0 && start < m.omit[n-1][1]) {
		return
	}
	m.omit = append(m.omit, [2]int64{start, end})
}

// FileIn makes the local copies go to each account's mailbox with this
// special-use attribute (Junk) instead of the INBOX.
func (m *Message) FileIn(specialUse string) { m.specialUse = specialUse }

// rewrite writes the stored copy anew when fields are to be prepended or
// content omitted: trace headers, the added fields, the content but the
// omitted spans. The content is copied with io.Copy between the store's
// writers, which the SQLite store does in the kernel.
func (m *Message) rewrite() error {
	if m.added == "" && len(m.omit) == 0 {
		return nil
	}
	old := m.sp
	sp, err := m.d.store.NewBody()
	if err != nil {
		return fmt.Errorf("delivery: spool: %w", err)
	}
	copyRange := func(from, to int64) error {
		if to <= from {
			return nil
		}
		_, err := io.Copy(sp, io.NewSectionReader(old, from, to-from))
		return err
	}
	err = copyRange(0, m.returnPath)
	if err == nil {
		_, err = sp.Write([]byte(m.added))
	}
	if err == nil {
		err = copyRange(m.returnPath, m.headerEnd)
	}
	pos := int64(0)
	for _, o := range m.omit {
		if err == nil {
			err = copyRange(m.headerEnd+pos, m.headerEnd+o[0])
		}
		pos = o[1]
	}
	if err == nil {
		err = copyRange(m.headerEnd+pos, old.Size())
	}
	if err != nil {
		sp.Discard()
		return fmt.Errorf("delivery: %w", err)
	}
	m.sp = sp
	m.headerEnd += int64(len(m.added))
	m.added, m.omit = "", nil
	old.Discard()
	return nil
}

// Size is the size of the content written, without trace headers.
func (m *Message) Size() int64 { return m.sp.Size() - m.headerEnd }

// Abort drops the message.
func (m *Message) Abort() { m.sp.Discard() }

// Commit delivers the message, local copies first, all or nothing (RFC 5321
// §4.2.5: a 250 promises delivery, retries or a notice to the sender): every
// local recipient's copy is stored in one transaction, and only then are the
// remote recipients durably queued. When Commit returns nil the message is
// safe for every recipient and may be acknowledged. When it returns an
// error the client is to be told to try again (451): if the local copies
// failed, nothing was kept and nothing was queued; if queueing failed after
// they were stored, the client's retry (the same data, the same envelope)
// finds them as duplicates, so no recipient gets the message twice.
func (m *Message) Commit(ctx context.Context) error {
	if err := m.rewrite(); err != nil {
		m.sp.Discard()
		return err
	}
	defer m.sp.Discard()
	var remote []string
	var deliveries []store.Delivery
	var targets []Target
	seen := map[int64]bool{}
	var sum []byte
	if m.data != nil {
		sum = m.data.Sum(nil)
	}
	window := m.d.DedupeWindow
	if m.completed {
		window = min(window, completedDedupeWindow)
	}
	since := time.Now().Add(-window)
	for _, r := range m.rcpts {
		remote = append(remote, r.Route.Remote...)
		for _, t := range r.Route.Accounts {
			if !seen[t.ID] {
				seen[t.ID] = true
				d := store.Delivery{AccountID: t.ID}
				if m.specialUse == Junk {
					d.Mailbox, d.SpecialUse = "Junk", Junk
				}
				if sum != nil {
					d.DedupeKey, d.DedupeSince = dedupeKey(sum, m.from, r.Address), since
				}
				deliveries = append(deliveries, d)
				targets = append(targets, Target{ID: t.ID, Address: t.Address, Rcpt: r.Address})
			}
		}
	}
	if len(remote) > 0 && m.d.queue == nil {
		return ErrNoQueue
	}
	// RFC 9208 §5, RFC 3463 4.2.2: a copy that would take its account
	// past its quota is not stored; the others are. With no copy left
	// (and nothing to queue) the message is refused, 452, for the sender
	// to retry; otherwise the sender is told of the full mailboxes by a
	// notice, and without a queue to send it the whole message waits.
	var full []Target
	var fullHeader []byte
	if len(deliveries) > 0 {
		var err error
		if deliveries, targets, full, err = m.overQuota(ctx, deliveries, targets, m.sp.Size()); err != nil {
			return err
		}
		if len(full) > 0 {
			if (len(deliveries) == 0 && len(remote) == 0) || m.d.queue == nil {
				return ErrMailboxFull
			}
			fullHeader = openSieveMessage(m.sp, m.returnPath, m.sp.Size()).Header()
		}
	}
	if len(deliveries) > 0 {
		m.runTap(ctx)
		// Sieve runs after the spam verdict (FileIn) and before the
		// copies are stored, for every recipient with an active script.
		var fr *filterResult
		if m.d.sieve != nil {
			var err error
			if fr, err = m.filter(ctx, deliveries, targets); err != nil {
				return err
			}
			if fr.rejected == len(targets) && len(remote) == 0 {
				// RFC 5429 §2.1, §2.2: refused in the SMTP reply when
				// every recipient refuses; nothing is stored.
				return &RejectError{Reason: fr.reason}
			}
			if (len(fr.after) > 0 || len(fr.vacations) > 0) && m.d.queue == nil {
				return ErrNoQueue
			}
			deliveries, targets = fr.deliveries, fr.targets
		}
		if len(remote) > 0 || (fr != nil && fr.retain) {
			// The queue reads the spool after the local copies are in.
			m.sp.Retain()
		}
		if err := m.storeLocal(ctx, deliveries, targets); err != nil {
			return err
		}
		if fr != nil {
			// Redirects and reject notices are deliveries the 250
			// promises: one that cannot be queued fails the message
			// (451); the retry finds the local copies as duplicates.
			for _, f := range fr.after {
				if err := f(ctx); err != nil {
					return err
				}
			}
			for _, f := range fr.duplicates {
				f(ctx)
			}
			for _, f := range fr.vacations {
				f(ctx)
			}
		}
	}
	if len(full) > 0 {
		// Promised by the 250, as the reject notices are: one that
		// cannot be queued fails the message (451).
		if err := m.fullNotice(ctx, full, fullHeader); err != nil {
			return err
		}
	}
	if len(remote) > 0 {
		// The queued copy leaves out Return-Path, which only the final
		// delivery adds.
		if err := m.d.queue.Enqueue(ctx, m.ID, m.from, remote, m.queued(), m.sign); err != nil {
			return fmt.Errorf("delivery: queue: %w", err)
		}
	}
	return nil
}

// queued is the copy for the queue and for taps: the message without
// Return-Path, which only the final delivery adds.
func (m *Message) queued() *io.SectionReader {
	return io.NewSectionReader(m.sp, m.returnPath, m.sp.Size()-m.returnPath)
}

// storeLocal stores the local copies in one transaction and logs each.
func (m *Message) storeLocal(ctx context.Context, deliveries []store.Delivery, targets []Target) error {
	if len(deliveries) == 0 {
		return nil
	}
	res, err := m.d.store.DeliverBody(ctx, m.sp, deliveries)
	if err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	for i, r := range res {
		to, origTo := "<"+targets[i].Address+">", "<"+targets[i].Rcpt+">"
		if r.Duplicate {
			m.d.log.Log(maillog.Delivered, "id", m.ID, "to", to, "orig_to", origTo, "status", "duplicate")
			continue
		}
		m.d.log.Log(maillog.Delivered, "id", m.ID, "to", to, "orig_to", origTo, "mailbox", r.Mailbox, "uid", fmt.Sprint(r.UID))
	}
	return nil
}

// dedupeKey names one copy of a message for duplicate suppression: what
// makes a queue's retry a retry (RFC 1047: a sender that loses the reply to
// the end of data sends the message again), the message data exactly as the
// client sent it and the envelope (sender and recipient). Nothing in it is
// a header that a third party could set to suppress someone else's message.
func dedupeKey(data []byte, from, rcpt string) []byte {
	h := sha256.New()
	// Lengths first, so that no two envelopes give the same input.
	var n [8]byte
	for _, s := range []string{from, rcpt} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write(data)
	return h.Sum(nil)
}

// writeReceived writes the Received header (RFC 5321 §4.4, RFC 5322 §3.6.7).
func writeReceived(b *strings.Builder, hostname, id string, rcpts []Recipient, tr Trace) {
	date := tr.Date
	if date.IsZero() {
		date = time.Now()
	}
	fmt.Fprintf(b, "Received: from %s", sanitize(tr.Helo))
	if tr.ClientIP.IsValid() {
		fmt.Fprintf(b, " ([%s])", tr.ClientIP.Unmap())
	}
	fmt.Fprintf(b, "\r\n\tby %s (pail) with %s", hostname, tr.Proto)
	if tr.TLS != "" {
		fmt.Fprintf(b, " (%s)", strings.ReplaceAll(sanitize(strings.ReplaceAll(tr.TLS, " ", "_")), "_", " "))
	}
	fmt.Fprintf(b, " id %s", id)
	// Naming the recipient is only safe when there is exactly one, so that
	// Bcc recipients are not revealed to each other.
	if len(rcpts) == 1 {
		fmt.Fprintf(b, "\r\n\tfor <%s>", sanitize(rcpts[0].Address))
	}
	fmt.Fprintf(b, "; %s\r\n", date.Format(time.RFC1123Z))
}

// sanitize makes client-supplied text safe inside a header: printable
// ASCII only, no parentheses, bounded length.
func sanitize(s string) string {
	const maxLen = 255
	if s == "" {
		return "unknown"
	}
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

// NewID returns a new message id: sortable by time, unique, short enough
// for log lines.
func NewID() string {
	var b [10]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	rand.Read(b[4:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
