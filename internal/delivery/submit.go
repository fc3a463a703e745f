package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"

	"pail/internal/address"
	"pail/internal/store"
)

// Errors from Submit.
var (
	// ErrSenderNotOwned: the envelope sender is not an address of the
	// account (RFC 6409 §6.1).
	ErrSenderNotOwned = errors.New("delivery: sender address not owned by the account")
	// ErrNoRecipients: nothing to deliver to.
	ErrNoRecipients = errors.New("delivery: no recipients")
)

// RecipientError says which recipient could not be routed.
type RecipientError struct {
	Rcpt string
	Err  error
}

func (e *RecipientError) Error() string { return fmt.Sprintf("recipient %s: %v", e.Rcpt, e.Err) }
func (e *RecipientError) Unwrap() error { return e.Err }

// Submit sends a message from an authenticated account, for callers that
// have the whole message at once (webmail, `pail sendmail`). It is the same
// path as SMTP submission: the sender must be the account's (MaySend), local
// recipients are routed through aliases, others go to the outgoing queue,
// every From and Sender address must be the account's too
// (ErrAuthorNotOwned), missing Date and Message-ID are added, and the
// message is durable when Submit returns its id.
func (d *Deliverer) Submit(ctx context.Context, r *Router, acct store.Account, from string, rcpts []string, content io.Reader, tr Trace) (string, error) {
	// As for SMTP: "bob@hill.com." is kept and queued as bob@hill.com.
	from = address.TrimDomainDot(from)
	ok, err := r.MaySend(ctx, acct, from)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrSenderNotOwned
	}
	if len(rcpts) == 0 {
		return "", ErrNoRecipients
	}
	var routed []Recipient
	for _, rcpt := range rcpts {
		rcpt = address.TrimDomainDot(rcpt)
		route, err := r.Resolve(ctx, rcpt)
		if errors.Is(err, ErrNotLocal) {
			route, err = Route{Remote: []string{rcpt}}, nil
		}
		if err != nil {
			return "", &RecipientError{Rcpt: rcpt, Err: err}
		}
		routed = append(routed, Recipient{Address: rcpt, Route: route})
	}
	msg, err := d.NewMessage(from, routed, tr)
	if err != nil {
		return "", err
	}
	fixer := NewHeaderFixer(msg, d.hostname, msg.ID)
	// The header From is held to the envelope sender's rule, as on SMTP
	// submission.
	fixer.MayAuthor = func(a string) (bool, error) { return r.MaySend(ctx, acct, a) }
	if _, err := io.Copy(fixer, content); err != nil {
		msg.Abort()
		return "", fmt.Errorf("delivery: read message: %w", err)
	}
	if err := fixer.Close(); err != nil {
		msg.Abort()
		return "", err
	}
	if err := msg.Commit(ctx); err != nil {
		return "", err
	}
	return msg.ID, nil
}
