package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Inject sends a message that pail itself composed (a TLS report, say)
// as `pail sendmail` does: trusted, so that its queued copy is DKIM-signed
// for its From's local domain; local recipients are delivered at once,
// the others queued. msg must be complete (Date, Message-ID). It returns
// when the message is durable.
func (d *Deliverer) Inject(ctx context.Context, r *Router, from string, rcpts []string, msg []byte) error {
	var routed []Recipient
	for _, rcpt := range rcpts {
		route, err := r.Resolve(ctx, rcpt)
		if errors.Is(err, ErrNotLocal) {
			route, err = Route{Remote: []string{rcpt}}, nil
		}
		if err != nil {
			return &RecipientError{Rcpt: rcpt, Err: err}
		}
		routed = append(routed, Recipient{Address: rcpt, Route: route})
	}
	if len(routed) == 0 {
		return ErrNoRecipients
	}
	m, err := d.NewMessage(from, routed, Trace{Helo: "local", Proto: "LOCAL", Date: time.Now()})
	if err != nil {
		return err
	}
	if _, err := m.Write(msg); err != nil {
		m.Abort()
		return fmt.Errorf("delivery: inject: %w", err)
	}
	return m.Commit(ctx)
}
