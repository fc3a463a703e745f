package imapsort

import (
	"cmp"
	"slices"
	"time"
)

// Message is what sorting and threading know of one message, taken from
// the summary kept at delivery.
type Message struct {
	// Num names the message in the answer: its sequence number or its
	// UID. Either orders messages as the mailbox does, which is the last
	// tie-break of every order (RFC 5256 §2.2, §3).
	Num uint32
	// Arrival is the internal date (ARRIVAL, and the sent date when Date
	// is zero).
	Arrival time.Time
	// Date is the Date header field's date and time, zero when it is
	// missing or does not parse (RFC 5256 §2.2).
	Date time.Time
	// Size is RFC822.SIZE.
	Size int64
	// Subject is the Subject field, decoded from RFC 2047.
	Subject string
	// From, To and Cc are the addr-mailbox of the first address of
	// each field as the ENVELOPE has it (RFC 5256 §3), "" when none.
	From, To, Cc string
	// DisplayFrom and DisplayTo are RFC 5957 §3's keys: the display name
	// of the first From or To address, decoded, or its
	// addr-mailbox@addr-host when it has none.
	DisplayFrom, DisplayTo string
	// MessageID, References and InReplyTo are the message identifiers
	// without angle brackets (REFERENCES threading, RFC 5256 §3).
	MessageID  string
	References []string
	InReplyTo  []string
}

// Sent is the message's sent date (RFC 5256 §2.2): its Date field, or its
// internal date when the field is missing or does not parse.
func (m *Message) Sent() time.Time {
	if m.Date.IsZero() {
		return m.Arrival
	}
	return m.Date
}

// Key is a SORT key (RFC 5256 §3, RFC 5957 §3).
type Key string

// The sort keys.
const (
	Arrival     Key = "ARRIVAL"     // internal date and time
	Cc          Key = "CC"          // addr-mailbox of the first Cc address
	Date        Key = "DATE"        // sent date and time (§2.2)
	From        Key = "FROM"        // addr-mailbox of the first From address
	Size        Key = "SIZE"        // RFC822.SIZE
	Subject     Key = "SUBJECT"     // base subject (§2.1)
	To          Key = "TO"          // addr-mailbox of the first To address
	DisplayFrom Key = "DISPLAYFROM" // RFC 5957 §3
	DisplayTo   Key = "DISPLAYTO"   // RFC 5957 §3
)

// Criterion is one sort key and whether its order is reversed (REVERSE).
type Criterion struct {
	Key     Key
	Reverse bool
}

// sortKey is one message's values for the criteria, computed once.
type sortKey struct {
	num   uint32
	strs  []string // folded strings, one per string criterion
	times []time.Time
	sizes []int64
}

// Sort returns the Nums of msgs in the order of the criteria (RFC 5256
// §3): by the first criterion, messages it finds equal by the next, and
// so on; messages equal by all of them in mailbox order. Strings are
// compared with i;unicode-casemap (Fold). msgs is not changed.
func Sort(msgs []Message, criteria []Criterion) []uint32 {
	keys := make([]sortKey, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		k := sortKey{num: m.Num}
		for _, c := range criteria {
			switch c.Key {
			case Arrival:
				k.times = append(k.times, m.Arrival)
			case Date:
				k.times = append(k.times, m.Sent())
			case Size:
				k.sizes = append(k.sizes, m.Size)
			case Subject:
				base, _ := BaseSubject(m.Subject)
				k.strs = append(k.strs, Fold(base))
			case From:
				k.strs = append(k.strs, Fold(m.From))
			case To:
				k.strs = append(k.strs, Fold(m.To))
			case Cc:
				k.strs = append(k.strs, Fold(m.Cc))
			case DisplayFrom:
				k.strs = append(k.strs, Fold(m.DisplayFrom))
			case DisplayTo:
				k.strs = append(k.strs, Fold(m.DisplayTo))
			}
		}
		keys[i] = k
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		var si, ti, zi int
		for _, c := range criteria {
			var r int
			switch c.Key {
			case Arrival, Date:
				r = a.times[ti].Compare(b.times[ti])
				ti++
			case Size:
				r = cmp.Compare(a.sizes[zi], b.sizes[zi])
				zi++
			default:
				r = cmp.Compare(a.strs[si], b.strs[si])
				si++
			}
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(a.num, b.num)
	})
	out := make([]uint32, len(keys))
	for i, k := range keys {
		out[i] = k.num
	}
	return out
}
