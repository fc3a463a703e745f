package verify

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// Early holds the checks that need only the envelope (SPF, RFC 7208
// §2.4, and iprev, RFC 8601 §3), started when the first recipient is
// accepted so that their lookups overlap the rest of the transaction
// instead of delaying the reply to DATA. Check uses them when the
// Message's envelope is the one they were started for.
type Early struct {
	ip             netip.Addr
	helo, mailFrom string
	cancel         context.CancelFunc
	done           chan struct{}
	spf            SPFResult
	iprev          IPRevResult
}

// Start begins the envelope checks of a transaction from ip that said
// helo and MAIL FROM mailFrom, within the lookup budget counted from now.
// Stop must be called when the transaction ends, delivered or not. A nil
// Checker starts nothing and returns nil.
func (c *Checker) Start(ctx context.Context, ip netip.Addr, helo, mailFrom string) *Early {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.budget())
	e := &Early{ip: ip, helo: helo, mailFrom: mailFrom, cancel: cancel, done: make(chan struct{})}
	m := &Message{ClientIP: ip, Helo: helo, MailFrom: mailFrom}
	go func() {
		defer close(e.done)
		var wg sync.WaitGroup
		wg.Go(func() { e.spf = c.checkSPF(ctx, m) })
		wg.Go(func() { e.iprev = c.checkIPRev(ctx, ip) })
		wg.Wait()
	}()
	return e
}

// Stop abandons the lookups still running; the results already found
// stay readable. Stop on nil does nothing.
func (e *Early) Stop() {
	if e != nil {
		e.cancel()
	}
}

// results waits for the checks, at most until ctx ends, and returns them
// when they were started for m's envelope.
func (e *Early) results(ctx context.Context, m *Message) (SPFResult, IPRevResult, bool) {
	if e == nil || e.ip != m.ClientIP || e.helo != m.Helo || e.mailFrom != m.MailFrom {
		return SPFResult{}, IPRevResult{}, false
	}
	select {
	case <-e.done:
		return e.spf, e.iprev, true
	case <-ctx.Done():
		return SPFResult{}, IPRevResult{}, false
	}
}

// budget is the Checker's lookup budget for one message.
func (c *Checker) budget() time.Duration {
	if c.Budget > 0 {
		return c.Budget
	}
	return DefaultBudget
}
