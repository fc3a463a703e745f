package delivery

import (
	"context"
	"io"
)

// Tap looks at local mail meant for it before it is stored: the TLS
// reports (RFC 8460) that arrive for postmaster@ a local domain, say.
// Wants is asked for every local recipient and must only look at the
// address; Take reads the message (trace headers first) and must not
// fail the delivery: the message is stored whatever it finds.
type Tap interface {
	Wants(rcpt string) bool
	Take(ctx context.Context, msg io.Reader) int
}

// SetTap sets the one Tap that local mail is shown to; nil turns taps
// off.
func (d *Deliverer) SetTap(t Tap) {
	d.taps = nil
	if t != nil {
		d.taps = []Tap{t}
	}
}

// AddTap adds a Tap that local mail is shown to, after those set before
// (the TLS reports' and the DMARC reports' both look at postmaster's
// mail).
func (d *Deliverer) AddTap(t Tap) { d.taps = append(d.taps, t) }

// runTap shows the message to each Tap that wants one of its local
// recipients, each from the start of the spool.
func (m *Message) runTap(ctx context.Context) {
	for _, t := range m.d.taps {
		for _, r := range m.rcpts {
			if len(r.Route.Accounts) > 0 && t.Wants(r.Address) {
				m.showTap(ctx, t)
				break
			}
		}
	}
}

func (m *Message) showTap(ctx context.Context, t Tap) {
	t.Take(ctx, m.queued())
}
