package delivery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"pail/internal/sieve"
	"pail/internal/store"
)

// SieveStore is the part of the store that filtering at delivery reads
// and writes: the active scripts, the mailboxes they file into, and the
// vacation and duplicate-tracking records.
type SieveStore interface {
	ActiveSieveScripts(ctx context.Context, accounts []int64) (map[int64]store.SieveScript, error)
	SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error)
	MailboxByName(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
	CreateMailboxPath(ctx context.Context, accountID int64, name, specialUse string) (store.Mailbox, error)
	VacationDue(ctx context.Context, accountID int64, key string, period time.Duration) (bool, error)
	SieveDuplicateSeen(ctx context.Context, accountID int64, key string) (bool, error)
	RecordSieveDuplicates(ctx context.Context, accountID int64, marks []store.SieveDuplicateMark) error
	// AliasesOf returns the aliases that reach an account's address.
	AliasesOf(ctx context.Context, target string) ([]string, error)
}

// Sieve configures the running of users' Sieve scripts at local
// delivery (SetSieve).
type Sieve struct {
	Store SieveStore
	// Options compile the scripts (their limits).
	Options sieve.Options
	// Separator is the subaddress separator; "" is "+".
	Separator string
	// Log receives why a script failed (the message is then kept).
	Log *slog.Logger

	compiled compiledScripts
}

// maxCompiledScripts bounds the compiled scripts kept between deliveries:
// enough for every active script of a large site to be compiled once
// (compiling 50 rules costs about ten times running them), small enough
// (a script is at most [sieve] max_script_bytes) to bound the memory.
const maxCompiledScripts = 4096

// compiledScripts keeps compiled scripts by the SHA-256 of their text, so
// that a script is compiled once, not once per message (a compiled
// Script is read-only while it runs). When full it starts afresh.
type compiledScripts struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*sieve.Script
}

// compile returns the compiled form of script under opts, compiling it
// only when it is not kept already.
func (c *compiledScripts) compile(script []byte, opts sieve.Options) (*sieve.Script, error) {
	key := sha256.Sum256(script)
	c.mu.Lock()
	sc := c.m[key]
	c.mu.Unlock()
	if sc != nil {
		return sc, nil
	}
	sc, err := sieve.Compile(script, opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCompiledScripts {
		c.m = make(map[[sha256.Size]byte]*sieve.Script)
	}
	c.m[key] = sc
	c.mu.Unlock()
	return sc, nil
}

// SetSieve turns filtering on: every local recipient with an active
// script has it run before its copy is stored. nil turns it off.
func (d *Deliverer) SetSieve(s *Sieve) { d.sieve = s }

// SetVerdict gives the spam verdict to the scripts' spamtest (RFC 5235).
func (m *Message) SetVerdict(v sieve.Verdict) { m.verdict = v }

// RejectError is Commit's answer when every recipient's script refused
// the message (reject or ereject, RFC 5429 §2.1): the SMTP reply is to be
// 550 5.7.1 with Reason; nothing was stored or queued.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return "delivery: rejected by a Sieve script: " + e.Reason }

// Bounds of the work Sieve adds to a delivery, each with its reason.
const (
	// maxSieveHeaderBytes bounds the header section a script reads; the
	// verify package reads as much (a header past it is junk anyway).
	maxSieveHeaderBytes = 256 << 10
	// maxRedirectHops refuses a redirect of a message that has passed
	// this many hosts already (RFC 5321 §6.3: count Received fields; 100
	// is its loop limit, a redirect loop gets there in 25 rounds anyway).
	maxRedirectHops = 25
	// redirectMarker names, in a redirected copy, the account whose
	// script redirected it: a copy that comes back to that account is
	// kept rather than redirected again (RFC 5228 §4.2 asks to guard
	// against loops).
	redirectMarker = "X-Pail-Redirected-By"
)

// sieveMessage is the spooled message as a script sees it: the header
// read once, the body straight from the spool.
type sieveMessage struct {
	r      io.ReaderAt
	start  int64 // where the message starts in the spool (after Return-Path)
	size   int64
	header []byte
}

func openSieveMessage(r io.ReaderAt, start, end int64) *sieveMessage {
	m := &sieveMessage{r: r, start: start, size: end - start}
	br := bufio.NewReader(io.NewSectionReader(r, start, min(m.size, maxSieveHeaderBytes)))
	var h bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		h.Write(line)
		if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	m.header = h.Bytes()
	return m
}

func (m *sieveMessage) Header() []byte { return m.header }
func (m *sieveMessage) Size() int64    { return m.size }
func (m *sieveMessage) Body() (io.Reader, error) {
	off := int64(len(m.header))
	return io.NewSectionReader(m.r, m.start+off, m.size-off), nil
}

// sieveEnv serves one account's run: its mailboxes, duplicates and
// includes.
type sieveEnv struct {
	st      SieveStore
	account int64
}

func (e sieveEnv) MailboxExists(ctx context.Context, name string) (bool, error) {
	_, err := e.st.MailboxByName(ctx, e.account, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (e sieveEnv) Seen(ctx context.Context, key string) (bool, error) {
	return e.st.SieveDuplicateSeen(ctx, e.account, key)
}

// LoadScript serves include (RFC 6609 §3.2): personal scripts are the
// account's; there are no global ones.
func (e sieveEnv) LoadScript(ctx context.Context, global bool, name string) ([]byte, error) {
	if global {
		return nil, fmt.Errorf("global script %q: %w", name, sieve.ErrNoScript)
	}
	sc, err := e.st.SieveScript(ctx, e.account, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("script %q: %w", name, sieve.ErrNoScript)
	}
	return sc.Text, err
}

// sieveOutcome is what one account's script decided.
type sieveOutcome struct {
	deliveries []store.Delivery // copies to store (none: discarded, redirected or rejected)
	redirects  []string
	vacation   *sieve.Vacation
	reject     *sieve.Reject
	duplicates []sieve.DuplicateMark
}

// runSieve runs the account's script and turns its actions into
// deliveries and the rest. keep is the copy delivery would make without
// a script (INBOX, or Junk after the spam verdict); the implicit keep and
// keep make that copy (RFC 5228 §4.3: the default location). Any failure
// gives keep alone (§2.10.6), logged with why.
func (m *Message) runSieve(ctx context.Context, msg *sieveMessage, script []byte, t Target, keep store.Delivery) sieveOutcome {
	sv := m.d.sieve
	fail := func(why string, err error) sieveOutcome {
		sv.Log.Warn("sieve script failed; message kept", "id", m.ID, "to", t.Address, "why", why, "err", err)
		return sieveOutcome{deliveries: []store.Delivery{keep}}
	}
	sc, err := sv.compiled.compile(script, sv.Options)
	if err != nil {
		return fail("compile", err)
	}
	env := sieveEnv{st: sv.Store, account: t.ID}
	// RFC 5230 §4.5: the user's own addresses are the account's, the
	// address the mail came in by, and the aliases that reach the
	// account; vacation answers none of them and only mail sent to one.
	users := []string{t.Address}
	if t.Rcpt != "" && !strings.EqualFold(t.Rcpt, t.Address) {
		users = append(users, t.Rcpt)
	}
	if sc.Requires("vacation") {
		aliases, err := sv.Store.AliasesOf(ctx, t.Address)
		if err != nil {
			return fail("aliases", err)
		}
		users = append(users, aliases...)
	}
	res, err := sc.Run(ctx, sieve.Input{
		Message:       msg,
		Envelope:      sieve.Envelope{From: m.from, To: t.Rcpt},
		Verdict:       m.verdict,
		UserAddresses: users,
		Separator:     sv.Separator,
		Mailboxes:     env,
		Duplicates:    env,
		Scripts:       env,
	})
	if err != nil {
		return fail("run", err)
	}
	var out sieveOutcome
	for _, a := range res.Actions {
		switch a := a.(type) {
		case sieve.Keep:
			d := keep
			d.Flags = a.Flags
			out.deliveries = append(out.deliveries, d)
		case sieve.FileInto:
			d := store.Delivery{AccountID: t.ID, Mailbox: a.Mailbox, Flags: a.Flags}
			if strings.EqualFold(a.Mailbox, store.Inbox) {
				d.Mailbox = ""
			} else if _, err := sv.Store.MailboxByName(ctx, t.ID, a.Mailbox); errors.Is(err, store.ErrNotFound) {
				if !a.Create {
					// RFC 5228 §4.1 leaves a missing mailbox to the
					// implementation; RFC 5490 §3.2 files into it only
					// with :create. Without, the copy goes to INBOX.
					sv.Log.Warn("sieve fileinto: no such mailbox; filed in INBOX", "id", m.ID, "to", t.Address, "mailbox", a.Mailbox)
					d.Mailbox = ""
				} else if _, err := sv.Store.CreateMailboxPath(ctx, t.ID, a.Mailbox, ""); err != nil && !errors.Is(err, store.ErrExists) {
					sv.Log.Warn("sieve fileinto :create failed; filed in INBOX", "id", m.ID, "to", t.Address, "mailbox", a.Mailbox, "err", err)
					d.Mailbox = ""
				}
			} else if err != nil {
				return fail("mailbox lookup", err)
			}
			out.deliveries = append(out.deliveries, d)
		case sieve.Redirect:
			out.redirects = append(out.redirects, a.Address)
		case sieve.Discard:
		case sieve.Reject:
			out.reject = &a
		case sieve.Vacation:
			out.vacation = &a
		}
	}
	out.duplicates = res.Duplicates
	if len(out.redirects) > 0 {
		if why := redirectLoop(msg.Header(), t.Address); why != "" {
			sv.Log.Warn("sieve redirect refused; message kept", "id", m.ID, "to", t.Address, "why", why)
			out.redirects = nil
			if len(out.deliveries) == 0 {
				out.deliveries = []store.Delivery{keep}
			}
		}
	}
	return out
}

// redirectLoop says why the message must not be redirected again, or "":
// too many hops, or a copy this account already redirected.
func redirectLoop(header []byte, account string) string {
	hops := 0
	for _, line := range bytes.Split(header, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			continue
		}
		switch {
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Received")):
			hops++
		case bytes.EqualFold(bytes.TrimSpace(name), []byte(redirectMarker)) &&
			strings.EqualFold(strings.TrimSpace(string(value)), account):
			return "already redirected by " + account
		}
	}
	if hops > maxRedirectHops {
		return fmt.Sprintf("%d Received fields (more than %d)", hops, maxRedirectHops)
	}
	return ""
}
