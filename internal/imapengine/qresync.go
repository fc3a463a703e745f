package imapengine

import (
	"context"

	"pail/internal/imapwire"
)

// ResyncSession is an optional interface of a Session that offers QRESYNC
// (RFC 7162 §3.2). The engine calls it only after the client enabled
// QRESYNC.
type ResyncSession interface {
	// Resync writes, after a successful Select, what changed in the
	// mailbox since the client's mod-sequence: VANISHED (EARLIER) for
	// the messages expunged, then FETCH (UID FLAGS MODSEQ) for those whose
	// flags changed or that are new (RFC 7162 §3.2.5.1). With a
	// UIDVALIDITY other than the mailbox's it writes nothing.
	Resync(ctx context.Context, q *imapwire.QResyncParams) error
	// HighestModSeq is the mod-sequence up to which the client has been
	// told of every change of the selected mailbox (for the tagged OK
	// [HIGHESTMODSEQ] of EXPUNGE and MOVE, RFC 7162 §3.2.7, §3.2.9).
	HighestModSeq() uint64
}

// QResync reports whether the client enabled QRESYNC (RFC 7162 §3.2.3):
// expunges are then announced with VANISHED (§3.2.10), and UID FETCH
// takes the VANISHED modifier (§3.2.6).
func (c *Conn) QResync() bool { return c.qresync }

// resyncSession returns the Session as a ResyncSession when it offers
// QRESYNC.
func (c *Conn) resyncSession() (ResyncSession, bool) {
	rs, ok := c.sess.(ResyncSession)
	return rs, ok && c.offers("QRESYNC")
}

// checkQResync checks what the grammar leaves to the server in SELECT's
// QRESYNC parameter (RFC 7162 §7): "*" is not allowed in known-uids nor
// in either set of seq-match-data, and the two sets of seq-match-data
// name as many messages each (§3.2.5.2: they are pairs).
func checkQResync(q *imapwire.QResyncParams) error {
	for _, s := range []*imapwire.SeqSet{q.KnownUIDs, q.KnownSeqs, q.KnownSeqUIDs} {
		if s != nil && s.Dynamic() {
			return Bad("CLIENTBUG", `"*" is not allowed in QRESYNC's sets`)
		}
	}
	if q.KnownSeqs != nil && setSize(*q.KnownSeqs) != setSize(*q.KnownSeqUIDs) {
		return Bad("CLIENTBUG", "QRESYNC's message numbers and UIDs do not pair up")
	}
	return nil
}

// setSize is the number of numbers in a set without "*", repeats counted.
func setSize(s imapwire.SeqSet) uint64 {
	var n uint64
	for _, r := range s.Ranges {
		a, b := r.Start, r.Stop
		if a > b {
			a, b = b, a
		}
		n += uint64(b-a) + 1
	}
	return n
}
