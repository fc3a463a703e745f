package delivery

import (
	"context"
	"io"
	"os"
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

// SetTap sets the Tap that local mail is shown to; nil turns it off.
func (d *Deliverer) SetTap(t Tap) { d.tap = t }

// runTap shows the message to the Tap when a local recipient is one it
// wants.
func (m *Message) runTap(ctx context.Context) {
	t := m.d.tap
	if t == nil {
		return
	}
	for _, r := range m.rcpts {
		if len(r.Route.Accounts) > 0 && t.Wants(r.Address) {
			f, err := os.Open(m.sp.Path())
			if err != nil {
				return // the delivery reports a spool it cannot read
			}
			defer f.Close()
			t.Take(ctx, io.NewSectionReader(f, m.returnPath, m.sp.Size()-m.returnPath))
			return
		}
	}
}
