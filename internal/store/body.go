package store

import (
	"context"
	"fmt"
	"io"
)

// Body is one stored message's bytes exactly as stored (CRLF line
// endings), as protocols read them: random access and a size, whatever
// keeps the bytes (a file in this store; a row in a database). Wrap it
// in io.NewSectionReader(b, 0, b.Size()) for a stream. ReadAt never
// returns bytes past Size, and an error (not a short message) if the
// stored bytes end before it.
type Body interface {
	io.ReaderAt
	// Size is the message's length in octets.
	Size() int64
	// Close releases the body; closing twice is harmless.
	Close() error
}

// BodyWriter is a message being received, handed out by the store
// (NewBody) so that the bytes are written once, where the store keeps
// bodies. Its holder writes the message (Write, or io.Copy into it), may
// read back what it wrote (ReadAt: inbound checks, Sieve, DKIM, the
// queued copy), then gives it to DeliverBody, which makes it durable in
// mailboxes; Discard drops it. An io.Copy into it from an
// io.SectionReader of another BodyWriter of the same store may be done
// without passing the bytes through user space.
type BodyWriter interface {
	io.Writer
	io.ReaderAt
	// Size is the number of octets written so far.
	Size() int64
	// Retain makes DeliverBody leave the bytes readable, for a holder
	// that reads them after delivery (the outgoing queue takes the remote
	// copies after the local ones are stored); that holder must Discard.
	Retain()
	// Discard drops the bytes; it is safe to call after DeliverBody and
	// more than once.
	Discard()
}

// NewBody starts a message being received: a spool file in the data
// directory, linked into mailboxes by DeliverBody or DeliverBodies.
func (s *Store) NewBody() (BodyWriter, error) {
	sp, err := s.newSpool()
	if err != nil {
		return nil, err
	}
	return sp, nil
}

// DeliverBody stores the message written to w, which must come from this
// store's NewBody, in every mailbox of ds in one transaction, all or
// nothing: when it returns nil, the bytes and their rows are on disk
// (fsynced) for every Delivery (or the Delivery was a duplicate); when it
// returns an error, nothing of the message is kept for any of them, and
// the client may be told to try again. w is consumed unless Retain was
// called.
func (s *Store) DeliverBody(ctx context.Context, w BodyWriter, ds []Delivery) ([]Delivered, error) {
	out, err := s.DeliverBodies(ctx, []BodyBatch{{Body: w, Deliveries: ds}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// BodyBatch is one message of DeliverBodies and the mailboxes it goes
// into.
type BodyBatch struct {
	Body       BodyWriter // from this store's NewBody
	Deliveries []Delivery
}

// DeliverBodies stores several messages in one transaction, all or
// nothing, as DeliverBody does for one (IMAP MULTIAPPEND, RFC 3502
// §6.3.11: when one message cannot be appended, none is kept; an import
// commits a chunk at a time). out[i] is the outcome of bs[i]; within one
// mailbox the messages get UIDs in the order of bs. Every body is
// consumed unless Retain was called on it, except when one of them is
// not from this store's NewBody: then nothing is stored or consumed, and
// the bodies stay the caller's to Discard.
func (s *Store) DeliverBodies(ctx context.Context, bs []BodyBatch) ([][]Delivered, error) {
	sps := make([]batch, len(bs))
	for i, b := range bs {
		sp, ok := b.Body.(*fileSpool)
		if !ok {
			return nil, fmt.Errorf("store: deliver: %T is not a body of this store", b.Body)
		}
		sps[i] = batch{sp: sp, ds: b.Deliveries}
	}
	return s.deliverBatch(ctx, sps)
}
